import numpy as np
import pytest

from services.common.errors import InvalidInput
from services.monitor.history import History, Ring


def filled(points: dict[str, list[float]], interval=1.0, retention=100.0) -> History:
    history = History(retention, interval)
    for name, values in points.items():
        for i, value in enumerate(values):
            history.record(1000.0 + i * interval, {name: (value, "percent")})
    return history


def test_a_ring_keeps_only_its_newest_points_oldest_first():
    ring = Ring(3)
    for t in range(5):
        ring.append(float(t), t * 10.0)
    times, values = ring.since(0)
    assert times.tolist() == [2, 3, 4] and values.tolist() == [20, 30, 40]
    assert ring.since(3.5)[1].tolist() == [40]


def test_retention_bounds_each_metric_to_retention_over_interval_points():
    history = filled({"cpu.percent": list(range(50))}, interval=1.0, retention=10.0)
    _, values = history.values("cpu.percent", 0)
    assert len(values) == 11 and values[-1] == 49


def test_series_average_each_step_aligned_to_multiples_of_the_step():
    history = filled({"cpu.percent": [1, 2, 3, 4, 5, 6, 7]})  # times 1000..1006
    series = history.series("cpu.percent", start=1001, step=4)
    # Steps start at 1000 and 1004: [2, 3, 4] and [5, 6, 7].
    assert series.points == [(1000.0, 3.0), (1004.0, 6.0)]
    assert series.unit == "percent"


def test_a_series_with_no_points_in_the_window_is_empty():
    history = filled({"cpu.percent": [1, 2]})
    assert history.series("cpu.percent", start=5000, step=1).points == []


def test_a_summary_gives_min_avg_percentiles_and_max_over_the_window():
    values = list(np.random.default_rng(7).uniform(0, 100, 60))
    history = filled({"cpu.percent": values})
    summary = history.summary("cpu.percent", start=1010)
    window = np.array(values[10:])
    assert summary.samples == 50
    assert (summary.min, summary.max) == (window.min(), window.max())
    assert summary.avg == pytest.approx(window.mean())
    assert summary.p50 == pytest.approx(np.percentile(window, 50))
    assert summary.p95 == pytest.approx(np.percentile(window, 95))
    assert history.summary("cpu.percent", start=9999).samples == 0


def test_select_takes_names_and_globs_and_everything_when_empty():
    history = filled({"cpu.percent": [1], "cpu.0.percent": [1], "memory.percent": [1]})
    assert history.select([]) == ["cpu.0.percent", "cpu.percent", "memory.percent"]
    assert history.select(["cpu.*.percent", "memory.percent"]) == [
        "cpu.0.percent",
        "memory.percent",
    ]


def test_an_unknown_metric_is_invalid_input_naming_its_position():
    history = filled({"cpu.percent": [1]})
    with pytest.raises(InvalidInput) as caught:
        history.select(["cpu.percent", "gpu.percent", "disk.*.nothing"])
    assert [v.field for v in caught.value.violations] == ["metrics[1]", "metrics[2]"]
    assert "unknown metric 'gpu.percent'" in str(caught.value)

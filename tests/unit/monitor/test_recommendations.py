import pytest

from services.common.advice import CRITICAL, INFO
from services.monitor.alerts import AlertBook, Threshold
from services.monitor.history import History
from services.monitor.recommendations import recommend

ALERTS = AlertBook(
    [
        Threshold("cpu.percent", 80, 95),
        Threshold("memory.percent", 85, 95),
        Threshold("disk.*.percent", 90, 95),
    ],
    hold_seconds=0,
)
GIB = 1024**3


def history_of(minutes: int, **series) -> tuple[History, float]:
    """One point a second for `minutes`; each series is a function of the second."""
    history = History(retention_seconds=3600, interval_seconds=1)
    seconds = minutes * 60
    for i in range(seconds):
        history.record(
            float(i),
            {
                name: (float(fn(i)), unit)
                for name, (fn, unit) in (
                    {
                        "cpu.percent": (lambda i: 20, "percent"),
                        "memory.percent": (lambda i: 40, "percent"),
                        "disk./.percent": (lambda i: 30, "percent"),
                    }
                    | series
                ).items()
            },
        )
    return history, float(seconds)


def figures(recommendation) -> dict[str, float]:
    return {f.name: f.value for f in recommendation.figures}


def test_too_little_history_says_so_with_the_sample_count():
    history = History(retention_seconds=3600, interval_seconds=1)
    history.record(0, {"cpu.percent": (50, "percent")})
    [only] = recommend(history, ALERTS, 4, 1, 3600)
    assert only.title.startswith("Too little history") and figures(only) == {"samples": 1}


def test_a_quiet_host_needs_no_change_and_shows_what_was_checked():
    history, now = history_of(5)
    [only] = recommend(history, ALERTS, 4, now, 3600)
    assert only.title == "No change needed" and only.severity == INFO
    assert figures(only) == {
        "cpu.percent.p95": 20,
        "memory.percent.p95": 40,
        "disk./.percent.p95": 30,
    }


def test_sustained_high_cpu_recommends_more_cpu_naming_the_busiest_service():
    history, now = history_of(
        5,
        **{
            "cpu.percent": (lambda i: 97 if i % 10 else 60, "percent"),
            "process.embeddings.cpu": (lambda i: 150, "percent"),
            "process.classifier.cpu": (lambda i: 20, "percent"),
        },
    )
    first = recommend(history, ALERTS, 2, now, 3600)[0]
    assert first.severity == CRITICAL and first.title.startswith("Add CPU")
    assert figures(first)["cpu.percent.p95"] == 97
    assert figures(first)["process.embeddings.cpu.avg"] == 150
    assert "embeddings" in first.detail


def test_a_disk_filling_within_hours_is_critical_with_its_rate_and_time_to_full():
    history, now = history_of(
        10,
        **{
            "disk./.used": (lambda i: 50 * GIB + i * 1_000_000, "bytes"),
            "disk./.free": (lambda i: 10 * GIB - i * 1_000_000, "bytes"),
        },
    )
    [first] = [r for r in recommend(history, ALERTS, 4, now, 3600) if "/" in r.title]
    assert first.severity == CRITICAL and first.title == "Free space on /"
    found = figures(first)
    assert found["disk./.growth"] == pytest.approx(1_000_000)
    free_now = 10 * GIB - 599 * 1_000_000
    assert found["disk./.hours_to_full"] == pytest.approx(free_now / 1_000_000 / 3600, rel=1e-3)


def test_one_saturated_core_on_an_idle_host_points_at_a_single_threaded_bottleneck():
    history, now = history_of(
        5,
        **{
            "cpu.0.percent": (lambda i: 100, "percent"),
            "cpu.1.percent": (lambda i: 2, "percent"),
            "cpu.percent": (lambda i: 51 if i % 2 else 45, "percent"),
        },
    )
    [hot] = [r for r in recommend(history, ALERTS, 2, now, 3600) if "core" in r.title]
    assert figures(hot)["cpu.0.percent.avg"] == 100


def test_a_service_whose_memory_keeps_growing_is_flagged():
    history, now = history_of(
        20, **{"process.orchestrator.rss": (lambda i: 200 * 2**20 + i * 2**18, "bytes")}
    )
    [leak] = [r for r in recommend(history, ALERTS, 4, now, 3600) if "growing" in r.title]
    assert leak.title == "orchestrator keeps growing in memory"
    assert (
        figures(leak)["process.orchestrator.rss.late"]
        > figures(leak)["process.orchestrator.rss.early"]
    )


def test_recommendations_come_most_severe_first():
    history, now = history_of(
        5,
        **{
            "memory.percent": (lambda i: 88, "percent"),
            "disk./.percent": (lambda i: 96, "percent"),
        },
    )
    found = recommend(history, ALERTS, 4, now, 3600)
    assert [r.severity for r in found] == sorted((r.severity for r in found), reverse=True)
    assert found[0].title == "Free space on /" and found[1].title == "Memory is nearly full"

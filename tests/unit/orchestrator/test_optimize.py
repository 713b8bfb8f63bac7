import pytest

from services.common.advice import CRITICAL, INFO, WARNING, percentile
from services.orchestrator.breaker import State
from services.orchestrator.optimize import Snapshot, recommend
from services.orchestrator.stats import CallStats, ServiceFigures


def snapshot(**changes) -> Snapshot:
    values = dict(
        services={"classifier": ServiceFigures(100, 0, 20.0, 40.0, 60.0)},
        breakers={"classifier": State.CLOSED},
        budgets={"classifier": 30.0},
        queue_waits_ms={"normal": (100, 5.0)},
        workers=8,
        cache_lookups=500,
        cache_hit_rate=0.1,
        l1_entries=10,
        l1_size=4096,
        redis_configured=False,
        redis_note="",
    )
    values.update(changes)
    return Snapshot(**values)


def test_healthy_figures_recommend_nothing_and_show_the_numbers():
    [advice] = recommend(snapshot())
    assert advice.severity == INFO and advice.title == "Nothing to change"
    assert {f.name for f in advice.figures} >= {"cache_hit_rate", "classifier.p99"}


def test_an_open_breaker_and_a_high_error_rate_come_first():
    advice = recommend(
        snapshot(
            services={"classifier": ServiceFigures(100, 30, 20.0, 40.0, 60.0)},
            breakers={"classifier": State.OPEN},
        )
    )
    assert [a.severity for a in advice[:2]] == [CRITICAL, CRITICAL]
    assert "30%" in advice[1].title
    assert advice[1].figures[0].value == 0.3


def test_slow_services_and_long_queue_waits_are_warnings_with_their_figures():
    advice = recommend(
        snapshot(
            services={"classifier": ServiceFigures(100, 0, 9000.0, 16000.0, 20000.0)},
            queue_waits_ms={"low": (50, 2500.0)},
        )
    )
    titles = {a.title: a for a in advice}
    slow = titles["classifier is slow against the workflow budget"]
    assert slow.severity == WARNING
    assert {f.name: f.value for f in slow.figures}["classifier.p99"] == 20000.0
    assert "Workflows of low priority wait in the queue" in titles


def test_a_full_l1_and_an_unavailable_redis_are_reported():
    advice = recommend(
        snapshot(l1_entries=4096, redis_configured=True, redis_note="redis unavailable, L1 only")
    )
    assert {a.title for a in advice} == {
        "The in-process cache is full",
        "The shared cache (Redis) is unavailable",
    }


def test_call_stats_give_percentiles_and_error_counts():
    stats = CallStats()
    for ms in range(1, 101):
        stats.record("embeddings", ms / 1000, failed=ms > 95)
    figures = stats.figures()["embeddings"]
    assert (figures.calls, figures.errors) == (100, 5)
    # Interpolated between the closest ranks, as numpy and histogram_quantile do.
    assert (figures.p50_ms, figures.p99_ms) == pytest.approx((50.5, 99.01))
    assert percentile([], 50) == 0.0

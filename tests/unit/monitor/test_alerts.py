import pytest

from services.monitor.alerts import AlertBook, Level, Threshold

CPU = Threshold("cpu.percent", warning=80, critical=95)


def feed(book: AlertBook, points, metric="cpu.percent"):
    """Observes (time, value) points; returns every change, in order."""
    changes = []
    for time, value in points:
        changes += book.observe(time, {metric: (value, "percent")})
    return changes


def test_an_alert_fires_only_after_the_value_holds_above_the_threshold():
    book = AlertBook([CPU], hold_seconds=30)
    assert feed(book, [(0, 85), (10, 90), (29, 85)]) == []
    [fired] = feed(book, [(30, 82)])
    assert (fired.level, fired.threshold, fired.fired_at, fired.resolved_at) == (
        Level.WARNING,
        80,
        30,
        None,
    )
    assert fired.value == 90  # the worst value seen
    assert book.active == [fired]


def test_a_spike_shorter_than_the_hold_never_fires():
    book = AlertBook([CPU], hold_seconds=30)
    assert feed(book, [(0, 99), (10, 99), (20, 50), (40, 99), (60, 40)]) == []
    assert book.active == [] and list(book.resolved) == []


def test_a_firing_alert_resolves_only_after_holding_below_and_keeps_its_timestamps():
    book = AlertBook([CPU], hold_seconds=10)
    feed(book, [(0, 90), (10, 90)])
    assert feed(book, [(15, 50), (20, 90), (25, 50), (34, 50)]) == []  # the dip at 15 was too short
    [resolved] = feed(book, [(35, 50)])
    assert (resolved.fired_at, resolved.resolved_at) == (10, 35)
    assert book.active == []
    assert list(book.resolved) == [resolved]
    assert "was at or above the warning threshold of 80" in resolved.message


def test_a_warning_escalates_to_critical_and_back_as_one_alert():
    book = AlertBook([CPU], hold_seconds=5)
    [warning] = feed(book, [(0, 85), (5, 85)])
    [critical] = feed(book, [(6, 97), (11, 97)])
    assert critical.level == Level.CRITICAL and critical.threshold == 95
    assert critical.fired_at == warning.fired_at == 5
    [back] = feed(book, [(12, 85), (17, 85)])
    assert back.level == Level.WARNING and back.value == 97
    [resolved] = feed(book, [(18, 10), (23, 10)])
    assert resolved.resolved_at == 23 and resolved.fired_at == 5


def test_a_jump_straight_past_critical_fires_critical():
    book = AlertBook([CPU], hold_seconds=0)
    [fired] = feed(book, [(0, 99)])
    assert fired.level == Level.CRITICAL and fired.fired_at == 0


def test_a_glob_threshold_tracks_each_matching_metric_on_its_own():
    book = AlertBook([Threshold("disk.*.percent", 90, 95)], hold_seconds=0)
    changes = book.observe(
        0,
        {
            "disk./.percent": (91.0, "percent"),
            "disk./data.percent": (10.0, "percent"),
            "disk./.used": (1e12, "bytes"),
        },
    )
    assert [a.metric for a in changes] == ["disk./.percent"]
    assert book.threshold_for("disk./data.percent") is not None
    assert book.threshold_for("memory.percent") is None


def test_active_alerts_list_the_most_severe_first_and_history_the_newest_first():
    book = AlertBook([CPU, Threshold("memory.percent", 85, 95)], hold_seconds=0, history=2)
    book.observe(0, {"cpu.percent": (85.0, "percent"), "memory.percent": (99.0, "percent")})
    assert [a.metric for a in book.active] == ["memory.percent", "cpu.percent"]
    for time in (1, 3, 5):
        book.observe(time, {"cpu.percent": (10.0, "percent")})
        book.observe(time + 1, {"cpu.percent": (90.0, "percent")})
    assert [a.resolved_at for a in book.resolved] == [5, 3]  # bounded to the last two


def test_a_warning_above_its_critical_level_is_refused():
    with pytest.raises(ValueError, match="warning 96 is above critical 95"):
        Threshold("cpu.percent", 96, 95)


UP = Threshold("api.*.up", warning=0, critical=0, below=True)


def test_a_service_down_for_the_hold_fires_critical_and_resolves_once_back():
    book = AlertBook([UP], hold_seconds=10)
    metric = "api.classifier.up"
    assert feed(book, [(0, 1), (5, 0), (14, 0)], metric) == []
    [fired] = feed(book, [(15, 0)], metric)
    assert (fired.level, fired.value, fired.fired_at) == (Level.CRITICAL, 0, 15)
    assert "api.classifier.up is at or below the critical threshold of 0" in fired.message
    assert feed(book, [(20, 1), (29, 1)], metric) == []
    [resolved] = feed(book, [(30, 1)], metric)
    assert resolved.resolved_at == 30 and book.active == []


def test_a_less_is_worse_threshold_keeps_the_lowest_value_and_its_order():
    free = Threshold("cache.hit.percent", warning=50, critical=10, below=True)
    book = AlertBook([free], hold_seconds=0)
    [fired] = feed(book, [(0, 40)], "cache.hit.percent")
    assert fired.level == Level.WARNING
    [escalated] = feed(book, [(1, 5)], "cache.hit.percent")
    assert (escalated.level, escalated.value) == (Level.CRITICAL, 5)
    with pytest.raises(ValueError, match="warning 5 is below critical 10"):
        Threshold("x", warning=5, critical=10, below=True)

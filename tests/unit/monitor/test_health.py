from services.monitor.alerts import Alert, Level
from services.monitor.health import Component, State, host_components, overall


def alert(metric, level):
    return Alert(metric, level, 90, 97, "percent", fired_at=0)


def test_host_components_follow_the_alerts_of_their_metrics():
    components = {
        c.name: c
        for c in host_components(
            [alert("disk./.percent", Level.CRITICAL), alert("cpu.percent", Level.WARNING)]
        )
    }
    assert components["cpu"].state == State.DEGRADED
    assert components["disk"].state == State.UNHEALTHY
    assert "disk./.percent" in components["disk"].reason
    assert components["memory"].state == components["network"].state == State.HEALTHY


def test_overall_is_the_worst_component_with_the_reasons_of_the_worst():
    health = overall(
        [
            Component("cpu", State.DEGRADED, "busy"),
            Component("classifier", State.UNHEALTHY, "health check failed: UNAVAILABLE"),
            Component("embeddings", State.HEALTHY, latency_ms=2),
        ]
    )
    assert health.state == State.UNHEALTHY
    assert health.reason == "classifier: health check failed: UNAVAILABLE"


def test_all_healthy_is_healthy_with_no_reason():
    health = overall([Component("cpu", State.HEALTHY), Component("embeddings", State.HEALTHY)])
    assert (health.state, health.reason) == (State.HEALTHY, "")

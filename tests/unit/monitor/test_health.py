from services.monitor.alerts import Alert, Level
from services.monitor.health import (
    Component,
    State,
    host_components,
    overall,
    service_components,
)


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


def test_a_service_that_answers_its_health_check_follows_its_api_alerts():
    checked = [
        Component("classifier", State.HEALTHY, latency_ms=3),
        Component("embeddings", State.HEALTHY, latency_ms=2),
        Component("meeting_intel", State.UNHEALTHY, "health check failed: UNAVAILABLE"),
    ]
    active = [
        alert("api.classifier.errors.percent", Level.CRITICAL),
        alert("api.embeddings.latency.p95", Level.WARNING),
        alert("api.meeting_intel.latency.p95", Level.WARNING),
        alert("api.monitor.errors.percent", Level.WARNING),
        alert("cpu.percent", Level.CRITICAL),  # a host alert: not a service's
    ]
    found = {c.name: c for c in service_components(checked, active)}
    assert found["classifier"].state == State.UNHEALTHY and found["classifier"].latency_ms == 3
    assert "api.classifier.errors.percent is at or above the critical" in (
        found["classifier"].reason
    )
    assert found["embeddings"].state == State.DEGRADED
    assert "api.embeddings.latency.p95" in found["embeddings"].reason
    # Worse already: the health check's reason stays, the milder alert adds nothing.
    assert found["meeting_intel"] == checked[2]
    assert found["monitor"].state == State.DEGRADED  # no health check of its own
    assert set(found) == {"classifier", "embeddings", "meeting_intel", "monitor"}
    health = overall([*host_components([]), *found.values()])
    assert health.state == State.UNHEALTHY and "classifier: api.classifier" in health.reason


def test_services_without_api_alerts_keep_their_health_check():
    checked = [Component("embeddings", State.HEALTHY, latency_ms=2)]
    assert service_components(checked, [alert("disk./.percent", Level.WARNING)]) == checked

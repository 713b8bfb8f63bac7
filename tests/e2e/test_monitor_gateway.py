"""The monitor as outside clients reach it: JSON through the real Envoy to the real process.

Named to sort before test_gateway.py, whose last test stops the shared suite.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from .conftest import E2E_USER

pytestmark = pytest.mark.e2e

PERFORMANCE = "/v1/performance"


def call(suite, method: str, path: str, body: dict | None = None, user: str | None = E2E_USER):
    """(status, JSON body) of one request, with a token for `user` (None: no token)."""
    headers = {"content-type": "application/json"}
    if user is not None:
        headers |= suite.auth(user)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(suite.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_health_lists_the_host_and_every_service_of_the_suite_serving(suite):
    status, body = call(suite, "GET", f"{PERFORMANCE}/health")
    assert status == 200, body
    components = {c["name"]: c for c in body["components"]}
    assert {"cpu", "memory", "disk", "network"} <= set(components)
    for name in ("orchestrator", "classifier", "meeting_intel", "embeddings"):
        # DEGRADED only if a busy host slows the check past its limit; never down.
        assert components[name]["state"] != "HEALTH_STATE_UNHEALTHY", components[name]
        assert components[name]["latency_ms"] > 0
    assert body["state"].startswith("HEALTH_STATE_")


def test_current_metrics_and_status_answer_json(suite):
    status, body = call(suite, "GET", f"{PERFORMANCE}/metrics/current")
    assert status == 200, body
    metrics = {m["name"]: m for m in body["sample"]["metrics"]}
    assert metrics["cpu.percent"]["unit"] == "percent"
    assert "process.monitor.rss" in metrics  # the suite's own processes are visible here
    status, body = call(suite, "GET", f"{PERFORMANCE}/status")
    assert status == 200, body
    assert body["version"] == "0.1.0" and body["sampling_interval"] == "1s"


def test_tracked_activity_counts_for_the_user_of_the_header(suite):
    # A user of its own: the orchestrator records every workflow of e2e-user as activity.
    user = "activity-e2e"
    for kind in ("workflow_created", "workflow_created", "result_viewed"):
        status, body = call(
            suite,
            "POST",
            f"{PERFORMANCE}/activity/track",
            {"activity_type": kind, "feature": "classification", "metadata": {"n": 1}},
            user=user,
        )
        assert status == 200, body
        assert body["activity_id"]
    status, body = call(
        suite, "GET", f"{PERFORMANCE}/activity/summary?user_id={user}&window=3600s", user=user
    )
    assert status == 200, body
    assert {c["name"]: int(c["count"]) for c in body["by_type"]} == {
        "workflow_created": 2,
        "result_viewed": 1,
    }
    assert int(body["total"]) == 3


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", ""])
def test_a_body_nested_too_deeply_answers_400_whatever_its_content_type(suite, content_type):
    # The transcoder reads any body but gRPC's as JSON, text/plain or none at all. Nested
    # 60 deep in a Struct it went past protobuf's depth limit in the service (a 500).
    nested: object = {"n": 1}
    for _ in range(60):
        nested = {"a": nested}
    body = json.dumps({"activity_type": "login", "metadata": nested}).encode()
    headers = suite.auth(E2E_USER) | ({"content-type": content_type} if content_type else {})
    request = urllib.request.Request(
        suite.url + f"{PERFORMANCE}/activity/track", data=body, method="POST", headers=headers
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=30)
    assert caught.value.code == 400
    assert b"nested deeper than 24 levels" in caught.value.read()


def test_tracking_without_a_token_answers_401(suite):
    status, body = call(
        suite, "POST", f"{PERFORMANCE}/activity/track", {"activity_type": "login"}, user=None
    )
    assert status == 401, body
    assert body["code"] == 16


def test_a_window_past_the_retention_answers_400_naming_window(suite):
    status, body = call(suite, "GET", f"{PERFORMANCE}/metrics/summary?window=7200s")
    assert status == 400, body
    fields = {
        violation["field"]
        for detail in body.get("details", [])
        for violation in detail.get("fieldViolations", detail.get("field_violations", []))
    }
    assert "window" in fields


def test_the_metrics_stream_sends_one_json_sample_per_line(suite):
    request = urllib.request.Request(
        f"{suite.url}{PERFORMANCE}/metrics/stream?metrics=cpu.percent&metrics=memory.percent",
        headers=suite.auth(),
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        assert reply.status == 200
        lines = [json.loads(reply.readline()) for _ in range(2)]
    times = [line["sample"]["time"] for line in lines]
    assert times[0] < times[1]
    for line in lines:
        assert {m["name"] for m in line["sample"]["metrics"]} == {"cpu.percent", "memory.percent"}

"""JSON over HTTP through the real Envoy to the real service processes."""

from __future__ import annotations

import signal
import subprocess

import pytest

pytestmark = pytest.mark.e2e

WORKFLOWS = "/v1/ai-orchestration/workflows"


def valid_body(**changes) -> dict:
    body = {
        "type": "classification",
        "wait": True,
        "input": {
            "text": "The board approved the budget; Bob will send the invoice on Friday.",
            "labels": [{"name": "finance"}, {"name": "sport"}, {"name": "cooking"}],
        },
    }
    body.update(changes)
    return body


def violations(reply) -> set[str]:
    """Fields named by the google.rpc.BadRequest details of a JSON error body."""
    return {
        violation["field"]
        for detail in reply.body.get("details", [])
        for violation in detail.get("fieldViolations", detail.get("field_violations", []))
    }


def test_a_classification_workflow_runs_and_its_status_url_returns_it(suite):
    created = suite.request("POST", WORKFLOWS, valid_body())
    assert created.status == 200, created.body
    workflow = created.body["workflow"]
    assert workflow["status"] == "WORKFLOW_STATUS_SUCCEEDED"
    classification = workflow["result"]["classification"]
    assert classification["label"] == "finance"
    assert {s["label"] for s in classification["scores"]} == {"finance", "sport", "cooking"}
    status = suite.request("GET", f"{WORKFLOWS}/{workflow['workflow_id']}/status")
    assert status.status == 200
    assert status.body["workflow"] == workflow


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (valid_body(input={"text": "", "labels": [{"name": "a"}]}), "input.text"),
        (valid_body(input={"text": "x" * 100_001, "labels": [{"name": "a"}]}), "input.text"),
        (valid_body(input={"text": "hi", "labels": []}), "input.labels"),
        (
            valid_body(input={"text": "hi", "labels": [{"name": "a"}, {"name": "a"}]}),
            "input.labels[1].name",
        ),
        (valid_body(type="astrology"), "type"),
    ],
)
def test_bad_input_answers_400_naming_the_field(suite, body, field):
    reply = suite.request("POST", WORKFLOWS, body)
    assert reply.status == 400, reply.body
    assert field in violations(reply)


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"type": "classification", "input": {"text": ', None),
        ('{"type": "classification", "wait": "often"}', "wait"),
        ('{"type": "classification", "input": {"labels": "finance"}}', "labels"),
    ],
)
def test_malformed_json_and_wrong_types_answer_400(suite, raw, field):
    reply = suite.request("POST", WORKFLOWS, raw)
    assert reply.status == 400, reply.body
    if field:
        assert field in str(reply.body)


def test_an_unknown_workflow_id_answers_404_and_a_malformed_one_400(suite):
    missing = suite.request("GET", f"{WORKFLOWS}/00000000-0000-4000-8000-000000000000/status")
    assert missing.status == 404
    malformed = suite.request("GET", f"{WORKFLOWS}/not-an-id/status")
    assert malformed.status == 400
    assert "workflow_id" in violations(malformed)


def test_a_path_that_matches_no_route_answers_404(suite):
    assert suite.request("GET", "/v1/nothing/here").status == 404
    assert suite.request("POST", "/v1/ai-orchestration/nothing", {}).status == 404


def test_an_rpc_not_built_yet_answers_501(suite):
    assert suite.request("GET", "/v1/performance/status").status == 501


def test_ctrl_c_stops_every_process_cleanly(suite):
    """Runs last: it stops the suite as Ctrl-C on `make run` does."""
    children = subprocess.run(
        ["pgrep", "-P", str(suite.honcho.pid)], capture_output=True, text=True
    ).stdout.split()
    assert len(children) == 7
    suite.honcho.send_signal(signal.SIGINT)
    suite.honcho.wait(20)
    log = suite.log.read_text()
    for name in (
        "embeddings",
        "classifier",
        "meeting_intel",
        "monitor",
        "orchestrator",
        "gateway",
        "ready",
    ):
        assert f"{name}.1 stopped (rc=0)" in log, log[-3000:]
    alive = subprocess.run(
        ["ps", "-o", "pid=", "-p", ",".join(children)], capture_output=True, text=True
    ).stdout.split()
    assert alive == []

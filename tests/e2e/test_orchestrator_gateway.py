"""The orchestrator through the real Envoy: async workflows, events, types, admin refusal,
and a full queue answering 429 with Retry-After.

(The name sorts before test_gateway.py, whose last test stops the shared suite.)"""

from __future__ import annotations

import json
import socket
import time
import urllib.request

import pytest

from tools.suite import behind_envoy

from .conftest import Suite, free_addr

pytestmark = pytest.mark.e2e

WORKFLOWS = "/v1/ai-orchestration/workflows"


def body(**changes) -> dict:
    values = {
        "type": "classification",
        "input": {
            "text": "The board approved the budget; Bob will send the invoice on Friday.",
            "labels": [{"name": "finance"}, {"name": "sport"}, {"name": "cooking"}],
        },
    }
    return values | changes


def until_finished(suite, workflow_id: str, timeout: float = 30) -> dict:
    end = time.monotonic() + timeout
    while True:
        reply = suite.request("GET", f"{WORKFLOWS}/{workflow_id}/status")
        assert reply.status == 200, reply.body
        workflow = reply.body["workflow"]
        if workflow["status"] not in ("WORKFLOW_STATUS_PENDING", "WORKFLOW_STATUS_RUNNING"):
            return workflow
        assert time.monotonic() < end, workflow
        time.sleep(0.05)


def test_an_async_workflow_answers_at_once_and_its_status_url_follows_it(suite):
    created = suite.request("POST", WORKFLOWS, body(use_cache=False))
    assert created.status == 200, created.body
    workflow = created.body["workflow"]
    assert workflow["status"] == "WORKFLOW_STATUS_PENDING"
    done = until_finished(suite, workflow["workflow_id"])
    assert done["status"] == "WORKFLOW_STATUS_SUCCEEDED"
    assert done["result"]["classification"]["label"] == "finance"
    assert done["steps"][0]["state"] == "STEP_STATE_SUCCEEDED"


def test_the_events_url_streams_json_lines_to_the_final_workflow(suite):
    created = suite.request("POST", WORKFLOWS, body(use_cache=False)).body["workflow"]
    url = f"{suite.url}{WORKFLOWS}/{created['workflow_id']}/events"
    request = urllib.request.Request(url, headers=suite.auth())
    with urllib.request.urlopen(request, timeout=30) as reply:
        events = [json.loads(line) for line in reply.read().decode().splitlines() if line]
    assert events[-1]["status"] == "WORKFLOW_STATUS_SUCCEEDED"
    assert events[-1]["workflow"]["workflow_id"] == created["workflow_id"]


def test_a_hybrid_workflow_gives_every_branch(suite):
    transcript = "Ann: The board approved the budget.\nBob: I will send the invoice on Friday."
    hybrid = body(type="hybrid", wait=True)
    hybrid["input"]["text"] = transcript
    reply = suite.request("POST", WORKFLOWS, hybrid)
    assert reply.status == 200, reply.body
    workflow = reply.body["workflow"]
    assert workflow["status"] == "WORKFLOW_STATUS_SUCCEEDED", workflow["error"]
    assert set(workflow["result"]) >= {"classification", "meeting", "embedding"}


def test_the_types_url_lists_every_workflow_type(suite):
    reply = suite.request("GET", f"{WORKFLOWS}/types")
    assert reply.status == 200
    names = {t["name"] for t in reply.body["types"]}
    assert names == {"classification", "meeting_intelligence", "hybrid", "embedding", "assistant"}


def test_cache_admin_urls_answer_403_without_an_admin_token(suite):
    reply = suite.request("GET", "/v1/ai-orchestration/cache/stats")
    assert reply.status == 403
    assert reply.body["code"] == 7


def test_an_assistant_workflow_answers_from_the_callers_documents_and_caches_until_they_change(
    suite,
):
    user = f"asker-{time.monotonic_ns()}"  # documents of this test's own
    document = {
        "source_id": "expenses",
        "title": "Handbook",
        "text": "Expenses are refunded within 30 days of the claim, by bank transfer.",
    }
    assert suite.request("POST", "/v1/assistant/documents", document, user=user).status == 200
    question = {"type": "assistant", "wait": True, "input": {"text": "When are expenses refunded?"}}
    first = suite.request("POST", WORKFLOWS, question, user=user)
    assert first.status == 200, first.body
    workflow = first.body["workflow"]
    assert workflow["status"] == "WORKFLOW_STATUS_SUCCEEDED", workflow
    assert "30 days" in workflow["result"]["answer"]["answer"]
    assert workflow["result"]["answer"]["citations"][0]["source_id"] == "expenses"
    again = suite.request("POST", WORKFLOWS, question, user=user).body["workflow"]
    assert again.get("cached") is True
    other = document | {"source_id": "travel", "text": "Trains are booked by the office."}
    assert suite.request("POST", "/v1/assistant/documents", other, user=user).status == 200
    third = suite.request("POST", WORKFLOWS, question, user=user).body["workflow"]
    assert third["status"] == "WORKFLOW_STATUS_SUCCEEDED" and not third.get("cached")
    too_long = question | {"input": {"text": "x" * 4001}}
    refused = suite.request("POST", WORKFLOWS, too_long, user=user)
    assert refused.status == 400 and "input.text" in json.dumps(refused.body)


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """An orchestrator with one worker and a queue of one, whose classifier never answers
    (a socket that accepts no connection), behind an Envoy of its own."""
    tmp = tmp_path_factory.mktemp("crowded")
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(100)
    env = {
        "AIORCH_ORCHESTRATOR_ADDR": free_addr(),
        "AIORCH_CLASSIFIER_ADDR": f"127.0.0.1:{hole.getsockname()[1]}",
        "AIORCH_ORCHESTRATOR_WORKERS": "1",
        "AIORCH_QUEUE_SIZE_NORMAL": "1",
        "AIORCH_GRACE_SECONDS": "0",
    }
    try:
        with behind_envoy(tmp, "orchestrator", env) as fronted:
            yield Suite(fronted.settings, fronted.process, fronted.log)
    finally:
        hole.close()


def test_a_full_queue_answers_429_with_retry_after(crowded):
    stuck = body(use_cache=False, timeout="30s")
    for _ in range(2):  # one runs (never answered), one waits
        assert crowded.request("POST", WORKFLOWS, stuck).status == 200
    refused = crowded.request("POST", WORKFLOWS, stuck)
    assert refused.status == 429, refused.body
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.body["code"] == 8
    [retry_info] = refused.body["details"]
    assert retry_info["@type"].endswith("google.rpc.RetryInfo")

"""JSON over HTTP through the real Envoy to the real service processes."""

from __future__ import annotations

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


def test_embed_through_the_gateway_returns_a_vector_per_text(suite):
    reply = suite.request("POST", "/v1/embeddings/embed", {"texts": ["a cat", "a dog"]})
    assert reply.status == 200, reply.body
    assert [len(e["values"]) for e in reply.body["embeddings"]] == [384, 384]
    assert suite.request("POST", "/v1/embeddings/embed", {"texts": []}).status == 400


def test_classify_through_the_gateway_gives_keywords_and_a_summary(suite):
    text = (
        "The central bank raised interest rates again. Markets fell on the news. "
        "Analysts expect inflation to ease next year. Banks welcomed the decision."
    )
    reply = suite.request(
        "POST",
        "/v1/classifier/classify",
        {
            "text": text,
            "taxonomy": "document_types",
            "include_keywords": True,
            "include_summary": True,
            "summary_sentences": 2,
        },
    )
    assert reply.status == 200, reply.body
    assert abs(sum(s["score"] for s in reply.body["scores"]) - 1) < 1e-6
    assert reply.body["keywords"] and reply.body["summary"]


def test_analyze_through_the_gateway_finds_speakers_and_action_items(suite):
    transcript = (
        "Anna: Let's decide on the launch plan today.\n"
        "Ben: I will send the budget to finance by Friday.\n"
        "Anna: Who owns the press release?\n"
    )
    reply = suite.request(
        "POST",
        "/v1/meeting-intel/analyze",
        {"transcript": transcript, "meeting_date": "2026-11-23"},
    )
    assert reply.status == 200, reply.body
    assert {s["name"] for s in reply.body["speakers"]} == {"Anna", "Ben"}
    owners = {item["owner"] for item in reply.body["action_items"]}
    assert "Ben" in owners
    bad = suite.request("POST", "/v1/meeting-intel/analyze", {"transcript": "   "})
    assert bad.status == 400 and "transcript" in violations(bad)

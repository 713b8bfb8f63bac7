"""Usage and budgets as outside clients meet them: the assistant on the chat model
(llama-server with Gemma 3 270M) behind its own real Envoy, the embeddings process beside
it. GET /v1/assistant/usage reads a user's usage; a spent daily token budget answers 429
with Retry-After; GET /v1/assistant/agents lists the agents a chat may name."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid

import pytest

from services.common.settings import PROJECT_ROOT
from tests.model_servers import llama_server
from tools.ready import wait_serving
from tools.suite import behind_envoy

from .conftest import Suite, free_addr

pytestmark = pytest.mark.e2e

USAGE = "/v1/assistant/usage"
NOTES = "The budget for the new office in Lisbon was approved at 300,000 euros."


@pytest.fixture(scope="module")
def budgeted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("budgeted")
    embeddings_addr = free_addr()
    embeddings = subprocess.Popen(
        [sys.executable, "-m", "services.embeddings"],
        cwd=PROJECT_ROOT,
        env=os.environ
        | {"AIORCH_EMBEDDINGS_ADDR": embeddings_addr, "AIORCH_EMBEDDINGS_METRICS_ADDR": ""},
        stdout=(tmp / "embeddings.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        with llama_server(tmp / "llama.log") as chat_url:
            env = {
                "AIORCH_ASSISTANT_ADDR": free_addr(),
                "AIORCH_ASSISTANT_METRICS_ADDR": "",
                "AIORCH_EMBEDDINGS_ADDR": embeddings_addr,
                "AIORCH_ASSISTANT_BACKEND": "openai",
                "AIORCH_OPENAI_CHAT_MODEL": "gemma",
                "AIORCH_ASSISTANT_MAX_ANSWER_TOKENS": "8",
                "AIORCH_ASSISTANT_DAILY_TOKEN_BUDGET": "50",
                "OPENAI_BASE_URL": chat_url,
            }
            asyncio.run(wait_serving(embeddings_addr, 60))
            with behind_envoy(tmp, "assistant", env) as fronted:
                yield Suite(fronted.settings, fronted.process, fronted.log)
    finally:
        embeddings.terminate()
        embeddings.wait(20)


def test_a_spent_budget_is_a_429_with_retry_after_and_the_usage_url_shows_it(budgeted):
    user = f"ann-{uuid.uuid4().hex[:8]}"
    indexed = budgeted.request(
        "POST", "/v1/assistant/documents", {"source_id": "n.txt", "text": NOTES}, user=user
    )
    assert indexed.status == 200, indexed.body
    question = {"message": "What was approved for Lisbon?"}
    first = budgeted.request("POST", "/v1/assistant/chat", question, user=user)
    assert first.status == 200, first.body

    refused = budgeted.request("POST", "/v1/assistant/chat", question, user=user)
    assert refused.status == 429, refused.body
    assert 1 <= int(refused.headers["retry-after"]) <= 86400
    assert refused.body["code"] == 8 and "daily token budget" in refused.body["message"]
    types = sorted(detail["@type"].rsplit("/", 1)[-1] for detail in refused.body["details"])
    assert types == ["google.rpc.QuotaFailure", "google.rpc.RetryInfo"]
    streamed = budgeted.request("POST", "/v1/assistant/chat/stream", question, user=user)
    assert streamed.status == 429 and int(streamed.headers["retry-after"]) >= 1

    used = budgeted.request("GET", f"{USAGE}?days=1", user=user)
    assert used.status == 200, used.body
    [day] = used.body["days"]
    assert day["model"] == "openai/gemma" and int(day["requests"]) == 1
    assert int(used.body["tokens_today"]) > int(used.body["daily_token_budget"]) == 50

    other = budgeted.request("GET", f"{USAGE}?user_id={user}", user="bob")
    assert other.status == 403 and other.body["code"] == 7
    admin = budgeted.request("GET", f"{USAGE}?user_id={user}", user="root", roles=("admin",))
    assert admin.status == 200 and admin.body["days"] == used.body["days"]  # only today's
    assert budgeted.request("GET", f"{USAGE}?days=400", user=user).status == 400


def test_the_agents_url_lists_the_declared_agents(budgeted):
    listed = budgeted.request("GET", "/v1/assistant/agents")
    assert listed.status == 200, listed.body
    assert {a["name"]: a["tier"] for a in listed.body["agents"]}["quick"] == "cheap"
    unknown = budgeted.request(
        "POST", "/v1/assistant/chat", {"message": "hello", "agents": ["nobody"]}, user="carl"
    )
    assert unknown.status == 400 and "agents[0]" in str(unknown.body)

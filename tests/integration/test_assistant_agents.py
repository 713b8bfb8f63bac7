"""Agents through gRPC: named in a chat, run at once and merged; the strong ones on a real
OpenAI-compatible server (llama-server with Gemma 3 270M: structure, not wisdom)."""

from __future__ import annotations

import grpc
import pytest

from aiorch.v1 import assistant_pb2
from services.assistant.agents import AGENTS
from tests.integration.test_assistant_service import BUDGET, HIKING, index
from tests.integration.test_assistant_usage import assistant, assistant_settings, stub_as

QUESTION = "What is the marketing budget for next year?"


def _on_the_model(suite, tmp_path, url: str, **changes):
    """An assistant on the openai backend, the test's llama-server, short answers."""
    return assistant_settings(
        suite,
        database_url=f"sqlite:///{tmp_path}/aiorch.db",
        assistant_backend="openai",
        openai_base_url=url,
        openai_chat_model="gemma",
        assistant_max_answer_tokens=8,
        **changes,
    )


async def test_agents_are_listed_and_a_local_assistant_runs_only_the_cheap_ones(
    suite, database_url
):
    settings = assistant_settings(suite, database_url=database_url)
    async with assistant(settings) as addr, stub_as(addr, "ann") as ann:
        listed = await ann.ListAgents(assistant_pb2.ListAgentsRequest(), timeout=20)
        await index(ann, "budget.txt", BUDGET)
        quick = await ann.Chat(
            assistant_pb2.ChatRequest(message=QUESTION, agents=["quick"]), timeout=20
        )
        plain = await ann.Chat(assistant_pb2.ChatRequest(message=QUESTION), timeout=20)
        refused = {}
        for names in (["analyst"], ["quick", "nobody"]):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await ann.Chat(assistant_pb2.ChatRequest(message=QUESTION, agents=names))
            refused[names[-1]] = caught.value.code()
    assert [a.name for a in listed.agents] == list(AGENTS)
    assert {a.tier for a in listed.agents} == {"cheap", "strong", "routed"}
    (part,) = quick.agents
    assert (part.agent, part.tier, part.model) == ("quick", "cheap", "local/extractive")
    # One agent answers as the backend would, its part the whole answer.
    assert quick.answer == plain.answer == part.answer and quick.citations == plain.citations
    assert refused == {
        "analyst": grpc.StatusCode.FAILED_PRECONDITION,
        "nobody": grpc.StatusCode.INVALID_ARGUMENT,
    }


async def test_several_agents_answer_at_once_and_their_answers_are_merged(
    suite, tmp_path, openai_chat_url
):
    settings = _on_the_model(suite, tmp_path, openai_chat_url)
    names = ["quick", "analyst", "writer"]
    async with assistant(settings) as addr, stub_as(addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
        await index(ann, "hike.txt", HIKING)
        request = assistant_pb2.StreamChatRequest(message=QUESTION, agents=names)
        replies = [r async for r in ann.StreamChat(request, timeout=120)]
        alone = assistant_pb2.StreamChatRequest(message=QUESTION, agents=["analyst"])
        single = [r async for r in ann.StreamChat(alone, timeout=120)]
        used = await ann.GetUsage(assistant_pb2.GetUsageRequest(), timeout=20)
        history = await ann.GetSession(
            assistant_pb2.GetSessionRequest(session_id=replies[-1].answer.session_id), timeout=20
        )
    answer = replies[-1].answer
    assert answer.answer == "".join(r.delta for r in replies[:-1])
    assert [a.agent for a in answer.agents] == names
    assert [a.tier for a in answer.agents] == ["cheap", "strong", "strong"]
    assert [a.model for a in answer.agents] == ["local/extractive", "openai/gemma", "openai/gemma"]
    for part in answer.agents:
        assert f"{part.agent}:\n{part.answer.strip()}" in answer.answer
    quick, analyst, writer = answer.agents
    assert quick.usage.input_tokens == 0 and analyst.usage.output_tokens > 0
    # The writer reads no documents: its prompt is far shorter than the analyst's.
    assert 0 < writer.usage.input_tokens < analyst.usage.input_tokens
    assert answer.model == "local/extractive,openai/gemma"
    assert answer.usage.output_tokens == analyst.usage.output_tokens + writer.usage.output_tokens
    # Each passage cited once, numbered once for the whole answer.
    keys = [(c.source_id, c.chunk_index) for c in answer.citations]
    assert len(keys) == len(set(keys)) and keys[0] == ("budget.txt", 0)
    assert history.turns[1].text == answer.answer
    # One agent is streamed as the model writes, its answer the whole one, unlabelled.
    *deltas, last = single
    assert deltas and all(r.WhichOneof("event") == "delta" for r in deltas)
    assert last.answer.answer == "".join(r.delta for r in deltas) == last.answer.agents[0].answer
    assert last.answer.agents[0].tier == "strong" and last.answer.route.tier == ""
    assert {d.model: d.requests for d in used.days} == {"local/extractive": 1, "openai/gemma": 3}


async def test_the_auto_agent_routes_with_the_configured_thresholds_under_the_openai_backend(
    suite, tmp_path, openai_chat_url
):
    # One content word at most sends every question to the model; the default
    # thresholds keep this one, well answered by the document, on the cheap tier.
    settings = _on_the_model(suite, tmp_path, openai_chat_url, assistant_route_max_words=1)
    async with assistant(settings) as addr, stub_as(addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
        reply = await ann.Chat(
            assistant_pb2.ChatRequest(message=QUESTION, agents=["auto"]), timeout=120
        )
    [auto] = reply.agents
    assert auto.tier == "strong" and auto.model == "openai/gemma"
    assert auto.route.tier == "strong" and "over 1" in auto.route.reason

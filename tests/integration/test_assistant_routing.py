"""Cost-aware routing through gRPC: an assistant with AIORCH_ASSISTANT_BACKEND=routed over
the suite's embeddings service, its strong tier a real OpenAI-compatible server
(llama-server with Gemma 3 270M)."""

from __future__ import annotations

from aiorch.v1 import assistant_pb2
from tests.integration.test_assistant_service import BUDGET, index
from tests.integration.test_assistant_usage import assistant, assistant_settings, stub_as

COVERED = "What is the marketing budget for next year?"
UNCOVERED = "How does the board justify the advertising spend versus competitors?"


async def test_the_router_quotes_when_it_can_escalates_when_it_must_and_says_why(
    suite, tmp_path, openai_chat_url
):
    settings = assistant_settings(
        suite,
        database_url=f"sqlite:///{tmp_path}/aiorch.db",
        assistant_backend="routed",
        assistant_daily_token_budget=50,
        openai_base_url=openai_chat_url,
        openai_chat_model="gemma",
        assistant_max_answer_tokens=8,
    )
    async with assistant(settings) as addr, stub_as(addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
        cheap = await ann.Chat(assistant_pb2.ChatRequest(message=COVERED), timeout=20)
        streamed = [
            r
            async for r in ann.StreamChat(
                assistant_pb2.StreamChatRequest(message=UNCOVERED), timeout=120
            )
        ]
        strong = streamed[-1].answer
        # The model's prompt alone is over 50 tokens: the budget is spent now.
        kept = await ann.Chat(assistant_pb2.ChatRequest(message=UNCOVERED), timeout=20)
        used = await ann.GetUsage(assistant_pb2.GetUsageRequest(), timeout=20)

    assert cheap.model == "local/extractive" and "2 million dollars" in cheap.answer
    route = cheap.route
    assert route.tier == "cheap" and not route.escalated
    assert route.best_score >= 0.3 and route.coverage == 1.0 and route.question_words == 3
    assert "best passage score" in route.reason

    assert strong.model == "openai/gemma" and strong.usage.output_tokens > 0
    assert strong.route.tier == "strong" and strong.route.escalated
    assert "cover" in strong.route.reason and strong.route.coverage < 0.5
    assert strong.answer == "".join(r.delta for r in streamed[:-1])

    assert kept.model == "local/extractive" and kept.route.tier == "cheap"
    assert not kept.route.escalated and "budget is spent" in kept.route.reason
    assert kept.route.coverage == strong.route.coverage  # the same signals, kept cheap
    assert {d.model: d.requests for d in used.days} == {"local/extractive": 2, "openai/gemma": 1}


async def test_unrouted_replies_carry_no_route(suite, database_url):
    settings = assistant_settings(suite, database_url=database_url)
    async with assistant(settings) as addr, stub_as(addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
        reply = await ann.Chat(assistant_pb2.ChatRequest(message=COVERED), timeout=20)
    assert reply.model == "local/extractive" and not reply.HasField("route")

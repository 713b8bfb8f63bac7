"""ClassifierService with the OpenAI backend, against a real OpenAI-compatible chat server
(llama-server with Gemma 3 270M, a tiny base model: these tests assert structure)."""

from __future__ import annotations

import contextlib

import grpc
import pytest

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc
from services.classifier.__main__ import build

from .conftest import start_service

LABELS = ["finance", "sport", "cooking"]


@contextlib.asynccontextmanager
async def classifier(settings, **changes):
    settings = settings.model_copy(update={"classifier_backend": "openai", **changes})
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("classifier", build, settings, stack)
        async with grpc.aio.insecure_channel(settings.classifier_addr) as channel:
            yield classifier_pb2_grpc.ClassifierServiceStub(channel)


@pytest.fixture(scope="module")
async def stub(settings, openai_chat_url):
    prices = {"gemma": {"input": 1.0, "output": 2.0}}
    async with classifier(
        settings, openai_base_url=openai_chat_url, openai_chat_model="gemma", prices=prices
    ) as stub:
        yield stub


async def test_every_label_gets_a_score_and_the_scores_sum_to_one(stub):
    request = classifier_pb2.ClassifyRequest(
        text="The club won the cup final after extra time.",
        labels=[classifier_pb2.Label(name=name) for name in LABELS],
        include_keywords=True,
        max_keywords=3,
    )
    reply = await stub.Classify(request, timeout=120)
    assert sorted(s.label for s in reply.scores) == sorted(LABELS)
    assert sum(s.score for s in reply.scores) == pytest.approx(1.0)
    assert reply.label == reply.scores[0].label
    assert len(reply.keywords) <= 3
    assert reply.model == "openai/gemma"
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    expected = (reply.usage.input_tokens + 2 * reply.usage.output_tokens) / 1e6
    assert reply.usage.cost_usd == pytest.approx(expected)


async def test_bad_input_is_refused_before_the_model_is_asked(stub):
    request = classifier_pb2.ClassifyRequest(
        text="x", labels=[classifier_pb2.Label(name="a"), classifier_pb2.Label(name="a")]
    )
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Classify(request, timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_unreachable_model_server_is_unavailable(settings):
    async with classifier(settings, openai_base_url="http://127.0.0.1:1/v1") as stub:
        request = classifier_pb2.ClassifyRequest(
            text="hello", labels=[classifier_pb2.Label(name=name) for name in LABELS]
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Classify(request, timeout=30)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

"""A refusal from a service further down reaches the caller as its own invalid input: the
real classifier over an embeddings service that refuses every call, and an orchestrator
whose breaker on the classifier must stay closed however often that happens."""

from __future__ import annotations

import contextlib

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.classifier.__main__ import build as build_classifier
from services.common.errors import InvalidInput, field_violations
from services.common.server import create_server
from tests.callers import channel_as

from .orchestrator_fakes import FakeCapabilities, request, start_fakes, start_orchestrator

REFUSAL = InvalidInput("texts[1]", "longer than 8000 characters")


@contextlib.asynccontextmanager
async def refused_classifier(settings):
    """(classifier stub, orchestrator stub, fake embeddings) with every Embed refused."""
    async with contextlib.AsyncExitStack() as stack:
        fake = FakeCapabilities()
        fake.always_fail["Embed"] = REFUSAL
        embeddings_addr = await start_fakes(stack, fake)
        settings = settings.model_copy(update={"embeddings_addr": embeddings_addr})
        server = create_server(await build_classifier(settings, stack), "127.0.0.1:0")
        await server.start()
        stack.push_async_callback(server.stop, 0)
        classifier_addr = f"127.0.0.1:{server.port}"
        channel = channel_as(classifier_addr)
        stack.push_async_callback(channel.close)
        _, orchestrator, _ = await start_orchestrator(
            stack,
            settings,
            classifier_addr=classifier_addr,
            breaker_failures=2,
            breaker_reset_seconds=60,
        )
        yield classifier_pb2_grpc.ClassifierServiceStub(channel), orchestrator, fake


async def test_an_embeddings_refusal_reaches_the_classifiers_caller_as_invalid_argument(
    settings,
):
    async with refused_classifier(settings) as (classifier, _, fake):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await classifier.Classify(
                classifier_pb2.ClassifyRequest(
                    text="The striker scored twice.",
                    labels=[classifier_pb2.Label(name=n) for n in ("sport", "cooking")],
                ),
                timeout=10,
            )
    assert fake.calls["Embed"] == 1  # a refusal is not retried
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "refused" in caught.value.details()
    status = rpc_status.from_call(caught.value)
    assert field_violations(status) == {"texts[1]": "longer than 8000 characters"}


async def test_refusals_passed_on_by_the_classifier_never_open_its_breaker(settings):
    async with refused_classifier(settings) as (_, orchestrator, fake):
        for _ in range(4):  # twice the breaker's failures
            workflow = (
                await orchestrator.CreateWorkflow(request(use_cache=False), timeout=10)
            ).workflow
            assert workflow.status == pb.WORKFLOW_STATUS_FAILED
            assert workflow.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
        health = await orchestrator.GetServicesHealth(pb.GetServicesHealthRequest(), timeout=5)
    assert fake.calls["Embed"] == 4  # every request reached the classifier and on
    breakers = {s.name: s.breaker_state for s in health.services}
    assert breakers["classifier"] == pb.BREAKER_STATE_CLOSED

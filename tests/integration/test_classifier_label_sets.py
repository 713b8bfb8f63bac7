"""Label sets across classifier replicas: two in-process classifiers on one embeddings
service and one real Redis, as two pods behind one Service."""

from __future__ import annotations

import contextlib

import grpc
import pytest

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc
from services.classifier.__main__ import build as build_classifier
from services.classifier.label_sets import LabelSets
from services.classifier.zero_shot import LabelSpec
from services.common.errors import NotFound, Unavailable
from services.embeddings.__main__ import build as build_embeddings
from tests.callers import channel_as
from tests.integration.conftest import start_service

LABELS = [
    classifier_pb2.Label(name="sport", examples=["A late goal won the match."]),
    classifier_pb2.Label(name="finance", examples=["The invoice is due on Friday."]),
]
TEXT = "The keeper saved a penalty in extra time."


@contextlib.asynccontextmanager
async def two_classifiers(settings):
    """Stubs of two classifier replicas on `settings` (one embeddings service)."""
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("embeddings", build_embeddings, settings, stack)
        stubs = []
        for _ in range(2):
            _, replica = await start_service("classifier", build_classifier, settings, stack)
            channel = channel_as(replica.classifier_addr)
            stack.push_async_callback(channel.close)
            stubs.append(classifier_pb2_grpc.ClassifierServiceStub(channel))
        yield stubs


async def register_on_one_classify_on_other(settings) -> classifier_pb2.ClassifyResponse:
    async with two_classifiers(settings) as (one, other):
        registered = await one.RegisterLabelSet(
            classifier_pb2.RegisterLabelSetRequest(labels=LABELS), timeout=30
        )
        return await other.Classify(
            classifier_pb2.ClassifyRequest(text=TEXT, label_set_id=registered.label_set_id),
            timeout=30,
        )


async def test_a_set_registered_through_one_replica_is_classified_through_another(
    settings, redis_prefix
):
    reply = await register_on_one_classify_on_other(settings.model_copy(update=redis_prefix))
    assert reply.label == "sport"


async def test_without_redis_another_replica_does_not_know_the_set(settings):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await register_on_one_classify_on_other(settings.model_copy(update={"redis_url": ""}))
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND
    assert "register it again" in caught.value.details()


async def test_a_shared_set_that_does_not_match_its_id_is_not_taken(redis_prefix):
    prefix = redis_prefix["cache_key_prefix"]
    one = LabelSets.open(redis_prefix["redis_url"], prefix)
    other = LabelSets.open(redis_prefix["redis_url"], prefix)
    label_set_id = await one.put([LabelSpec("sport"), LabelSpec("finance")])
    assert [x.name for x in await other.get(label_set_id)] == ["sport", "finance"]
    await one.redis.set(prefix + label_set_id, '[["cooking", "", []]]')
    third = LabelSets.open(redis_prefix["redis_url"], prefix)
    with pytest.raises(NotFound):
        await third.get(label_set_id)
    for sets in (one, other, third):
        await sets.close()


async def test_a_shared_store_that_is_away_is_unavailable_not_unknown():
    sets = LabelSets.open("redis://127.0.0.1:1/0", "x:")
    with pytest.raises(Unavailable):
        await sets.get("ls-" + "0" * 32)
    await sets.close()

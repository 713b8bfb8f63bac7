"""The orchestrator wired to its store, cache and services, as `python -m
services.orchestrator` and the tests start it."""

from __future__ import annotations

import contextlib

from aiorch.v1 import classifier_pb2_grpc, embeddings_pb2_grpc, meeting_intel_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.channels import Link
from services.common.database import Database
from services.common.settings import Settings
from services.orchestrator import metrics
from services.orchestrator.breaker import CircuitBreaker
from services.orchestrator.cache import ResultCache
from services.orchestrator.events import EventHub
from services.orchestrator.executor import Executor
from services.orchestrator.orchestrator import Orchestrator
from services.orchestrator.recovery import lease_owner
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.stats import CallStats
from services.orchestrator.store import WorkflowStore

# The services steps call, and their stubs.
STUBS = {
    "classifier": classifier_pb2_grpc.ClassifierServiceStub,
    "meeting_intel": meeting_intel_pb2_grpc.MeetingIntelServiceStub,
    "embeddings": embeddings_pb2_grpc.EmbeddingsServiceStub,
}


async def open_orchestrator(settings: Settings, stack: contextlib.AsyncExitStack) -> Orchestrator:
    """A started orchestrator; everything it opened closes on `stack`, after it stopped."""
    db = await Database.open(settings.database_url)
    stack.push_async_callback(db.close)
    store = await WorkflowStore.open(db)
    links, stubs, breakers = {}, {}, {}
    for name, stub in STUBS.items():
        links[name] = Link(name, settings.addr_of(name), settings.unreachable_fail_fast_seconds)
        stack.push_async_callback(links[name].close)
        stubs[name] = stub(links[name].channel)
        breakers[name] = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_seconds)
    cache = ResultCache.open(settings.cache_l1_size, settings.redis_url, settings.cache_key_prefix)
    stack.push_async_callback(cache.close)
    events = EventHub()
    owner = lease_owner(settings.orchestrator_node)
    executor = Executor(store, stubs, links, breakers, cache, events, CallStats(), settings, owner)
    sizes = {
        pb.PRIORITY_HIGH: settings.queue_size_high,
        pb.PRIORITY_NORMAL: settings.queue_size_normal,
        pb.PRIORITY_LOW: settings.queue_size_low,
    }
    scheduler = Scheduler(sizes, settings.orchestrator_workers, settings.queue_max_bytes)
    orchestrator = Orchestrator(store, executor, scheduler, cache, events, settings)
    metrics.watch(orchestrator)
    await orchestrator.start()
    stack.push_async_callback(orchestrator.stop)
    return orchestrator

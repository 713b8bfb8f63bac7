"""The orchestrator wired to its store, cache and services, as `python -m
services.orchestrator` and the tests start it."""

from __future__ import annotations

import contextlib
import logging
import time
from functools import partial

from google.protobuf import timestamp_pb2

from aiorch.v1 import (
    assistant_pb2_grpc,
    classifier_pb2_grpc,
    embeddings_pb2_grpc,
    meeting_intel_pb2_grpc,
)
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.channels import Link
from services.common.database import Database, refuse_unshared
from services.common.loops import Repeat
from services.common.probe import Peers
from services.orchestrator import metrics
from services.orchestrator.activity import ActivityTracker
from services.orchestrator.breaker import CircuitBreaker
from services.orchestrator.cache import ResultCache
from services.orchestrator.cache_keys import Keys
from services.orchestrator.contexts import Contexts
from services.orchestrator.events import EventHub
from services.orchestrator.executor import Downstream, Executor
from services.orchestrator.health import check_all
from services.orchestrator.intake import Intake
from services.orchestrator.notices import Notices
from services.orchestrator.optimize import measure
from services.orchestrator.orchestrator import Orchestrator
from services.orchestrator.recovery import Leases, lease_owner
from services.orchestrator.runs import Runs
from services.orchestrator.scheduler import Scheduler
from services.orchestrator.servicer import OrchestratorServicer
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.shared_queue import SharedQueue
from services.orchestrator.stats import CallStats
from services.orchestrator.store import WorkflowStore
from services.orchestrator.validation import validate_create

log = logging.getLogger("aiorch.orchestrator")

# The services steps call, and their stubs.
STUBS = {
    "classifier": classifier_pb2_grpc.ClassifierServiceStub,
    "meeting_intel": meeting_intel_pb2_grpc.MeetingIntelServiceStub,
    "embeddings": embeddings_pb2_grpc.EmbeddingsServiceStub,
    "assistant": assistant_pb2_grpc.AssistantServiceStub,
}


async def open_orchestrator(
    settings: OrchestratorSettings, stack: contextlib.AsyncExitStack
) -> tuple[OrchestratorServicer, Orchestrator]:
    """A started orchestrator and its servicer; everything it opened closes on `stack`,
    after it stopped."""
    database_url = settings.database_url.get_secret_value()
    refuse_unshared(database_url, settings.orchestrator_replicas, "orchestrator")
    db = await Database.open(database_url)
    stack.push_async_callback(db.close)
    store = await WorkflowStore.open(db)
    services: dict[str, Downstream] = {}
    for name, stub in STUBS.items():
        link = Link(name, settings.addr_of(name), settings.unreachable_fail_fast_seconds)
        stack.push_async_callback(link.close)
        breaker = CircuitBreaker(settings.breaker_failures, settings.breaker_reset_seconds)
        services[name] = Downstream(stub(link.channel), link, breaker)
    redis_url = settings.redis_url.get_secret_value()
    cache = ResultCache.open(settings.cache_l1_size, redis_url, settings.cache_key_prefix)
    stack.push_async_callback(cache.close)
    keys = Keys(lambda service: services[service].link.connected_at)
    events, stats = EventHub(), CallStats()
    executor = Executor(
        store,
        services,
        cache,
        keys,
        events,
        stats,
        owner=lease_owner(settings.orchestrator_node),
        margin=settings.deadline_margin_seconds,
        breaker_min_timeout=settings.breaker_min_timeout_seconds,
        max_text_chars=settings.max_text_chars,
    )
    sizes: dict[int, int] = {
        pb.PRIORITY_HIGH: settings.queue_size_high,
        pb.PRIORITY_NORMAL: settings.queue_size_normal,
        pb.PRIORITY_LOW: settings.queue_size_low,
    }
    scheduler = Scheduler(sizes, settings.orchestrator_workers, settings.queue_max_bytes)
    ttl = partial(_cache_ttl, settings=settings)
    runs = Runs(store, executor, scheduler, events, keys, ttl)
    leases = Leases(
        store,
        runs,
        executor.owner,
        settings.orchestrator_node,
        settings.workflow_lease_seconds,
        settings.max_interruptions,
    )
    queue = None
    if db.dialect == "postgresql":
        queue = SharedQueue(store, runs, scheduler, leases, sizes, settings.orchestrator_replicas)
        runs.on_finish = queue.freed
        notices = Notices(db, store, runs, queue, events)
        await notices.start()
        stack.push_async_callback(notices.stop)
    intake = Intake(
        store,
        cache,
        keys,
        scheduler,
        runs,
        leases,
        Contexts(services),
        timeout=lambda spec: spec.timeout(settings),
        cache_ttl=ttl,
        async_timeout=settings.async_timeout_seconds,
        queue=queue,
    )
    validate = partial(validate_create, settings=settings)
    orchestrator = Orchestrator(intake, runs, leases, store, events, validate)
    breakers = {name: service.breaker for name, service in services.items()}
    metrics.watch(scheduler, breakers, cache, queue)
    await orchestrator.start()
    stack.push_async_callback(orchestrator.stop)
    retention = Repeat("workflow-retention", 3600.0, partial(_prune, store, settings))
    retention.start(first_in=0.0)
    stack.push_async_callback(retention.stop)
    peers = Peers({name: settings.addr_of(name) for name in services})
    stack.push_async_callback(peers.close)
    activity = ActivityTracker(settings.monitor_addr)
    stack.push_async_callback(activity.close)
    servicer = OrchestratorServicer(
        orchestrator,
        cache,
        activity,
        health=partial(check_all, peers, breakers, cache, bool(redis_url)),
        measure=partial(measure, settings, scheduler, cache, stats, breakers),
        settings=settings,
    )
    return servicer, orchestrator


async def _prune(store: WorkflowStore, settings: OrchestratorSettings) -> None:
    cutoff = timestamp_pb2.Timestamp()
    cutoff.FromNanoseconds(int((time.time() - settings.workflow_retention_days * 86400) * 1e9))
    if removed := await store.prune(cutoff.ToJsonString()):
        log.info("finished workflows past their retention deleted", extra={"count": removed})


def _cache_ttl(spec, settings: OrchestratorSettings) -> float:
    return spec.cache_ttl(settings)

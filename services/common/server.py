"""One way to run a gRPC service: grpc.aio, standard health, reflection, graceful drain,
telemetry.

`create_server` builds a server on any address (tests use port 0), every handler wrapped
in the access log and metrics, error mapping and the caller (tracing, when on, is an
interceptor around them); `run` is what a service's `__main__` calls: it installs
tracing, serves the Prometheus endpoint, builds the service, serves until SIGTERM or
SIGINT, then reports NOT_SERVING, lets in-flight calls finish within the grace period,
flushes the last spans and exits 0. A stop that still waits `CLOSE_SECONDS` after the
grace logs what each task waits on and exits 1: a process that ignores SIGTERM would hold
its pod until the kubelet's SIGKILL, and tell no one why.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import signal
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import grpc
import uvloop
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.common import handlers, telemetry
from services.common.access import AccessLog
from services.common.logs import configure_logging
from services.common.metrics import serve_metrics
from services.common.settings import Settings, get_settings

log = logging.getLogger("aiorch.server")

SERVER_OPTIONS = [
    # Clients ping every 30 s (see channels.py); allow it so the server never answers
    # with GOAWAY "too_many_pings".
    ("grpc.keepalive_permit_without_calls", 1),
    ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
    # Clients re-resolve when a connection ends: ending each after five minutes lets them
    # find replicas added since (autoscaling), without cutting calls in flight.
    ("grpc.max_connection_age_ms", 300_000),
    ("grpc.max_connection_age_grace_ms", 30_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


# What a stop may take beyond the grace: closing the store, the cache, the channels.
CLOSE_SECONDS = 10.0


@dataclass(frozen=True)
class Service:
    """A servicer and how to register it."""

    name: str  # full proto name, e.g. "aiorch.v1.EmbeddingsService"
    servicer: object
    add_to_server: Callable[[object, handlers.Registrar], None]
    # Work of the service's own that outlives a call (queued workflows): given the seconds
    # left of the stop's grace, it ends or hands back that work meanwhile, while the
    # server drains its calls. One grace for both, so the whole stop fits the pod's.
    drain: Callable[[float], Awaitable[None]] | None = None


@dataclass
class Server:
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    names: tuple[str, ...]

    async def start(self) -> None:
        await self.server.start()
        for name in ("", *self.names):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)

    async def stop(self, grace: float) -> None:
        """Report NOT_SERVING, refuse new calls, give in-flight ones `grace` seconds."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)


def create_server(services: Sequence[Service], addr: str) -> Server:
    server = grpc.aio.server(interceptors=telemetry.server_interceptors(), options=SERVER_OPTIONS)
    access = AccessLog(get_settings().log_key.get_secret_value())

    def wrap(method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        if method.startswith("/grpc."):
            # gRPC's own (health): not ours to log, and health's Watch writes through its
            # context where the wrappers expect a stream to be an async generator.
            return handler
        # Outermost first: the access log sees the status the error mapping gave.
        return access.wrap(method, handlers.errors(handlers.reading_caller(handler)))

    registrar = handlers.Registrar(server, wrap)
    for service in services:
        service.add_to_server(service.servicer, registrar)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, registrar)
    names = tuple(s.name for s in services)
    # Reflection lists every RPC to whoever connects: on for development (grpcurl), off
    # where AIORCH_REFLECTION=off (the Kubernetes manifests set it). Registered unwrapped:
    # it picks its asyncio servicer by the server's type, and gRPC's own services are not
    # logged anyway.
    if os.environ.get("AIORCH_REFLECTION", "on").lower() not in ("off", "0", "false"):
        reflection.enable_server_reflection(
            (*names, health.SERVICE_NAME, reflection.SERVICE_NAME), server
        )
    port = server.add_insecure_port(addr)
    return Server(server, port, health_servicer, names)


# A service's builder makes its servicers from its settings; whatever it opens it
# registers on the exit stack, which closes after the server has drained.
S = TypeVar("S", bound=Settings)
Builder = Callable[[S, contextlib.AsyncExitStack], Awaitable[Sequence[Service]]]


async def serve(service: str, build: Builder[S], settings: S) -> None:
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stopping.set)
    async with contextlib.AsyncExitStack() as stack:
        tracing = telemetry.install_tracing(service)
        if tracing is not None:
            stack.callback(tracing.shutdown)  # last out: exports the spans still buffered
        metrics_addr = settings.metrics_listen_addr_of(service)
        if metrics_addr:
            stack.callback(serve_metrics(metrics_addr).shutdown)
            log.info("metrics", extra={"service": service, "addr": metrics_addr})
        services = await build(settings, stack)
        addr = settings.listen_addr_of(service)
        server = create_server(services, addr)
        await server.start()
        log.info("serving", extra={"service": service, "addr": addr, "port": server.port})
        await stopping.wait()
        log.info("draining", extra={"service": service, "grace_s": settings.grace_seconds})
        grace = settings.grace_seconds
        overrun = loop.call_later(grace + CLOSE_SECONDS, _overran, service)
        drains = [s.drain(grace) for s in services if s.drain is not None]
        await asyncio.gather(server.stop(grace), *drains)
    overrun.cancel()  # stopped in time: a slow teardown of the loop is no overrun
    log.info("stopped", extra={"service": service})


def _overran(service: str) -> None:
    """The stop still waits: say on what, then exit without waiting any longer."""
    stacks = io.StringIO()
    for task in asyncio.all_tasks():
        task.print_stack(limit=8, file=stacks)
    log.error(
        "the stop overran its grace; exiting now",
        extra={"service": service, "close_s": CLOSE_SECONDS, "tasks": stacks.getvalue()},
    )
    logging.shutdown()
    os._exit(1)


def run(service: str, build: Builder[S], settings_type: type[S]) -> None:
    """Entry point of `python -m services.<service>`, with the service's own settings
    (`services/<service>/settings.py`: the runtime's and its own, read from AIORCH_*)."""
    settings = settings_type()
    configure_logging(settings.log_level)
    # On uvloop, libuv's event loop in C: each call's wakeups, callbacks and the grpc
    # poller's hand-offs to the loop cost less CPU than on asyncio's own loop in Python
    # (a trivial RPC: about a fifth less of the server's CPU; `make bench` has the rest).
    uvloop.run(serve(service, build, settings))

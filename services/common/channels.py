"""One way to call another service: a grpc.aio channel with retries, balancing, keepalive.

Retries are declared in the gRPC service config, so the library applies them with
exponential backoff and jitter, and never past the call's deadline. Calls wait for the
channel to be ready (waitForReady): a service that restarts is waited for within the
call's deadline instead of failing the call at once. `Link` adds the other half: once a
service has been out of reach for a while, calls to it fail fast with that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import grpc

from services.common import telemetry
from services.common.errors import Unavailable
from services.common.metrics import MeteredChannel

RETRY_POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.05s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    # Only what is transient. UNAVAILABLE: the call never reached a server that could act
    # on it; a server whose work on it began and was cut short (a workflow handed back by
    # a stop) answers with the call committed, which no policy retries (handlers.py).
    # RESOURCE_EXHAUSTED: our servers answer it only when overloaded, with a
    # grpc-retry-pushback-ms trailer (services/common/errors.py Overloaded) that the retry
    # waits out instead of the backoff; a server that must not be retried sends a negative
    # pushback, which ends the retries. (gRPC's own RESOURCE_EXHAUSTED, a message over the
    # size limit, carries none and is retried with backoff: wasted, but bounded.)
    # CANCELLED: what a stopping gRPC server answers the calls it had taken but no handler
    # had yet (grpc/grpc#41785), which a restart leaves behind; our servers send it for
    # nothing else (a downstream's is passed on as UNAVAILABLE), and a caller's own
    # cancellation ends its call, never retries it. The gateway retries it too.
    "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED", "CANCELLED"],
}

# A struggling service is not sent a retry storm: each failed attempt costs a token, each
# success earns a tenth back, and below half of the tokens the channel stops retrying.
# (Calls that wait for a restarting service cost no tokens while they wait; only the calls
# in flight when it died are retried, so the bucket is sized for a few dozen of those.)
RETRY_THROTTLING = {"maxTokens": 100, "tokenRatio": 0.1}

SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [{"name": [{}], "waitForReady": True, "retryPolicy": RETRY_POLICY}],
        "retryThrottling": RETRY_THROTTLING,
    }
)

CHANNEL_OPTIONS = [
    ("grpc.service_config", SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    # gRPC's default reconnect backoff grows from 1 s to 120 s, so a service back after a
    # long outage would stay unused for up to two minutes. Connecting to a host that is
    # down costs one refused TCP handshake: try every half second at most.
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


def open_channel(addr: str) -> MeteredChannel:
    """A channel to `addr`: host:port, whose DNS name lets round_robin see every replica
    (a Kubernetes headless Service), or replicas listed as ip:port,ip:port (no DNS); a
    gRPC target with its scheme (dns:, ipv4:, unix:) is taken as it is."""
    target = _target(addr)
    # Tracing's interceptors (when on) inside the client metrics, which time the whole call.
    interceptors = telemetry.client_interceptors() or None
    channel = grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS, interceptors=interceptors)
    return MeteredChannel(channel)


def _target(addr: str) -> str:
    if "://" in addr or addr.startswith(("dns:", "ipv4:", "ipv6:", "unix:")):
        return addr
    if "," in addr:
        return f"ipv4:{addr}"
    return f"dns:///{addr}"


class Link:
    """A channel to one service, and since when that service has been out of reach.

    A background task follows the channel's connectivity (and keeps it connecting). Calls
    made through `call` wait for a service that is restarting, but once it has been
    unreachable for `fail_fast_after` seconds they end with Unavailable and the reason,
    as does any call begun after that: callers stop queueing behind an outage that
    outlasts a restart. `ready_at` is when it last became reachable, so a circuit breaker
    that opened before then can start afresh. Open it inside a running event loop.
    """

    def __init__(self, name: str, addr: str, fail_fast_after: float, clock=time.monotonic):
        self.name = name
        self.channel = open_channel(addr)
        self.fail_fast_after = fail_fast_after
        self.clock = clock
        self.down_since: float | None = None
        self.ready_at = 0.0  # when it last became reachable
        self._ready = False
        self._waiting: set = set()  # calls in flight, which give-up cancels
        self._abandoned: set = set()
        self._task = asyncio.create_task(self._watch())

    def check(self) -> None:
        """Raises Unavailable when the service has been unreachable too long."""
        if self.down_since is None:
            return
        down = self.clock() - self.down_since
        if down >= self.fail_fast_after:
            raise Unavailable(f"{self.name} has been unreachable for {down:.1f} s")

    async def call(self, call):
        """The reply of `call` (a call on this link's channel), or Unavailable once the
        service has been out of reach for too long while the call waited for it.

        A grpc.aio call starts when it is made: one that is not awaited to its end must be
        cancelled, or it waits in the channel and goes out when the service is back (a
        flood of calls nobody waits for, right when the service restarts)."""
        try:
            self.check()
        except Unavailable:
            call.cancel()
            raise
        self._waiting.add(call)
        try:
            return await call
        except (asyncio.CancelledError, grpc.aio.AioRpcError):
            if call in self._abandoned:
                raise Unavailable(
                    f"{self.name} has been unreachable for {self.fail_fast_after:.1f} s"
                ) from None
            raise
        finally:
            self._waiting.discard(call)
            self._abandoned.discard(call)

    @property
    def connected_at(self) -> float | None:
        """When the current connection became ready; None while there is none. A service
        that restarted, however quickly, is a new connection."""
        return self.ready_at if self._ready else None

    def saw(self, state: grpc.ChannelConnectivity) -> None:
        if state is grpc.ChannelConnectivity.READY:
            if not self._ready:
                self.ready_at = self.clock()
            self._ready = True
            self.down_since = None
            return
        self._ready = False
        if state is grpc.ChannelConnectivity.TRANSIENT_FAILURE and self.down_since is None:
            self.down_since = since = self.clock()
            asyncio.get_running_loop().call_later(self.fail_fast_after, self._give_up, since)

    def _give_up(self, since: float) -> None:
        """Down all along since `since`: the calls still waiting for the service end."""
        if self.down_since != since:
            return
        for call in self._waiting:
            self._abandoned.add(call)
            call.cancel()

    async def _watch(self) -> None:
        while True:
            state = self.channel.get_state(try_to_connect=True)
            self.saw(state)
            await self.channel.wait_for_state_change(state)

    async def close(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        await self.channel.close()

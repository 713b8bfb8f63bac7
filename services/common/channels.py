"""One way to call another service: a grpc.aio channel with retries, balancing, keepalive.

Retries are declared in the gRPC service config, so the library applies them with
exponential backoff and jitter, and never past the call's deadline.
"""

from __future__ import annotations

import json

import grpc

from services.common import telemetry
from services.common.metrics import StreamClientMetrics, UnaryClientMetrics

RETRY_POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.05s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    # Only what is transient. UNAVAILABLE: the call never reached a server that could act
    # on it. RESOURCE_EXHAUSTED: our servers answer it only when overloaded, with a
    # grpc-retry-pushback-ms trailer (services/common/errors.py Overloaded) that the retry
    # waits out instead of the backoff; a server that must not be retried sends a negative
    # pushback, which ends the retries. (gRPC's own RESOURCE_EXHAUSTED, a message over the
    # size limit, carries none and is retried with backoff: wasted, but bounded.)
    "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"],
}

# A struggling service is not sent a retry storm: each failed attempt costs a token, each
# success earns a tenth back, and below half of the tokens the channel stops retrying.
RETRY_THROTTLING = {"maxTokens": 10, "tokenRatio": 0.1}

SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [{"name": [{}], "retryPolicy": RETRY_POLICY}],
        "retryThrottling": RETRY_THROTTLING,
    }
)

CHANNEL_OPTIONS = [
    ("grpc.service_config", SERVICE_CONFIG),
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


def open_channel(addr: str) -> grpc.aio.Channel:
    """A channel to `addr` (host:port); DNS resolution lets round_robin see every replica."""
    target = addr if "://" in addr or addr.startswith("dns:") else f"dns:///{addr}"
    # Tracing (when on) outermost, so the client metrics time the call inside its span.
    interceptors = [*telemetry.client_interceptors(), UnaryClientMetrics(), StreamClientMetrics()]
    return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS, interceptors=interceptors)

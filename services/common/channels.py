"""One way to call another service: a grpc.aio channel with retries, balancing, keepalive.

Retries are declared in the gRPC service config, so the library applies them with
exponential backoff and jitter, and never past the call's deadline.
"""

from __future__ import annotations

import json

import grpc

RETRY_POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.05s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    # Only what is transient: the call never reached a server that could act on it.
    "retryableStatusCodes": ["UNAVAILABLE"],
}

SERVICE_CONFIG = json.dumps(
    {
        "loadBalancingConfig": [{"round_robin": {}}],
        "methodConfig": [{"name": [{}], "retryPolicy": RETRY_POLICY}],
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
    return grpc.aio.insecure_channel(target, options=CHANNEL_OPTIONS)

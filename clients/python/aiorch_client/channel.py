"""The gRPC channel every client call goes through: the suite's own retry service config.

The policy is the one the services use between themselves (services/common/channels.py;
a test keeps the two equal): retries on UNAVAILABLE, RESOURCE_EXHAUSTED and the CANCELLED
a stopping server answers calls no handler took yet, with backoff and jitter, obeying the
server's pushback, throttled, never past the deadline.
"""

from __future__ import annotations

import json

import grpc

RETRY_POLICY = {
    "maxAttempts": 4,
    "initialBackoff": "0.05s",
    "maxBackoff": "1s",
    "backoffMultiplier": 2,
    "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED", "CANCELLED"],
}
# A struggling service is not sent a retry storm (see services/common/channels.py).
RETRY_THROTTLING = {"maxTokens": 100, "tokenRatio": 0.1}


def service_config(wait_for_ready: bool = True) -> str:
    """The services' config. With `wait_for_ready` a call to a service that is restarting
    waits for it (up to the deadline); without, it fails at once with UNAVAILABLE, which
    is what a person at a command line wants to hear."""
    return json.dumps(
        {
            "loadBalancingConfig": [{"round_robin": {}}],
            "methodConfig": [
                {"name": [{}], "waitForReady": wait_for_ready, "retryPolicy": RETRY_POLICY}
            ],
            "retryThrottling": RETRY_THROTTLING,
        }
    )


SERVICE_CONFIG = service_config()
OPTIONS = [
    ("grpc.enable_retries", 1),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 500),
]


def open_channel(
    addr: str, credentials: grpc.ChannelCredentials | None = None, wait_for_ready: bool = True
) -> grpc.aio.Channel:
    """A channel to `addr` (host:port); TLS when `credentials` are given."""
    target = addr if "://" in addr or addr.startswith("dns:") else f"dns:///{addr}"
    options = [("grpc.service_config", service_config(wait_for_ready)), *OPTIONS]
    if credentials is None:
        return grpc.aio.insecure_channel(target, options=options)
    return grpc.aio.secure_channel(target, credentials, options=options)

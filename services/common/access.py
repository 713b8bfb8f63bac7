"""What every finished call leaves behind: a JSON log line, the RPC metrics, the status on
its trace span, and for calls that change state an audit line.

Wrapped around every handler by `create_server`, inside the tracing interceptor, so each
line carries the call's trace and span ids (services.common.logs). Lines name the caller
by a pseudonym (HMAC of the user id under AIORCH_LOG_KEY) and a message by its size,
never its text.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache, partial
from typing import Any

import grpc
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from services.common import metrics
from services.common.caller import MAX_USER_ID_CHARS, ROLES_HEADER, USER_HEADER, from_metadata

log = logging.getLogger("aiorch.rpc")
audit_log = logging.getLogger("aiorch.audit")

_ORCHESTRATOR = "/aiorch.v1.OrchestratorService/"
# An audit line quotes at most this much of a target: an id taken from the request is
# whatever the caller sent (the line is written whether or not the request was valid).
MAX_TARGET_CHARS = 200
# Calls that change state, and where the id of what they changed is: in the request, or
# in the reply when the call creates it.
AUDITED: dict[str, Callable[[Any, Any], str]] = {
    _ORCHESTRATOR + "CreateWorkflow": lambda req, rep: rep.workflow.workflow_id if rep else "",
    _ORCHESTRATOR + "CancelWorkflow": lambda req, rep: req.workflow_id,
    _ORCHESTRATOR + "CreateBatch": lambda req, rep: rep.batch_id if rep else "",
    _ORCHESTRATOR + "InvalidateCache": lambda req, rep: req.pattern,
    "/aiorch.v1.MonitorService/TrackActivity": lambda req, rep: rep.activity_id if rep else "",
    "/aiorch.v1.MonitorService/TrackActivities": (
        lambda req, rep: ",".join(rep.activity_ids) if rep else ""
    ),
    "/aiorch.v1.ClassifierService/RegisterLabelSet": (
        lambda req, rep: rep.label_set_id if rep else ""
    ),
    "/aiorch.v1.AssistantService/IndexDocument": lambda req, rep: req.source_id,
    "/aiorch.v1.AssistantService/DeleteDocument": lambda req, rep: req.source_id,
}

# Codes that mean the server failed (a gateway answers them with 5xx); the others are the
# caller's doing or a normal outcome, and leave the span's status unset.
SERVER_ERRORS = frozenset(
    {
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNIMPLEMENTED,
    }
)
SERVER_ERROR_NAMES = frozenset(code.name for code in SERVER_ERRORS)


def _hmac(key: bytes, user: str) -> str:
    return hmac.new(key, user.encode(), hashlib.sha256).hexdigest()[:16]


# One HMAC per caller, not per call: a service hears the same callers again and again (an
# HMAC, its object made anew each time, is about 1% of the orchestrator's CPU).
_pseudonym = lru_cache(maxsize=4096)(_hmac)


@lru_cache(maxsize=1024)
def _children(labels: tuple[str, str, str], code: str):
    """The counter and histogram children of a method and code: looked up once, not on
    every call (a lookup takes the metric's lock)."""
    return (
        metrics.SERVER_HANDLED.labels(*labels, code),
        metrics.SERVER_SECONDS.labels(*labels, code),
    )


def _reply_size(reply) -> dict:
    return {"reply_bytes": reply.ByteSize()} if reply is not None else {}


def _final_code(context, error: BaseException | None) -> grpc.StatusCode:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code
    if isinstance(code, int):  # some grpc versions hand back the number
        return next((c for c in grpc.StatusCode if c.value[0] == code), grpc.StatusCode.UNKNOWN)
    if error is None:
        return grpc.StatusCode.OK
    if isinstance(error, (asyncio.CancelledError, GeneratorExit)):  # the caller went away
        return grpc.StatusCode.CANCELLED
    return grpc.StatusCode.UNKNOWN


class _Call:
    """One call in progress: what the line, the metrics and the audit need to know."""

    __slots__ = ("admin", "at", "caller", "labels", "method")

    def __init__(self, method: str, labels: tuple[str, str, str], caller: str, admin: bool):
        self.method = method
        self.labels = labels
        self.caller = caller
        self.admin = admin
        self.at = time.perf_counter()

    def end(self, context, error, request, reply, fields: Callable[[], dict]) -> None:
        """`fields`: the line's fields of this kind of call, asked for when it is written."""
        seconds = time.perf_counter() - self.at
        code = _final_code(context, error)
        handled, timed = _children(self.labels, code.name)
        handled.inc()
        timed.observe(seconds)
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attribute("rpc.grpc.status_code", code.value[0])
            if code in SERVER_ERRORS:
                span.set_status(Status(StatusCode.ERROR, code.name))
        # The line is built only when it is written: sizing the messages is work too.
        if log.isEnabledFor(logging.INFO):
            line = {"method": self.method, "code": code.name, "ms": round(seconds * 1000, 2)}
            if self.caller:
                line["caller"] = self.caller
            line["request_bytes"] = request.ByteSize()
            log.info("rpc", extra=line | fields())
        target = AUDITED.get(self.method)
        if target is not None and audit_log.isEnabledFor(logging.INFO):
            audit_log.info(
                "audit",
                extra={
                    "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
                    "caller": self.caller,
                    "admin": self.admin,
                    "action": self.method,
                    "target": target(request, reply)[:MAX_TARGET_CHARS],
                    "code": code.name,
                },
            )


class AccessLog:
    """Logs, counts and times every call when it ends (a stream: when it closes)."""

    def __init__(self, log_key: str = ""):
        self._key = log_key.encode() if log_key else secrets.token_bytes(32)

    def pseudonym(self, user: str) -> str:
        if len(user) > MAX_USER_ID_CHARS:  # refused by the call; not worth a cache entry
            return _hmac(self._key, user)
        return _pseudonym(self._key, user)

    def _call(self, method: str, labels: tuple[str, str, str], metadata) -> _Call:
        """The call's record, naming its verified caller (services.common.caller's reading
        of x-user-id and x-user-roles) by pseudonym."""
        if not any(key in (USER_HEADER, ROLES_HEADER) for key, _ in metadata or ()):
            return _Call(method, labels, "", False)
        caller = from_metadata(metadata)
        pseudonym = self.pseudonym(caller.user_id) if caller.user_id else ""
        return _Call(method, labels, pseudonym, caller.is_admin)

    def wrap(self, method: str, handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
        """`handler` of `method`, logged, counted and timed."""
        grpc_service, name = metrics.split_method(method)
        service = metrics.service_name(grpc_service)
        if handler.unary_unary:
            behavior = handler.unary_unary
            labels = (grpc_service, name, "unary")
            started = metrics.SERVER_STARTED.labels(*labels)

            async def unary(request, context):
                metrics.current_service.set(service)
                started.inc()
                call = self._call(method, labels, context.invocation_metadata())
                reply = error = None
                try:
                    reply = await behavior(request, context)
                    return reply
                except BaseException as raised:
                    error = raised
                    raise
                finally:
                    call.end(context, error, request, reply, partial(_reply_size, reply))

            return handler._replace(unary_unary=unary)
        if handler.unary_stream:
            stream_behavior = handler.unary_stream
            stream_labels = (grpc_service, name, "server_stream")
            stream_started = metrics.SERVER_STARTED.labels(*stream_labels)

            async def stream(request, context):
                metrics.current_service.set(service)
                stream_started.inc()
                call = self._call(method, stream_labels, context.invocation_metadata())
                sent = 0
                error = None
                try:
                    async for reply in stream_behavior(request, context):
                        sent += 1
                        yield reply
                except BaseException as raised:
                    error = raised
                    raise
                finally:
                    call.end(context, error, request, None, lambda: {"messages_sent": sent})

            return handler._replace(unary_stream=stream)
        return handler

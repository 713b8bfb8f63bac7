"""Domain errors and their one mapping to gRPC status with google.rpc details.

Domain code raises these and knows nothing of gRPC; the runtime's error mapping
(services.common.handlers) turns them into a status the client can read field by field
(`rpc_status.from_call`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

# What a client may read of any message: bounded (an error must never echo a huge input
# back; grpc-message travels as a header) and without network addresses of our own.
MAX_MESSAGE_CHARS = 1000
MAX_REASON_CHARS = 300
# Field violations a downstream refusal passes on: each travels in a trailer, which gRPC
# bounds (8 KiB of metadata by default).
MAX_PASSED_VIOLATIONS = 10
_ADDRESS = re.compile(
    r"(?:ipv[46]:|unix:)\S+|\[[0-9A-Fa-f]*:[0-9A-Fa-f:.]*\](?::\d+)?"
    r"|\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"
)


def public_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`text` as a client may see it: addresses replaced, cut to `limit` characters."""
    text = _ADDRESS.sub("<address>", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class Violation:
    field: str
    reason: str


class DomainError(Exception):
    """An error a client should see as it is, with a status code."""

    code = grpc.StatusCode.INTERNAL

    def status(self) -> status_pb2.Status:
        return status_pb2.Status(code=self.code.value[0], message=public_text(str(self)))

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        """Metadata sent with the status besides its details."""
        return ()


class InvalidInput(DomainError):
    """The request is wrong; `violations` say which fields and why."""

    code = grpc.StatusCode.INVALID_ARGUMENT

    def __init__(self, field: str = "", reason: str = "", *, violations=(), message: str = ""):
        # With a `message` of its own (a refusal passed on) there may be no violations.
        self.violations = tuple(violations) or (() if message else (Violation(field, reason),))
        super().__init__(message or "; ".join(f"{v.field}: {v.reason}" for v in self.violations))

    def under(self, prefix: str) -> InvalidInput:
        """The same violations, with fields named from an enclosing message."""
        return InvalidInput(
            violations=[Violation(f"{prefix}.{v.field}", v.reason) for v in self.violations]
        )

    def status(self) -> status_pb2.Status:
        if not self.violations:
            return super().status()
        details = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(
                    field=v.field[:MAX_REASON_CHARS],
                    description=public_text(v.reason, MAX_REASON_CHARS),
                )
                for v in self.violations
            ]
        )
        return _with_details(super().status(), details)


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class Overloaded(DomainError):
    """Too much work right now; the client may retry after `retry_after` seconds."""

    code = grpc.StatusCode.RESOURCE_EXHAUSTED

    def __init__(self, message: str, retry_after: float):
        self.retry_after = retry_after
        super().__init__(message)

    def status(self) -> status_pb2.Status:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(self.retry_after * 1e9))
        return _with_details(super().status(), error_details_pb2.RetryInfo(retry_delay=delay))

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        # grpc-retry-pushback-ms is what gRPC clients' retry policy obeys (see channels.py);
        # retry-after is what an HTTP client reads once the gateway has made this a 429.
        return (
            ("grpc-retry-pushback-ms", str(max(0, round(self.retry_after * 1000)))),
            ("retry-after", str(max(1, math.ceil(self.retry_after)))),
        )


class QuotaSpent(Overloaded):
    """The caller has spent a quota of their own (a daily token budget): RESOURCE_EXHAUSTED
    like Overloaded, but about this caller, not the service. It carries a QuotaFailure
    detail naming the quota, so a client of the service (the orchestrator's breakers) can
    tell one user's spent budget from a service in trouble."""

    def __init__(self, message: str, retry_after: float, subject: str):
        self.subject = subject
        super().__init__(message, retry_after)

    def status(self) -> status_pb2.Status:
        violation = error_details_pb2.QuotaFailure.Violation(
            subject=self.subject, description=str(self)
        )
        failure = error_details_pb2.QuotaFailure(violations=[violation])
        return _with_details(super().status(), failure)

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        # A negative pushback tells gRPC clients not to retry (services/common/channels.py):
        # a retry hours later would only wait out the caller's deadline.
        return (
            ("grpc-retry-pushback-ms", "-1"),
            ("retry-after", str(max(1, math.ceil(self.retry_after)))),
        )


def is_quota_spent(error: grpc.aio.AioRpcError) -> bool:
    """Whether a failed call says its caller's own quota is spent (QuotaSpent)."""
    if error.code() != grpc.StatusCode.RESOURCE_EXHAUSTED:
        return False
    status = _rich_status(error)
    details = status.details if status else ()
    return any(d.Is(error_details_pb2.QuotaFailure.DESCRIPTOR) for d in details)


class PermissionDenied(DomainError):
    """The caller may not do this (e.g. an admin RPC without the admin token)."""

    code = grpc.StatusCode.PERMISSION_DENIED


# The trailer of a refusal after which the same call sent again, to any replica, is safe
# whatever the method: nothing of it was done, or a retry joins what was. The gateway
# retries on it (its retry_policy in gateway/envoy.yaml.tmpl), so a replica stopping
# under a rolling update costs no client.
RETRY_SAFE = "aiorch-retry-safe"


class Unavailable(DomainError):
    """A dependency cannot be reached, or this process is stopping; transient.

    `retry_safe`: nothing of the call was done here (or what was, the same request sent
    again joins), so a retry is safe even for a method that is not idempotent.

    `began`: the call began work that sending it again would repeat (a workflow's steps
    ran). The answer commits the call first, so no gRPC retry policy sends it again: the
    caller decides."""

    code = grpc.StatusCode.UNAVAILABLE

    def __init__(self, message: str, *, retry_safe: bool = False, began: bool = False):
        self.retry_safe = retry_safe
        self.began = began and not retry_safe
        super().__init__(message)

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return ((RETRY_SAFE, "true"),) if self.retry_safe else ()


class DeadlineExceeded(DomainError):
    code = grpc.StatusCode.DEADLINE_EXCEEDED


class Unauthenticated(DomainError):
    """The call does not say who is calling, and the RPC needs to know."""

    code = grpc.StatusCode.UNAUTHENTICATED


def _with_details(status: status_pb2.Status, *details) -> status_pb2.Status:
    for detail in details:
        packed = any_pb2.Any()
        packed.Pack(detail)
        status.details.append(packed)
    return status


def internal_status() -> status_pb2.Status:
    """What a client sees of an unexpected exception: no trace, no internals."""
    return status_pb2.Status(code=code_pb2.INTERNAL, message="internal error")


def status_of(error: BaseException) -> tuple[status_pb2.Status, tuple, bool]:
    """(status, trailing metadata, expected) of a call that failed with `error`: a
    downstream failure passed on, a domain error as itself, an RPC not built yet as
    UNIMPLEMENTED; anything else is INTERNAL, and `expected` False (a bug to log)."""
    if isinstance(error, grpc.aio.AioRpcError):
        error = from_downstream(error)
    if isinstance(error, DomainError):
        return error.status(), error.trailing_metadata(), True
    if isinstance(error, NotImplementedError):
        # What the generated servicer base raises for an RPC a service has not built.
        return (
            status_pb2.Status(code=code_pb2.UNIMPLEMENTED, message="not implemented yet"),
            (),
            True,
        )
    return internal_status(), (), False


def field_violations(status: status_pb2.Status) -> dict[str, str]:
    """The BadRequest field violations of a status, as {field: description}."""
    found = {}
    for detail in status.details:
        bad = error_details_pb2.BadRequest()
        if detail.Unpack(bad):
            found.update({v.field: v.description for v in bad.field_violations})
    return found


def from_downstream(error: grpc.aio.AioRpcError) -> Exception:
    """What our caller should see when a service we called failed: the transient kinds as
    themselves, so the caller may retry or give up in time; a refused argument as our
    caller's invalid input (we pass on what it sent: a label too long for the embeddings
    service is the caller's to fix, and must not count against us as a failure); anything
    else stays our own fault (an INTERNAL error)."""
    code = error.code()
    if code in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.OUT_OF_RANGE):
        status = _rich_status(error)
        found = field_violations(status) if status else {}
        violations = [Violation(f, r) for f, r in found.items()][:MAX_PASSED_VIOLATIONS]
        return InvalidInput(
            violations=violations,
            message=public_text(
                f"a service this call needs refused part of the request: {error.details() or ''}"
            ),
        )
    if code == grpc.StatusCode.UNAVAILABLE:
        return Unavailable(f"a service this call needs is unavailable: {error.details()}")
    if code == grpc.StatusCode.CANCELLED:
        # Not asked for by our caller (its own cancellation never reaches this point): the
        # call was cut by a service restarting or a connection lost, which a retry mends.
        return Unavailable("a call to a service this call needs was cut short")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded("the deadline passed while waiting for another service")
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry_after = 1.0
        status = _rich_status(error)
        for detail in status.details if status else ():
            info = error_details_pb2.RetryInfo()
            if detail.Unpack(info):
                retry_after = info.retry_delay.ToNanoseconds() / 1e9
        return Overloaded(
            f"a service this call needs is overloaded: {error.details()}", retry_after
        )
    return error


def _rich_status(error: grpc.aio.AioRpcError) -> status_pb2.Status | None:
    """The google.rpc.Status a failed call carries, if any that agrees with the call."""
    try:
        return rpc_status.from_call(error)
    except ValueError:  # details that contradict the call's code or message: ignored
        return None

"""Exceptions of the client: one class per meaning, each carrying the gRPC status details.

Every failed call raises an `AiorchError` subclass instead of a bare `grpc.RpcError`:
`InvalidArgument.field_violations` says which fields were wrong, `ResourceExhausted
.retry_after` how long to wait, `WorkflowFailed.failed_steps` which steps of a workflow
failed and why. `exit_code` is what the `aiorch` command line exits with.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

_DETAIL_TYPES = (
    error_details_pb2.BadRequest,
    error_details_pb2.RetryInfo,
    error_details_pb2.ErrorInfo,
    error_details_pb2.DebugInfo,
    error_details_pb2.QuotaFailure,
    error_details_pb2.PreconditionFailure,
    error_details_pb2.ResourceInfo,
    error_details_pb2.Help,
    error_details_pb2.LocalizedMessage,
)


class AiorchError(Exception):
    """A call failed with a gRPC status; `details` are its unpacked google.rpc details."""

    exit_code = 1

    def __init__(self, code: grpc.StatusCode, message: str, details=(), trailers=()):
        self.code = code
        self.message = message
        self.details = list(details)
        self.trailers = tuple(trailers)
        super().__init__(f"{code.name}: {message}")

    @property
    def field_violations(self) -> dict[str, str]:
        """{field: why} from a google.rpc.BadRequest detail."""
        return {
            v.field: v.description
            for detail in self.details
            if isinstance(detail, error_details_pb2.BadRequest)
            for v in detail.field_violations
        }

    @property
    def retry_after(self) -> float | None:
        """Seconds the server asked to wait (google.rpc.RetryInfo), when it did."""
        for detail in self.details:
            if isinstance(detail, error_details_pb2.RetryInfo):
                return detail.retry_delay.ToNanoseconds() / 1e9
        return None


class InvalidArgument(AiorchError):
    exit_code = 2


class NotFound(AiorchError):
    exit_code = 3


class Unavailable(AiorchError):
    exit_code = 4


class DeadlineExceeded(AiorchError):
    exit_code = 4


class ResourceExhausted(AiorchError):
    exit_code = 5


class PermissionDenied(AiorchError):
    exit_code = 7


class Unauthenticated(AiorchError):
    exit_code = 7


class Unimplemented(AiorchError):
    exit_code = 8


class Cancelled(AiorchError):
    exit_code = 130


_BY_CODE = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidArgument,
    grpc.StatusCode.OUT_OF_RANGE: InvalidArgument,
    grpc.StatusCode.NOT_FOUND: NotFound,
    grpc.StatusCode.UNAVAILABLE: Unavailable,
    grpc.StatusCode.DEADLINE_EXCEEDED: DeadlineExceeded,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ResourceExhausted,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDenied,
    grpc.StatusCode.UNAUTHENTICATED: Unauthenticated,
    grpc.StatusCode.UNIMPLEMENTED: Unimplemented,
    grpc.StatusCode.CANCELLED: Cancelled,
}
_CODE_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def unpack(details) -> list:
    """Known google.rpc detail messages out of their Any wrappers; unknown ones stay Any."""
    found = []
    for packed in details:
        for kind in _DETAIL_TYPES:
            if packed.Is(kind.DESCRIPTOR):
                message = kind()
                packed.Unpack(message)
                found.append(message)
                break
        else:
            found.append(packed)
    return found


def from_status(status: status_pb2.Status, trailers=()) -> AiorchError:
    """The exception for a google.rpc.Status (e.g. a failed workflow step's error)."""
    code = _CODE_BY_NUMBER.get(status.code, grpc.StatusCode.UNKNOWN)
    return _BY_CODE.get(code, AiorchError)(code, status.message, unpack(status.details), trailers)


def from_rpc_error(error: grpc.RpcError) -> AiorchError:
    """The exception for a failed call, with the details of its grpc-status-details-bin."""
    status = rpc_status.from_call(error)
    trailers = tuple(error.trailing_metadata() or ())
    if status is None:
        code = error.code()
        status = status_pb2.Status(code=code.value[0], message=error.details() or "")
    return from_status(status, trailers)


@dataclass(frozen=True)
class FailedStep:
    """A workflow step that did not succeed, and its error."""

    name: str
    state: str
    error: AiorchError | None


class WorkflowFailed(AiorchError):
    """A workflow ended FAILED, CANCELLED or DEADLINE_EXCEEDED; `workflow` is all of it."""

    exit_code = 6

    def __init__(self, workflow):
        from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as pb

        self.workflow = workflow
        status = pb.WorkflowStatus.Name(workflow.status)
        reason = workflow.error.message if workflow.HasField("error") else ""
        failed = ", ".join(f"{s.name}: {s.error.message}" for s in failed_steps(workflow))
        message = f"workflow {workflow.workflow_id} ended {status}"
        message += f": {reason}" if reason else ""
        message += f" ({failed})" if failed else ""
        code = _CODE_BY_NUMBER.get(workflow.error.code, grpc.StatusCode.UNKNOWN)
        super().__init__(code, message, unpack(workflow.error.details))

    @property
    def failed_steps(self) -> list[FailedStep]:
        from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as pb

        return [
            FailedStep(
                step.name,
                pb.StepState.Name(step.state),
                from_status(step.error) if step.HasField("error") else None,
            )
            for step in failed_steps(self.workflow)
        ]


def failed_steps(workflow) -> list:
    """Steps of a workflow that failed or were skipped or cancelled with an error."""
    return [step for step in workflow.steps if step.HasField("error")]


__all__ = [
    "AiorchError",
    "Cancelled",
    "DeadlineExceeded",
    "FailedStep",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "ResourceExhausted",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "WorkflowFailed",
    "from_rpc_error",
    "from_status",
]

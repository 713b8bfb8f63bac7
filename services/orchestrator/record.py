"""The workflow record: every change of a workflow's and its steps' states happens here.

A workflow is PENDING when accepted, RUNNING while its steps run, and ends in one final
status that its steps' outcomes decide (`conclude`), or CANCELLED, or FAILED after the
orchestrators running it died too often; a stopping orchestrator puts it back to PENDING
(`requeue`). Nothing else assigns a workflow's status or a step's state, so the rules
above hold wherever a record is read: the store, the events, the replies.
"""

from __future__ import annotations

import time

import grpc
from google.protobuf import timestamp_pb2
from google.protobuf.message import Message
from google.rpc import status_pb2

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.deadlines import Deadline

FINAL = frozenset(
    {
        pb.WORKFLOW_STATUS_SUCCEEDED,
        pb.WORKFLOW_STATUS_PARTIAL,
        pb.WORKFLOW_STATUS_FAILED,
        pb.WORKFLOW_STATUS_CANCELLED,
        pb.WORKFLOW_STATUS_DEADLINE_EXCEEDED,
    }
)
_CODE = {code: code.value[0] for code in grpc.StatusCode}


def is_final(status: int) -> bool:
    return status in FINAL


def now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromNanoseconds(time.time_ns())
    return stamp


def error_status(code: grpc.StatusCode, message: str) -> status_pb2.Status:
    return status_pb2.Status(code=_CODE[code], message=message)


def asked(step: pb.Step) -> bool:
    """Whether the request needed this step (a step nobody asked for is SKIPPED, no error)."""
    return step.state != pb.STEP_STATE_SKIPPED or step.HasField("error")


def new(workflow_id: str, request: pb.CreateWorkflowRequest, plan, deadline: Deadline):
    """A PENDING workflow with a step per declared step; steps no output needs are SKIPPED.
    `plan` is the request's validation.Plan."""
    workflow = pb.Workflow(
        workflow_id=workflow_id,
        type=plan.spec.name,
        status=pb.WORKFLOW_STATUS_PENDING,
        priority=request.priority or pb.PRIORITY_NORMAL,
        expected_outputs=plan.outputs,
        created_at=now(),
    )
    workflow.deadline.FromNanoseconds(int(deadline.wall_clock() * 1e9))
    for step_spec, needed in plan.spec.steps_for(tuple(plan.outputs)):
        workflow.steps.add(
            name=step_spec.name,
            service=step_spec.service,
            rpc=step_spec.rpc,
            required=step_spec.required,
            state=pb.STEP_STATE_PENDING if needed else pb.STEP_STATE_SKIPPED,
        )
    return workflow


def copy(workflow: pb.Workflow) -> pb.Workflow:
    """A snapshot that later changes of `workflow` leave as it is."""
    snapshot = pb.Workflow()
    snapshot.CopyFrom(workflow)
    return snapshot


def start(workflow: pb.Workflow) -> None:
    workflow.status = pb.WORKFLOW_STATUS_RUNNING
    workflow.started_at.CopyFrom(now())


def step_started(step: pb.Step) -> None:
    step.state = pb.STEP_STATE_RUNNING
    step.started_at.CopyFrom(now())


def step_succeeded(workflow: pb.Workflow, step: pb.Step, field: str, reply: Message) -> None:
    """The step's reply goes to the result's `field`; its usage adds to the workflow's."""
    getattr(workflow.result, field).CopyFrom(reply)
    usage = getattr(reply, "usage", None)
    if usage is not None:
        workflow.usage.input_tokens += usage.input_tokens
        workflow.usage.output_tokens += usage.output_tokens
        workflow.usage.cost_usd += usage.cost_usd
    step.state = pb.STEP_STATE_SUCCEEDED
    step.finished_at.CopyFrom(now())


def step_failed(step: pb.Step, code: grpc.StatusCode, message: str) -> None:
    step.state = pb.STEP_STATE_FAILED
    step.error.CopyFrom(error_status(code, message))
    step.finished_at.CopyFrom(now())


def step_refused(step: pb.Step, reason: str) -> None:
    """Not called (its service is out of reach or its breaker open): a required step
    fails, an optional one is skipped with the reason."""
    step.state = pb.STEP_STATE_FAILED if step.required else pb.STEP_STATE_SKIPPED
    step.error.CopyFrom(error_status(grpc.StatusCode.UNAVAILABLE, reason))


def outwaited(workflow: pb.Workflow) -> None:
    """The deadline passed while an identical request in flight computed the result."""
    for step in filter(asked, workflow.steps):
        step.state = pb.STEP_STATE_FAILED
        step.error.CopyFrom(
            error_status(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                "the deadline passed while an identical request computed this",
            )
        )
    conclude(workflow)


def conclude(workflow: pb.Workflow) -> None:
    """The workflow's status from its steps' outcomes."""
    failed_required = [s for s in workflow.steps if s.required and s.state == pb.STEP_STATE_FAILED]
    troubled = [s for s in workflow.steps if not s.required and s.HasField("error")]
    succeeded = [s for s in workflow.steps if s.state == pb.STEP_STATE_SUCCEEDED]
    if failed_required or not succeeded:
        step = (failed_required or troubled)[0]
        timed_out = step.error.code == _CODE[grpc.StatusCode.DEADLINE_EXCEEDED]
        workflow.status = (
            pb.WORKFLOW_STATUS_DEADLINE_EXCEEDED if timed_out else pb.WORKFLOW_STATUS_FAILED
        )
        workflow.error.CopyFrom(step.error)
        workflow.error.message = f"step {step.name}: {step.error.message}"
    elif troubled:
        workflow.status = pb.WORKFLOW_STATUS_PARTIAL
        workflow.error.code = troubled[0].error.code
        workflow.error.message = "optional steps gave no result: " + "; ".join(
            f"{s.name} {pb.StepState.Name(s.state).removeprefix('STEP_STATE_').lower()}"
            f" ({s.error.message})"
            for s in troubled
        )
    else:
        workflow.status = pb.WORKFLOW_STATUS_SUCCEEDED
    workflow.finished_at.CopyFrom(now())


def cache_value(workflow: pb.Workflow) -> bytes:
    """The result as the cache keeps it. An assistant answer was stored in the session of
    the run that computed it, which is not the session of whoever gets it from the cache
    (nor does the cache store the exchange anywhere): it is kept without its session_id."""
    result = workflow.result
    if result.HasField("answer") and result.answer.session_id:
        result = pb.WorkflowResult()
        result.CopyFrom(workflow.result)
        result.answer.session_id = ""
    return result.SerializeToString()


def fill_from_cache(workflow: pb.Workflow, value: bytes) -> None:
    """A finished workflow whose result is a cached one: no call made, no usage."""
    workflow.result.ParseFromString(value)
    workflow.cached = True
    stamp = now()
    for step in filter(asked, workflow.steps):
        step.state = pb.STEP_STATE_SUCCEEDED
        step.started_at.CopyFrom(stamp)
        step.finished_at.CopyFrom(stamp)
    workflow.status = pb.WORKFLOW_STATUS_SUCCEEDED
    if not workflow.HasField("started_at"):
        workflow.started_at.CopyFrom(stamp)
    workflow.finished_at.CopyFrom(stamp)


def cancel(workflow: pb.Workflow) -> None:
    for step in workflow.steps:
        if step.state in (pb.STEP_STATE_PENDING, pb.STEP_STATE_RUNNING):
            step.state = pb.STEP_STATE_CANCELLED
    workflow.status = pb.WORKFLOW_STATUS_CANCELLED
    workflow.error.CopyFrom(error_status(grpc.StatusCode.CANCELLED, "cancelled"))
    workflow.finished_at.CopyFrom(now())


def requeue(workflow: pb.Workflow) -> None:
    """Back to PENDING, as accepted, for the next orchestrator to run from the start."""
    workflow.status = pb.WORKFLOW_STATUS_PENDING
    for name in ("started_at", "result", "usage", "error"):
        workflow.ClearField(name)
    for step in filter(asked, workflow.steps):
        for name in ("started_at", "finished_at", "error", "attempts"):
            step.ClearField(name)
        step.state = pb.STEP_STATE_PENDING


def fail_interrupted(workflow: pb.Workflow, interruptions: int) -> None:
    """Failed rather than run again: `interruptions` orchestrators died running it."""
    message = (
        f"interrupted {interruptions} times by orchestrators that died while running it;"
        " not run again, since it may be what stops them"
    )
    error = error_status(grpc.StatusCode.ABORTED, message)
    for step in workflow.steps:
        if step.state in (pb.STEP_STATE_PENDING, pb.STEP_STATE_RUNNING):
            step.state = pb.STEP_STATE_FAILED
            step.error.CopyFrom(error)
    workflow.status = pb.WORKFLOW_STATUS_FAILED
    workflow.error.CopyFrom(error)
    workflow.finished_at.CopyFrom(now())

"""Runs a workflow's steps against the capability services and records each outcome.

Every call's timeout is what the workflow's deadline has left, less a margin for our
own reply; retries of transient failures happen inside the channel (service config).
"""

from __future__ import annotations

import asyncio

import grpc
from google.protobuf import timestamp_pb2
from google.rpc import status_pb2

from aiorch.v1 import classifier_pb2, classifier_pb2_grpc, embeddings_pb2, embeddings_pb2_grpc
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.deadlines import Deadline
from services.orchestrator.store import WorkflowStore


def _now() -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.GetCurrentTime()
    return stamp


class Executor:
    def __init__(
        self,
        store: WorkflowStore,
        classifier: classifier_pb2_grpc.ClassifierServiceStub,
        embeddings: embeddings_pb2_grpc.EmbeddingsServiceStub,
        margin: float,
    ):
        self.store = store
        self.margin = margin
        self.calls = {"classify": self._classify, "embed": self._embed}
        self.classifier = classifier
        self.embeddings = embeddings

    async def run(
        self, workflow: pb.Workflow, request: pb.CreateWorkflowRequest, deadline: Deadline
    ) -> pb.Workflow:
        workflow.status = pb.WORKFLOW_STATUS_RUNNING
        workflow.started_at.CopyFrom(_now())
        await self._save(workflow)
        try:
            for step in workflow.steps:
                if step.state == pb.STEP_STATE_PENDING:
                    await self._run_step(step, workflow, request, deadline)
        except asyncio.CancelledError:
            # The caller went away or the server is stopping: the in-flight call was
            # cancelled with us; record that instead of leaving the workflow RUNNING.
            self._cancel(workflow)
            await asyncio.shield(self._save(workflow))
            raise
        self._conclude(workflow)
        await self._save(workflow)
        return workflow

    def _cancel(self, workflow: pb.Workflow) -> None:
        for step in workflow.steps:
            if step.state in (pb.STEP_STATE_PENDING, pb.STEP_STATE_RUNNING):
                step.state = pb.STEP_STATE_CANCELLED
        workflow.status = pb.WORKFLOW_STATUS_CANCELLED
        workflow.error.CopyFrom(
            status_pb2.Status(code=grpc.StatusCode.CANCELLED.value[0], message="cancelled")
        )
        workflow.finished_at.CopyFrom(_now())

    async def _run_step(self, step, workflow, request, deadline: Deadline) -> None:
        step.state = pb.STEP_STATE_RUNNING
        step.started_at.CopyFrom(_now())
        timeout = deadline.remaining(self.margin)
        try:
            if timeout <= 0:
                raise _DeadlinePassed
            step.attempts += 1
            usage = await self.calls[step.name](request, workflow, timeout)
            step.state = pb.STEP_STATE_SUCCEEDED
            workflow.usage.input_tokens += usage.input_tokens
            workflow.usage.output_tokens += usage.output_tokens
            workflow.usage.cost_usd += usage.cost_usd
        except grpc.aio.AioRpcError as error:
            step.state = pb.STEP_STATE_FAILED
            step.error.CopyFrom(
                status_pb2.Status(code=error.code().value[0], message=error.details() or "")
            )
        except _DeadlinePassed:
            step.state = pb.STEP_STATE_FAILED
            step.error.CopyFrom(
                status_pb2.Status(
                    code=grpc.StatusCode.DEADLINE_EXCEEDED.value[0],
                    message="the workflow's deadline passed before this step could start",
                )
            )
        step.finished_at.CopyFrom(_now())

    def _conclude(self, workflow: pb.Workflow) -> None:
        failed_required = [
            s for s in workflow.steps if s.required and s.state == pb.STEP_STATE_FAILED
        ]
        failed_optional = [
            s for s in workflow.steps if not s.required and s.state == pb.STEP_STATE_FAILED
        ]
        if failed_required:
            step = failed_required[0]
            timed_out = step.error.code == grpc.StatusCode.DEADLINE_EXCEEDED.value[0]
            workflow.status = (
                pb.WORKFLOW_STATUS_DEADLINE_EXCEEDED if timed_out else pb.WORKFLOW_STATUS_FAILED
            )
            workflow.error.CopyFrom(step.error)
            workflow.error.message = f"step {step.name}: {step.error.message}"
        elif failed_optional:
            workflow.status = pb.WORKFLOW_STATUS_PARTIAL
            workflow.error.message = "optional steps failed: " + ", ".join(
                f"{s.name} ({s.error.message})" for s in failed_optional
            )
        else:
            workflow.status = pb.WORKFLOW_STATUS_SUCCEEDED
        workflow.finished_at.CopyFrom(_now())

    async def _save(self, workflow: pb.Workflow) -> None:
        await self.store.update(workflow, _now().ToJsonString())

    async def _classify(self, request, workflow, timeout):
        outputs = set(workflow.expected_outputs)
        reply = await self.classifier.Classify(
            classifier_pb2.ClassifyRequest(
                text=request.input.text,
                labels=request.input.labels,
                taxonomy=request.input.taxonomy,
                include_keywords="keywords" in outputs,
                include_summary="summary" in outputs,
            ),
            timeout=timeout,
        )
        workflow.result.classification.CopyFrom(reply)
        return reply.usage

    async def _embed(self, request, workflow, timeout):
        reply = await self.embeddings.Embed(
            embeddings_pb2.EmbedRequest(texts=[request.input.text]), timeout=timeout
        )
        workflow.result.embedding.CopyFrom(reply)
        return reply.usage


class _DeadlinePassed(Exception):
    pass


def new_workflow(
    workflow_id: str, request: pb.CreateWorkflowRequest, spec, outputs, deadline: Deadline
) -> pb.Workflow:
    """A PENDING workflow with a step per declared step; steps no output needs are SKIPPED."""
    workflow = pb.Workflow(
        workflow_id=workflow_id,
        type=spec.name,
        status=pb.WORKFLOW_STATUS_PENDING,
        priority=request.priority or pb.PRIORITY_NORMAL,
        expected_outputs=outputs,
        created_at=_now(),
    )
    workflow.deadline.FromNanoseconds(int(deadline.wall_clock() * 1e9))
    for step_spec, needed in spec.steps_for(tuple(outputs)):
        workflow.steps.add(
            name=step_spec.name,
            service=step_spec.service,
            rpc=step_spec.rpc,
            required=step_spec.required,
            state=pb.STEP_STATE_PENDING if needed else pb.STEP_STATE_SKIPPED,
        )
    return workflow

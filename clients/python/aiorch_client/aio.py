"""`AsyncClient`: the whole suite from asyncio, over gRPC, with typed replies and errors."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from aiorch_client import transcripts
from aiorch_client._proto.aiorch.v1 import assistant_pb2 as assistant
from aiorch_client._proto.aiorch.v1 import (
    assistant_pb2_grpc,
    classifier_pb2_grpc,
    embeddings_pb2_grpc,
    meeting_intel_pb2_grpc,
    monitor_pb2_grpc,
    orchestrator_pb2_grpc,
)
from aiorch_client._proto.aiorch.v1 import classifier_pb2 as classifier
from aiorch_client._proto.aiorch.v1 import embeddings_pb2 as embeddings
from aiorch_client._proto.aiorch.v1 import meeting_intel_pb2 as meeting_intel
from aiorch_client._proto.aiorch.v1 import monitor_pb2 as monitor
from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as orchestrator
from aiorch_client.channel import open_channel
from aiorch_client.config import ClientConfig
from aiorch_client.errors import AiorchError, WorkflowFailed, from_rpc_error, from_status
from aiorch_client.messages import LabelLike, RequestLike, label, workflow_request

Metadata = Sequence[tuple[str, str]]
# Called before every call with the full method name ("/aiorch.v1.ClassifierService/
# Classify"); returns metadata to add, e.g. a freshly refreshed credential.
MetadataHook = Callable[[str], Metadata]

FINISHED = frozenset(
    {
        orchestrator.WORKFLOW_STATUS_SUCCEEDED,
        orchestrator.WORKFLOW_STATUS_PARTIAL,
        orchestrator.WORKFLOW_STATUS_FAILED,
        orchestrator.WORKFLOW_STATUS_CANCELLED,
        orchestrator.WORKFLOW_STATUS_DEADLINE_EXCEEDED,
    }
)
SUCCESSFUL = frozenset(
    {orchestrator.WORKFLOW_STATUS_SUCCEEDED, orchestrator.WORKFLOW_STATUS_PARTIAL}
)
_STUBS = {
    "orchestrator": orchestrator_pb2_grpc.OrchestratorServiceStub,
    "classifier": classifier_pb2_grpc.ClassifierServiceStub,
    "meeting_intel": meeting_intel_pb2_grpc.MeetingIntelServiceStub,
    "embeddings": embeddings_pb2_grpc.EmbeddingsServiceStub,
    "monitor": monitor_pb2_grpc.MonitorServiceStub,
    "assistant": assistant_pb2_grpc.AssistantServiceStub,
}


@dataclass(frozen=True)
class BatchResult:
    """One item of `batch`: its position in the input, the workflow, or why it failed."""

    index: int
    request: orchestrator.CreateWorkflowRequest
    workflow: orchestrator.Workflow | None
    error: AiorchError | None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class ChatEvent:
    """One event of `stream_chat`: the next piece of the answer's text (`delta`) or, last,
    the whole answer with its session, citations and usage (`answer`)."""

    delta: str = ""
    answer: assistant.ChatResponse | None = None


class AsyncClient:
    """The aiorch suite over gRPC.

    `endpoint` is one address for every service (a gRPC gateway, or an in-cluster proxy);
    `addrs` names one per service instead. Unset values come from the environment and the
    config file (see `aiorch_client.config`). `timeout` is each call's default deadline in
    seconds; `token` goes as `authorization: Bearer` (through the gateway); `user` names the
    user a backend inside the cluster acts for (x-user-id: the services trust it only from
    inside, see deploy/k8s/base/network-policy.yaml); `metadata` goes with every call and
    `metadata_hook(method)` adds more per call. `wait_for_ready=False` fails a call to a
    service that is down at once instead of waiting for it until the deadline.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        addrs: Mapping[str, str] | None = None,
        token: str | None = None,
        user: str | None = None,
        timeout: float | None = None,
        metadata: Metadata = (),
        metadata_hook: MetadataHook | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        wait_for_ready: bool = True,
        config: ClientConfig | None = None,
    ):
        self.config = config or ClientConfig.load(
            endpoint, addrs=dict(addrs or {}), token=token, timeout=timeout
        )
        self._metadata = tuple(metadata)
        if self.config.token:
            self._metadata += (("authorization", f"Bearer {self.config.token}"),)
        if user:  # a backend inside the cluster, acting for this user (no gateway between)
            self._metadata += (("x-user-id", user),)
        self._hook = metadata_hook
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._stubs = {}
        for service, stub in _STUBS.items():
            addr = self.config.addrs[service]
            if addr not in self._channels:
                self._channels[addr] = open_channel(addr, credentials, wait_for_ready)
            self._stubs[service] = stub(self._channels[addr])

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        for channel in self._channels.values():
            await channel.close()

    def _call_metadata(self, method: str) -> Metadata:
        return self._metadata + tuple(self._hook(method) if self._hook else ())

    async def _unary(self, service: str, rpc: str, request, timeout: float | None = None):
        method = getattr(self._stubs[service], rpc)
        try:
            return await method(
                request,
                timeout=timeout or self.config.timeout,
                metadata=self._call_metadata(method._method.decode()),
            )
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None

    async def _stream(self, service: str, rpc: str, request, timeout: float | None = None):
        method = getattr(self._stubs[service], rpc)
        call = method(
            request, timeout=timeout, metadata=self._call_metadata(method._method.decode())
        )
        try:
            async for reply in call:
                yield reply
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        finally:
            call.cancel()

    # Capabilities.

    async def classify(
        self,
        text: str,
        labels: Iterable[LabelLike] = (),
        *,
        taxonomy: str = "",
        keywords: bool = False,
        summary: bool = False,
        timeout: float | None = None,
    ) -> classifier.ClassifyResponse:
        """Scores `text` against `labels` (names, dicts or Label) or a built-in taxonomy."""
        request = classifier.ClassifyRequest(
            text=text,
            labels=[label(v) for v in labels],
            taxonomy=taxonomy,
            include_keywords=keywords,
            include_summary=summary,
        )
        return await self._unary("classifier", "Classify", request, timeout)

    async def analyze(
        self,
        transcript: str | None = None,
        *,
        file: str | Path | None = None,
        segments: Iterable[meeting_intel.TranscriptSegment | Mapping] = (),
        meeting_date: str = "",
        timeout: float | None = None,
    ) -> meeting_intel.AnalyzeResponse:
        """Analyzes a transcript given as text, as segments, or as a .vtt/.srt/.json file."""
        if file is not None:
            request = transcripts.request_from_file(file, meeting_date)
        elif transcript is not None:
            request = meeting_intel.AnalyzeRequest(transcript=transcript, meeting_date=meeting_date)
        else:
            request = meeting_intel.AnalyzeRequest(
                segments=transcripts.segments_from_json(
                    [
                        json_format.MessageToDict(s) if not isinstance(s, Mapping) else s
                        for s in segments
                    ]
                ),
                meeting_date=meeting_date,
            )
        return await self._unary("meeting_intel", "Analyze", request, timeout)

    async def embed(
        self, texts: str | Sequence[str], *, model: str = "", timeout: float | None = None
    ) -> embeddings.EmbedResponse:
        """One vector per text, in order."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        request = embeddings.EmbedRequest(texts=texts, model=model)
        return await self._unary("embeddings", "Embed", request, timeout)

    # The assistant's knowledge store: the caller's own documents, searched by meaning.

    async def index_document(
        self, source_id: str, text: str, title: str = "", *, timeout: float | None = None
    ) -> assistant.IndexDocumentResponse:
        """Stores `text` under `source_id` (replacing what it held), chunked and embedded."""
        request = assistant.IndexDocumentRequest(source_id=source_id, title=title, text=text)
        return await self._unary("assistant", "IndexDocument", request, timeout)

    async def delete_document(
        self, source_id: str, *, timeout: float | None = None
    ) -> assistant.DeleteDocumentResponse:
        """Deletes the caller's document; NotFound if they have none with this source id."""
        request = assistant.DeleteDocumentRequest(source_id=source_id)
        return await self._unary("assistant", "DeleteDocument", request, timeout)

    async def search(
        self,
        query: str,
        *,
        top_k: int = 0,
        source_ids: Iterable[str] = (),
        timeout: float | None = None,
    ) -> assistant.SearchResponse:
        """The stored passages closest in meaning to `query`, best first. `top_k` 0 lets
        the service choose (10); `source_ids` limits the search to those documents."""
        request = assistant.SearchRequest(query=query, top_k=top_k, source_ids=list(source_ids))
        return await self._unary("assistant", "Search", request, timeout)

    # Chat over the caller's documents, in sessions of theirs.

    async def chat(
        self,
        message: str,
        session_id: str | None = None,
        *,
        top_k: int = 0,
        source_ids: Iterable[str] = (),
        agents: Iterable[str] = (),
        timeout: float | None = None,
    ) -> assistant.ChatResponse:
        """Answers `message` from the caller's documents, citing the passages it used, in
        the session `session_id` (None starts a new one: its id is in the reply). `top_k`
        0 lets the service choose (4); `source_ids` limits the passages to those documents;
        `agents` (names from `list_agents`) answer at once, their answers merged."""
        request = assistant.ChatRequest(
            session_id=session_id or "",
            message=message,
            top_k=top_k,
            source_ids=list(source_ids),
            agents=list(agents),
        )
        return await self._unary("assistant", "Chat", request, timeout)

    async def stream_chat(
        self,
        message: str,
        session_id: str | None = None,
        *,
        top_k: int = 0,
        source_ids: Iterable[str] = (),
        agents: Iterable[str] = (),
        timeout: float | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """As `chat`, streamed: events with a `delta` (print them as they come), then one
        with the whole `answer`. A failure, before the first event or after, raises the
        client's exception for its status. Leaving the loop cancels the call (once the
        iterator is gone; `contextlib.aclosing` makes that immediate)."""
        request = assistant.StreamChatRequest(
            session_id=session_id or "",
            message=message,
            top_k=top_k,
            source_ids=list(source_ids),
            agents=list(agents),
        )
        replies = self._stream("assistant", "StreamChat", request, timeout or self.config.timeout)
        async with contextlib.aclosing(replies):
            async for reply in replies:
                kind = reply.WhichOneof("event")
                if kind == "delta":
                    yield ChatEvent(delta=reply.delta)
                elif kind == "answer":
                    yield ChatEvent(answer=reply.answer)
                    return
                elif kind == "error":
                    # The call ends with this same status; raising now spares waiting for it.
                    raise from_status(reply.error)
        raise AiorchError(grpc.StatusCode.UNKNOWN, "the chat stream ended without an answer")

    async def create_session(
        self, title: str = "", *, timeout: float | None = None
    ) -> assistant.Session:
        """A new, empty session of the caller's; an empty title lets the first message name it."""
        request = assistant.CreateSessionRequest(title=title)
        return (await self._unary("assistant", "CreateSession", request, timeout)).session

    async def list_sessions(
        self, *, page_size: int = 0, timeout: float | None = None
    ) -> list[assistant.Session]:
        """The caller's sessions, most recently used first (`page_size` 0: up to 50)."""
        request = assistant.ListSessionsRequest(page_size=page_size)
        reply = await self._unary("assistant", "ListSessions", request, timeout)
        return list(reply.sessions)

    async def get_session(
        self, session_id: str, *, timeout: float | None = None
    ) -> assistant.GetSessionResponse:
        """A session of the caller's and its turns, oldest first; NotFound if none."""
        request = assistant.GetSessionRequest(session_id=session_id)
        return await self._unary("assistant", "GetSession", request, timeout)

    async def delete_session(
        self, session_id: str, *, timeout: float | None = None
    ) -> assistant.DeleteSessionResponse:
        """Deletes a session of the caller's and its history; NotFound if none."""
        request = assistant.DeleteSessionRequest(session_id=session_id)
        return await self._unary("assistant", "DeleteSession", request, timeout)

    async def usage(
        self,
        *,
        user_id: str = "",
        days: int = 0,
        model: str = "",
        timeout: float | None = None,
    ) -> assistant.GetUsageResponse:
        """What the caller's chats used per day (UTC) and model, with their daily token
        budget; `user_id` another user's (admins only), `days` 0 the last 7, `model` one."""
        request = assistant.GetUsageRequest(user_id=user_id, days=days, model=model)
        return await self._unary("assistant", "GetUsage", request, timeout)

    async def list_agents(self, *, timeout: float | None = None) -> list[assistant.Agent]:
        """The agents a chat may name."""
        reply = await self._unary("assistant", "ListAgents", assistant.ListAgentsRequest(), timeout)
        return list(reply.agents)

    # Workflows.

    async def start(self, type_or_request: RequestLike, **fields: Any) -> orchestrator.Workflow:
        """Starts a workflow and returns it at once (PENDING). Takes a type and the keywords
        of `workflow_request`, a CreateWorkflowRequest, or a dict in the gateway's shape."""
        request = workflow_request(type_or_request, **fields)
        request.wait = False
        reply = await self._unary("orchestrator", "CreateWorkflow", request)
        return reply.workflow

    async def run(
        self, type_or_request: RequestLike, *, timeout: float | None = None, **fields: Any
    ) -> orchestrator.Workflow:
        """Runs a workflow to its end. Raises WorkflowFailed unless it SUCCEEDED or was
        PARTIAL (then its failed optional steps are in `.steps`)."""
        request = workflow_request(type_or_request, **fields)
        request.wait = True
        budget = timeout or self.config.timeout
        if request.HasField("timeout"):
            budget = max(budget, request.timeout.ToNanoseconds() / 1e9 + 5)
        reply = await self._unary("orchestrator", "CreateWorkflow", request, budget)
        return _finished(reply.workflow)

    async def get(self, workflow_id: str) -> orchestrator.Workflow:
        request = orchestrator.GetWorkflowRequest(workflow_id=workflow_id)
        return (await self._unary("orchestrator", "GetWorkflow", request)).workflow

    async def cancel(self, workflow_id: str) -> orchestrator.Workflow:
        request = orchestrator.CancelWorkflowRequest(workflow_id=workflow_id)
        return (await self._unary("orchestrator", "CancelWorkflow", request)).workflow

    async def watch(
        self, workflow_id: str, *, timeout: float | None = None
    ) -> AsyncGenerator[orchestrator.WatchWorkflowResponse, None]:
        """The workflow's step events as they happen; the last one carries the workflow."""
        request = orchestrator.WatchWorkflowRequest(workflow_id=workflow_id)
        async for event in self._stream("orchestrator", "WatchWorkflow", request, timeout):
            yield event

    async def wait(
        self, workflow_id: str, *, timeout: float | None = None
    ) -> orchestrator.Workflow:
        """Waits for a started workflow to end; raises WorkflowFailed as `run` does."""
        async with contextlib.aclosing(self.watch(workflow_id, timeout=timeout)) as events:
            async for event in events:
                if event.HasField("workflow") and event.workflow.status in FINISHED:
                    return _finished(event.workflow)
        return _finished(await self.get(workflow_id))

    async def batch(
        self, requests: Iterable[RequestLike], *, concurrency: int = 4
    ) -> AsyncGenerator[BatchResult, None]:
        """Runs every request of `requests` (read lazily) with at most `concurrency` at
        once; yields each result as it finishes, so order follows completion, not input."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        items = iter(enumerate(requests))
        running: set[asyncio.Task] = set()

        async def one(index: int, raw: RequestLike) -> BatchResult:
            request = workflow_request(raw)
            try:
                return BatchResult(index, request, await self.run(request), None)
            except WorkflowFailed as error:
                return BatchResult(index, request, error.workflow, error)
            except AiorchError as error:
                return BatchResult(index, request, None, error)

        try:
            while True:
                for index, raw in items:
                    running.add(asyncio.create_task(one(index, raw)))
                    if len(running) >= concurrency:
                        break
                if not running:
                    return
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield task.result()
        finally:
            for task in running:
                task.cancel()

    async def workflow_types(self) -> list[orchestrator.WorkflowType]:
        request = orchestrator.ListWorkflowTypesRequest()
        return list((await self._unary("orchestrator", "ListWorkflowTypes", request)).types)

    # Operations.

    async def health(self) -> orchestrator.GetServicesHealthResponse:
        """Every service as the orchestrator sees it: serving, latency, breaker state."""
        request = orchestrator.GetServicesHealthRequest()
        return await self._unary("orchestrator", "GetServicesHealth", request)

    async def host_health(self) -> monitor.GetHealthResponse:
        """The monitor's view: host resources and services, overall state and reason."""
        return await self._unary("monitor", "GetHealth", monitor.GetHealthRequest())

    async def metrics(self) -> monitor.MetricsSample:
        reply = await self._unary(
            "monitor", "GetCurrentMetrics", monitor.GetCurrentMetricsRequest()
        )
        return reply.sample

    async def watch_metrics(
        self, metrics: Iterable[str] = ()
    ) -> AsyncGenerator[monitor.MetricsSample, None]:
        request = monitor.WatchMetricsRequest(metrics=list(metrics))
        async for reply in self._stream("monitor", "WatchMetrics", request):
            yield reply.sample

    async def alerts(self, *, include_resolved: bool = False) -> monitor.GetAlertsResponse:
        request = monitor.GetAlertsRequest(include_resolved=include_resolved)
        return await self._unary("monitor", "GetAlerts", request)


def _finished(workflow: orchestrator.Workflow) -> orchestrator.Workflow:
    if workflow.status in SUCCESSFUL:
        return workflow
    raise WorkflowFailed(workflow)

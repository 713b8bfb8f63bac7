"""Scripted capability services for the orchestrator's integration tests: one in-process
server answering Classify, Analyze and Embed, each with a delay or scripted errors, that
records its calls, how many ran at once, and the calls its clients cancelled."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from aiorch.v1 import (
    assistant_pb2_grpc,
    classifier_pb2,
    classifier_pb2_grpc,
    common_pb2,
    embeddings_pb2,
    embeddings_pb2_grpc,
    meeting_intel_pb2,
    meeting_intel_pb2_grpc,
    orchestrator_pb2_grpc,
)
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.server import Service, create_server
from services.orchestrator.__main__ import build as build_orchestrator
from tests.callers import channel_as
from tools.settings import SuiteSettings


class FakeCapabilities(
    classifier_pb2_grpc.ClassifierServiceServicer,
    meeting_intel_pb2_grpc.MeetingIntelServiceServicer,
    embeddings_pb2_grpc.EmbeddingsServiceServicer,
):
    def __init__(self, delay: float = 0.0):
        self.delay = Counter({"Classify": delay, "Analyze": delay, "Embed": delay})
        self.errors: dict[str, list[BaseException]] = {}  # rpc -> next errors, in order
        self.always_fail: dict[str, BaseException] = {}
        self.calls = Counter()
        self.active = Counter()
        self.most_active = Counter()
        self.cancelled = Counter()
        self.started = asyncio.Event()
        self.model = "fake"  # what the replies say computed them

    async def _serve(self, rpc: str) -> None:
        self.calls[rpc] += 1
        self.active[rpc] += 1
        self.most_active[rpc] = max(self.most_active[rpc], self.active[rpc])
        self.started.set()
        try:
            if self.errors.get(rpc):
                raise self.errors[rpc].pop(0)
            if rpc in self.always_fail:
                raise self.always_fail[rpc]
            await asyncio.sleep(self.delay[rpc])
        except asyncio.CancelledError:
            self.cancelled[rpc] += 1  # the client cancelled the call (or its deadline passed)
            raise
        finally:
            self.active[rpc] -= 1

    async def Classify(self, request, context):
        await self._serve("Classify")
        names = [label.name for label in request.labels] or ["report"]
        return classifier_pb2.ClassifyResponse(
            label=names[0],
            score=1.0,
            scores=[classifier_pb2.LabelScore(label=n, score=1.0 / len(names)) for n in names],
            keywords=[classifier_pb2.Keyword(text="invoice", score=0.9)]
            if request.include_keywords
            else [],
            summary="A summary." if request.include_summary else "",
            model=self.model,
            usage=common_pb2.Usage(input_tokens=7),
        )

    async def Analyze(self, request, context):
        await self._serve("Analyze")
        return meeting_intel_pb2.AnalyzeResponse(
            speakers=[meeting_intel_pb2.Speaker(name="Ann", turns=1)],
            summary="They met.",
            model=self.model,
            usage=common_pb2.Usage(input_tokens=11),
        )

    async def Embed(self, request, context):
        await self._serve("Embed")
        return embeddings_pb2.EmbedResponse(
            embeddings=[embeddings_pb2.Embedding(values=[0.5, 0.5]) for _ in request.texts],
            model=self.model,
            dimensions=2,
            usage=common_pb2.Usage(input_tokens=3),
        )


async def start_fakes(
    stack: contextlib.AsyncExitStack, fake: FakeCapabilities, addr: str = "127.0.0.1:0"
) -> str:
    """Serves `fake` as all three capability services on `addr` (a free port by default);
    returns its address."""
    server = create_server(
        [
            Service(
                "aiorch.v1.ClassifierService",
                fake,
                classifier_pb2_grpc.add_ClassifierServiceServicer_to_server,
            ),
            Service(
                "aiorch.v1.MeetingIntelService",
                fake,
                meeting_intel_pb2_grpc.add_MeetingIntelServiceServicer_to_server,
            ),
            Service(
                "aiorch.v1.EmbeddingsService",
                fake,
                embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server,
            ),
        ],
        addr,
    )
    await server.start()
    stack.push_async_callback(server.stop, 0)
    return f"127.0.0.1:{server.port}"


async def start_orchestrator(stack, settings: SuiteSettings, **changes):
    """An orchestrator server on a free port; returns (server, stub, settings)."""
    settings = settings.model_copy(update=changes)
    server = create_server(await build_orchestrator(settings, stack), "127.0.0.1:0")
    await server.start()
    stack.push_async_callback(server.stop, 0)
    channel = channel_as(f"127.0.0.1:{server.port}")
    stack.push_async_callback(channel.close)
    return server, orchestrator_pb2_grpc.OrchestratorServiceStub(channel), settings


def fake_settings(tmp_path, addr: str, **changes) -> SuiteSettings:
    """Settings of an orchestrator calling the fakes at `addr`, with a store of its own."""
    values = {
        "database_url": f"sqlite:///{tmp_path}/orchestrator.db",
        "classifier_addr": addr,
        "meeting_intel_addr": addr,
        "embeddings_addr": addr,
        "monitor_addr": "127.0.0.1:1",  # no activity sent anywhere unless a test asks
        "grace_seconds": 0.5,
    }
    return SuiteSettings(**(values | changes))


def request(text="Bob will send the invoice on Friday.", **changes) -> pb.CreateWorkflowRequest:
    message = pb.CreateWorkflowRequest(
        type="classification",
        wait=True,
        input=pb.WorkflowInput(
            text=text, labels=[classifier_pb2.Label(name=n) for n in ("finance", "sport")]
        ),
    )
    for field, value in changes.items():
        if field == "expected_outputs":
            message.expected_outputs.extend(value)
        else:
            setattr(message, field, value)
    return message


async def finished(stub, workflow_id: str, timeout: float = 10, metadata=()) -> pb.Workflow:
    """Polls GetWorkflow (with the call `metadata`) until the workflow has ended."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        read = pb.GetWorkflowRequest(workflow_id=workflow_id)
        workflow = (await stub.GetWorkflow(read, metadata=metadata)).workflow
        if workflow.status not in (pb.WORKFLOW_STATUS_PENDING, pb.WORKFLOW_STATUS_RUNNING):
            return workflow
        if loop.time() > end:
            raise TimeoutError(f"workflow {workflow_id} still {workflow.status}")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(tmp_path, delay=0.0, **changes):
    """(fake services, orchestrator stub) for one test."""
    async with contextlib.AsyncExitStack() as stack:
        fake = FakeCapabilities(delay)
        addr = await start_fakes(stack, fake)
        _, stub, _ = await start_orchestrator(stack, fake_settings(tmp_path, addr, **changes))
        yield fake, stub


@contextlib.asynccontextmanager
async def orchestrator_and_assistant(addrs: tuple[str, str], user: str):
    """Stubs of the orchestrator and the assistant at `addrs`, calling as `user`."""
    orchestrator_addr, assistant_addr = addrs
    async with channel_as(orchestrator_addr, user) as one, channel_as(assistant_addr, user) as two:
        yield (
            orchestrator_pb2_grpc.OrchestratorServiceStub(one),
            assistant_pb2_grpc.AssistantServiceStub(two),
        )

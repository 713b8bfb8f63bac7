"""A meeting indexed through the orchestrator: a meeting_intelligence workflow asking for
"indexed" puts the transcript in the caller's knowledge store, where the caller's search
and chat find it and nobody else's do. Real embeddings, meeting_intel and assistant
services in process, on port 0."""

from __future__ import annotations

import contextlib
import hashlib

import pytest

from aiorch.v1 import assistant_pb2, meeting_intel_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.assistant.__main__ import build as build_assistant
from services.meeting_intel.__main__ import build as build_meeting_intel

from .conftest import start_service
from .orchestrator_fakes import orchestrator_and_assistant as stubs
from .orchestrator_fakes import start_orchestrator

SEGMENTS = [
    ("Ann", "Thanks for joining. We need to ship the billing release this month."),
    ("Bob", "I will send the updated invoice template to finance by Friday."),
    ("Ann", "Good. We decided to move the launch to the first of June."),
    ("Carol", "Who owns the customer email for the launch?"),
    ("Ann", "Carol, please draft the customer email by next Wednesday."),
]
TEXT = "\n".join(f"{speaker}: {text}" for speaker, text in SEGMENTS)
SOURCE_ID = "meeting-" + hashlib.sha256(TEXT.encode()).hexdigest()[:16]


@pytest.fixture(scope="module")
async def addrs(suite, tmp_path_factory):
    """(orchestrator, assistant) addresses; the assistant on a store of its own."""
    store = tmp_path_factory.mktemp("meeting-indexing")
    async with contextlib.AsyncExitStack() as stack:
        settings = suite.settings.model_copy(
            update={"database_url": f"sqlite:///{store}/assistant.db"}
        )
        _, settings = await start_service("assistant", build_assistant, settings, stack)
        _, settings = await start_service("meeting_intel", build_meeting_intel, settings, stack)
        server, _, _ = await start_orchestrator(
            stack,
            settings.model_copy(update={"database_url": f"sqlite:///{store}/orchestrator.db"}),
        )
        yield f"127.0.0.1:{server.port}", settings.assistant_addr


def meeting(*outputs: str) -> pb.CreateWorkflowRequest:
    return pb.CreateWorkflowRequest(
        type="meeting_intelligence",
        wait=True,
        expected_outputs=outputs,
        input=pb.WorkflowInput(
            segments=[meeting_intel_pb2.TranscriptSegment(speaker=s, text=t) for s, t in SEGMENTS],
            meeting_date="2026-05-04",
        ),
    )


async def test_an_indexed_meeting_is_found_by_its_user_only_and_indexed_once(addrs):
    async with stubs(addrs, "ann") as (orchestrator, ann):
        first = await orchestrator.CreateWorkflow(meeting("summary", "indexed"), timeout=60)
        workflow = first.workflow
        assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED, workflow
        assert workflow.result.meeting.summary
        indexed = workflow.result.indexed
        assert indexed.source_id == SOURCE_ID and indexed.chunks and indexed.model
        assert indexed.chunks[-1].end == len(TEXT)
        assert {s.name: s.state for s in workflow.steps}["index"] == pb.STEP_STATE_SUCCEEDED

        query = assistant_pb2.SearchRequest(query="When is the launch moving to?")
        found = await ann.Search(query, timeout=20)
        best = found.passages[0]
        assert best.source_id == SOURCE_ID and best.title == "Meeting 2026-05-04"
        assert "first of June" in best.text and best.owner == "ann"
        chat = assistant_pb2.ChatRequest(message="Who sends the invoice template to finance?")
        answer = await ann.Chat(chat, timeout=20)
        assert answer.citations and answer.citations[0].source_id == SOURCE_ID

        again = await orchestrator.CreateWorkflow(meeting("summary", "indexed"), timeout=60)
        # Indexing writes: the same request runs again instead of coming from the cache.
        assert not again.workflow.cached and again.workflow.result.indexed.source_id == SOURCE_ID

        async with stubs(addrs, "bob") as (_, bob):
            theirs = await bob.Search(query, timeout=20)
            assert all(p.source_id != SOURCE_ID for p in theirs.passages)

        # Indexed twice, stored once: deleting it removes the chunks of one indexing.
        gone = await ann.DeleteDocument(
            assistant_pb2.DeleteDocumentRequest(source_id=SOURCE_ID), timeout=20
        )
        assert gone.chunks_deleted == len(indexed.chunks)


async def test_a_meeting_is_not_indexed_unless_indexed_is_asked_for(addrs):
    async with stubs(addrs, "carol") as (orchestrator, carol):
        workflow = (await orchestrator.CreateWorkflow(meeting("summary"), timeout=60)).workflow
        assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED, workflow
        assert not workflow.result.HasField("indexed")
        assert {s.name: s.state for s in workflow.steps}["index"] == pb.STEP_STATE_SKIPPED
        query = assistant_pb2.SearchRequest(query="When is the launch moving to?")
        assert not (await carol.Search(query, timeout=20)).passages

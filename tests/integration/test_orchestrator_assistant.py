"""The assistant workflow type: a question answered through the orchestrator from the
caller's own documents, with citations, cached for as long as the caller's documents and
session stay as they were. Real embeddings and assistant services in process, on port 0."""

from __future__ import annotations

import contextlib

import grpc
import pytest

from aiorch.v1 import assistant_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.assistant.__main__ import build as build_assistant

from .conftest import start_service
from .orchestrator_fakes import orchestrator_and_assistant as stubs
from .orchestrator_fakes import start_orchestrator

BUDGET = (
    "The travel budget for the Lisbon offsite is 12,000 euros, approved by finance in March. "
    "Flights must be booked two weeks ahead."
)
HIKE = "The summit trail starts at the north car park and takes about four hours each way."
QUESTION = "What is the travel budget for the Lisbon offsite?"


@pytest.fixture
async def addrs(suite, tmp_path):
    """(orchestrator, assistant) addresses, each on a store of its own for this test."""
    async with contextlib.AsyncExitStack() as stack:
        settings = suite.settings.model_copy(
            update={"database_url": f"sqlite:///{tmp_path}/assistant.db"}
        )
        _, settings = await start_service("assistant", build_assistant, settings, stack)
        server, _, _ = await start_orchestrator(
            stack, settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/orch.db"})
        )
        yield f"127.0.0.1:{server.port}", settings.assistant_addr


def ask(question: str = QUESTION, session_id: str = "", **changes) -> pb.CreateWorkflowRequest:
    return pb.CreateWorkflowRequest(
        type="assistant",
        wait=True,
        input=pb.WorkflowInput(text=question, session_id=session_id),
        **changes,
    )


async def index(assistant, source_id: str, text: str) -> None:
    await assistant.IndexDocument(
        assistant_pb2.IndexDocumentRequest(source_id=source_id, title=source_id, text=text),
        timeout=30,
    )


async def test_an_answer_cites_the_callers_document_and_is_cached_until_the_documents_change(
    addrs,
):
    async with stubs(addrs, "ann") as (orchestrator, assistant):
        await index(assistant, "budget", BUDGET)
        first = (await orchestrator.CreateWorkflow(ask(), timeout=60)).workflow
        assert first.status == pb.WORKFLOW_STATUS_SUCCEEDED, first
        answer = first.result.answer
        assert "12,000 euros" in answer.answer
        assert [c.source_id for c in answer.citations][:1] == ["budget"]
        assert answer.session_id and answer.model and not first.cached

        again = (await orchestrator.CreateWorkflow(ask(), timeout=60)).workflow
        assert again.cached and again.result.answer.answer == answer.answer
        assert again.result.answer.citations == answer.citations
        # The first run stored its exchange in its own session; the cached one is in none.
        assert not again.result.answer.session_id

        # A document indexed since: the cached answer may be stale, so it is computed anew.
        await index(assistant, "hike", HIKE)
        third = (await orchestrator.CreateWorkflow(ask(), timeout=60)).workflow
        assert third.status == pb.WORKFLOW_STATUS_SUCCEEDED and not third.cached
        assert third.result.answer.session_id != answer.session_id


async def test_an_answer_in_a_session_is_stored_there_and_a_new_turn_is_never_served_cached(
    addrs,
):
    async with stubs(addrs, "ann") as (orchestrator, assistant):
        await index(assistant, "budget", BUDGET)
        session = (await assistant.CreateSession(assistant_pb2.CreateSessionRequest())).session
        for _ in range(2):
            workflow = (
                await orchestrator.CreateWorkflow(ask(session_id=session.session_id), timeout=60)
            ).workflow
            assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED, workflow
            assert not workflow.cached  # the first exchange changed the session
            assert workflow.result.answer.session_id == session.session_id
        turns = await assistant.GetSession(
            assistant_pb2.GetSessionRequest(session_id=session.session_id)
        )
        roles = [assistant_pb2.ROLE_USER, assistant_pb2.ROLE_ASSISTANT]
        assert [t.role for t in turns.turns] == roles * 2


async def test_answers_read_the_callers_documents_only(addrs):
    async with stubs(addrs, "ann") as (_, ann):
        await index(ann, "budget", BUDGET)
    async with stubs(addrs, "bob") as (orchestrator, _):
        workflow = (await orchestrator.CreateWorkflow(ask(), timeout=60)).workflow
        assert workflow.status == pb.WORKFLOW_STATUS_SUCCEEDED, workflow
        assert "12,000" not in workflow.result.answer.answer
        assert not [c for c in workflow.result.answer.citations if c.source_id == "budget"]


async def test_a_bad_question_is_refused_before_anything_runs(addrs):
    async with stubs(addrs, "ann") as (orchestrator, _):
        for request, field in (
            (ask(""), "input.text"),
            (ask("x" * 4001), "input.text"),
            (ask(session_id="s" * 65), "input.session_id"),
        ):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await orchestrator.CreateWorkflow(request, timeout=10)
            assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
            assert field in caught.value.details()


async def test_a_session_of_someone_else_fails_the_workflow_with_not_found(addrs):
    async with stubs(addrs, "ann") as (_, ann):
        theirs = (await ann.CreateSession(assistant_pb2.CreateSessionRequest())).session
    async with stubs(addrs, "bob") as (orchestrator, _):
        workflow = (
            await orchestrator.CreateWorkflow(ask(session_id=theirs.session_id), timeout=60)
        ).workflow
        assert workflow.status == pb.WORKFLOW_STATUS_FAILED
        assert workflow.steps[0].error.code == grpc.StatusCode.NOT_FOUND.value[0]

"""AssistantService through gRPC: in-process embeddings and assistant servers on port 0,
the knowledge store on SQLite and on PostgreSQL."""

from __future__ import annotations

import contextlib
import logging

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import assistant_pb2, assistant_pb2_grpc
from services.assistant.__main__ import build as build_assistant
from services.common.errors import field_violations
from tests.callers import channel_as
from tests.integration.conftest import start_service

BUDGET = (
    "The marketing budget for next year is 2 million dollars. Most of it goes to online "
    "advertising. The finance team approved it on Tuesday."
)
HIKING = (
    "The trail to the summit takes four hours. Bring water and warm clothes, because the "
    "weather in the mountains changes fast."
)


@pytest.fixture
async def assistant_addr(suite, database_url):
    """An assistant on the test's own store, calling the suite's embeddings service."""
    settings = suite.settings.model_copy(update={"database_url": database_url})
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("assistant", build_assistant, settings, stack)
        yield settings.assistant_addr


@contextlib.asynccontextmanager
async def assistant_as(addr, user, roles=()):
    async with channel_as(addr, user, roles) as channel:
        yield assistant_pb2_grpc.AssistantServiceStub(channel)


async def index(stub, source_id, text, title=""):
    request = assistant_pb2.IndexDocumentRequest(source_id=source_id, title=title, text=text)
    return await stub.IndexDocument(request, timeout=20)


async def test_an_indexed_document_is_found_by_meaning_with_offsets_and_usage(assistant_addr):
    async with assistant_as(assistant_addr, "ann") as ann:
        indexed = await index(ann, "budget.txt", BUDGET, "Budget")
        await index(ann, "hike.txt", HIKING)
        assert indexed.source_id == "budget.txt" and indexed.usage.input_tokens > 0
        assert [(c.start, c.end) for c in indexed.chunks] == [(0, len(BUDGET))]
        reply = await ann.Search(
            assistant_pb2.SearchRequest(query="how much can we spend on ads?", top_k=1),
            timeout=20,
        )
    (passage,) = reply.passages
    assert passage.source_id == "budget.txt" and passage.title == "Budget"
    assert BUDGET[passage.start : passage.end] == passage.text
    assert 0 < passage.score <= 1 and passage.owner == "ann"
    assert reply.model and reply.usage.input_tokens > 0


async def test_a_user_finds_only_their_documents_and_an_admin_finds_everyones(assistant_addr):
    async with assistant_as(assistant_addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
    async with assistant_as(assistant_addr, "bob") as bob:
        await index(bob, "hike.txt", HIKING)
        mine = await bob.Search(assistant_pb2.SearchRequest(query="advertising"), timeout=20)
        assert {p.owner for p in mine.passages} == {"bob"}
    async with assistant_as(assistant_addr, "root", ("admin",)) as admin:
        every = await admin.Search(assistant_pb2.SearchRequest(query="advertising"), timeout=20)
    assert [p.owner for p in every.passages] == ["ann", "bob"]


async def test_the_source_filter_and_delete(assistant_addr):
    async with assistant_as(assistant_addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
        await index(ann, "hike.txt", HIKING)
        only = await ann.Search(
            assistant_pb2.SearchRequest(query="advertising", source_ids=["hike.txt"]), timeout=20
        )
        assert [p.source_id for p in only.passages] == ["hike.txt"]
        deleted = await ann.DeleteDocument(
            assistant_pb2.DeleteDocumentRequest(source_id="hike.txt"), timeout=20
        )
        assert deleted.chunks_deleted == 1
        left = await ann.Search(assistant_pb2.SearchRequest(query="trail"), timeout=20)
        assert [p.source_id for p in left.passages] == ["budget.txt"]
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await ann.DeleteDocument(
                assistant_pb2.DeleteDocumentRequest(source_id="hike.txt"), timeout=20
            )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    ("rpc", "request_", "field"),
    [
        ("IndexDocument", assistant_pb2.IndexDocumentRequest(source_id="a", text=" "), "text"),
        ("IndexDocument", assistant_pb2.IndexDocumentRequest(text=BUDGET), "source_id"),
        ("Search", assistant_pb2.SearchRequest(query=""), "query"),
        ("Search", assistant_pb2.SearchRequest(query="q", top_k=1000), "top_k"),
        ("DeleteDocument", assistant_pb2.DeleteDocumentRequest(), "source_id"),
    ],
)
async def test_bad_input_is_invalid_argument_naming_the_field(assistant_addr, rpc, request_, field):
    async with assistant_as(assistant_addr, "ann") as ann:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await getattr(ann, rpc)(request_, timeout=20)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(rpc_status.from_call(refused.value))


async def test_a_call_without_a_verified_caller_is_unauthenticated(assistant_addr):
    async with grpc.aio.insecure_channel(assistant_addr) as channel:
        stub = assistant_pb2_grpc.AssistantServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.Search(assistant_pb2.SearchRequest(query="budget"), timeout=20)
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED


async def test_indexing_and_deleting_leave_audit_lines_naming_the_document(assistant_addr, caplog):
    caplog.set_level(logging.INFO, logger="aiorch.audit")
    async with assistant_as(assistant_addr, "ann") as ann:
        await index(ann, "budget.txt", BUDGET)
        await ann.DeleteDocument(
            assistant_pb2.DeleteDocumentRequest(source_id="budget.txt"), timeout=20
        )
        await ann.Search(assistant_pb2.SearchRequest(query="budget"), timeout=20)  # reads: none
    lines = [
        (r.action.rsplit("/", 1)[1], r.target) for r in caplog.records if r.name == "aiorch.audit"
    ]
    assert lines == [("IndexDocument", "budget.txt"), ("DeleteDocument", "budget.txt")]

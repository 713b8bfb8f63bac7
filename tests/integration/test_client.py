"""The Python client against real in-process servers: every capability, workflows run,
started, watched, waited for and batched, errors with their details, the sync client."""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
from aiorch_client import AsyncClient, Client, InvalidArgument, NotFound
from aiorch_client.config import SERVICES
from aiorch_client.types import orchestrator

from services.meeting_intel.__main__ import build as build_meeting_intel
from services.monitor.__main__ import build as build_monitor

from .conftest import start_service

LABELS = ["finance", "sport", "cooking"]
INVOICE = "The board approved the budget; Bob will send the invoice on Friday."
VTT = """WEBVTT

00:00:00.000 --> 00:00:04.000
<v Ann>We decided to move the launch to the first of June.

00:00:04.000 --> 00:00:09.000
<v Bob>I will send the updated invoice template to finance by Friday.
"""
SRT = """1
00:00:00,000 --> 00:00:04,000
Ann: We decided to move the launch to the first of June.

2
00:00:04,000 --> 00:00:09,000
Bob: I will send the updated invoice template to finance by Friday.
"""
SEGMENTS = [
    {"speaker": "Ann", "start": 0, "end": 4, "text": "We decided to move the launch."},
    {"speaker": "Bob", "start": 4, "end": 9, "text": "I will send the invoice by Friday."},
]


@pytest.fixture(scope="module")
async def addrs(suite):
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service(
            "meeting_intel", build_meeting_intel, suite.settings, stack
        )
        _, settings = await start_service("monitor", build_monitor, settings, stack)
        yield {name: settings.addr_of(name) for name in SERVICES}


@pytest.fixture
async def aiorch(addrs):
    async with AsyncClient(addrs=addrs, user="client-test", timeout=30) as client:
        yield client


async def test_classify_returns_the_best_label_and_every_score(aiorch):
    reply = await aiorch.classify(INVOICE, LABELS, keywords=True)
    assert reply.label == "finance"
    assert {s.label for s in reply.scores} == set(LABELS)
    assert reply.keywords


async def test_bad_input_raises_invalid_argument_naming_the_field(aiorch):
    with pytest.raises(InvalidArgument) as raised:
        await aiorch.classify("", LABELS)
    assert "text" in raised.value.field_violations
    assert raised.value.exit_code == 2


@pytest.mark.parametrize(
    ("name", "contents"),
    [("standup.vtt", VTT), ("standup.srt", SRT), ("standup.json", json.dumps(SEGMENTS))],
)
async def test_analyze_reads_vtt_srt_and_json_files(aiorch, tmp_path, name, contents):
    path = tmp_path / name
    path.write_text(contents)
    reply = await aiorch.analyze(file=path, meeting_date="2026-05-04")
    assert {s.name for s in reply.speakers} == {"Ann", "Bob"}
    assert any("invoice" in item.task for item in reply.action_items)


async def test_embed_gives_one_vector_per_text(aiorch):
    reply = await aiorch.embed(["one text", "another text"])
    assert len(reply.embeddings) == 2
    assert all(len(e.values) == reply.dimensions for e in reply.embeddings)


async def test_run_returns_the_finished_workflow(aiorch):
    workflow = await aiorch.run("classification", text=INVOICE, labels=LABELS, use_cache=False)
    assert workflow.status == orchestrator.WORKFLOW_STATUS_SUCCEEDED
    assert workflow.result.classification.label == "finance"


async def test_a_started_workflow_is_watched_to_its_end(aiorch):
    started = await aiorch.start("classification", text=INVOICE, labels=LABELS, use_cache=False)
    assert started.status == orchestrator.WORKFLOW_STATUS_PENDING
    events = [event async for event in aiorch.watch(started.workflow_id)]
    assert events[-1].workflow.workflow_id == started.workflow_id
    assert events[-1].status == orchestrator.WORKFLOW_STATUS_SUCCEEDED
    done = await aiorch.wait(started.workflow_id)
    assert done.result.classification.label == "finance"


async def test_an_unknown_workflow_raises_not_found(aiorch):
    with pytest.raises(NotFound):
        await aiorch.get("00000000-0000-0000-0000-000000000000")


async def test_batch_runs_items_with_bounded_concurrency_and_reports_each(aiorch):
    items = [
        {"type": "classification", "input": {"text": f"{INVOICE} {n}", "labels": [{"name": "a"}]}}
        for n in range(4)
    ]
    items.insert(2, {"type": "no_such_type", "input": {"text": "x"}})
    results = [result async for result in aiorch.batch(items, concurrency=2)]
    assert sorted(r.index for r in results) == [0, 1, 2, 3, 4]
    failed = [r for r in results if not r.ok]
    assert [r.index for r in failed] == [2]
    assert isinstance(failed[0].error, InvalidArgument)
    assert "type" in failed[0].error.field_violations


async def test_health_names_every_downstream_service(aiorch):
    health = await aiorch.health()
    assert {"classifier", "embeddings"} <= {s.name for s in health.services}


async def test_the_metadata_hook_runs_for_every_call(addrs):
    seen = []

    def hook(method):
        seen.append(method)
        return [("x-user-id", "client-test")]

    async with AsyncClient(addrs=addrs, metadata_hook=hook, token="t0ken") as client:
        await client.embed("hello")
        await client.workflow_types()
    assert seen == [
        "/aiorch.v1.EmbeddingsService/Embed",
        "/aiorch.v1.OrchestratorService/ListWorkflowTypes",
    ]


async def test_the_sync_client_makes_the_same_calls(addrs):
    # The servers run on this test's event loop, so the blocking client runs in a thread.
    def use() -> tuple[str, list]:
        with Client(addrs=addrs, user="client-test") as client:
            label = client.classify(INVOICE, LABELS).label
            started = client.start("classification", text=INVOICE, labels=LABELS)
            states = [e.status for e in client.watch(started.workflow_id)]
            return label, states

    label, states = await asyncio.to_thread(use)
    assert label == "finance"
    assert states[-1] == orchestrator.WORKFLOW_STATUS_SUCCEEDED

"""MeetingIntelService through gRPC, over real in-process embeddings and meeting_intel servers."""

from __future__ import annotations

import contextlib

import grpc
import pytest
from grpc_status import rpc_status

from aiorch.v1 import meeting_intel_pb2 as pb
from aiorch.v1 import meeting_intel_pb2_grpc
from services.common.errors import field_violations
from services.embeddings.__main__ import build as build_embeddings
from services.meeting_intel.__main__ import build as build_meeting_intel
from tests.integration.conftest import start_service
from tests.meeting_samples import MEETING


@pytest.fixture(scope="module")
async def meeting_intel(settings):
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("embeddings", build_embeddings, settings, stack)
        _, settings = await start_service("meeting_intel", build_meeting_intel, settings, stack)
        channel = grpc.aio.insecure_channel(settings.meeting_intel_addr)
        stack.push_async_callback(channel.close)
        yield meeting_intel_pb2_grpc.MeetingIntelServiceStub(channel)


async def test_a_transcript_gives_every_finding_with_dates_resolved_and_usage(meeting_intel):
    request = pb.AnalyzeRequest(transcript=MEETING, meeting_date="2024-05-15")
    reply = await meeting_intel.Analyze(request, timeout=30)
    assert {s.name for s in reply.speakers} == {"Ann", "Bob", "Cara"}
    assert sum(s.talk_share for s in reply.speakers) == pytest.approx(1.0)
    assert [(i.owner, i.due) for i in reply.action_items] == [
        ("Cara", "2024-05-17"),
        ("Bob", "2024-05-16"),
    ]
    assert reply.action_items[0].source.segment == 5
    assert reply.action_items[0].source.text == "I'll update the release notes by Friday."
    assert [d.source.segment for d in reply.decisions] == [4]
    assert [(q.asked_by, q.source.segment) for q in reply.questions] == [("Cara", 8)]
    assert reply.topics[0].start_segment == 0 and reply.topics[-1].end_segment == 10
    assert reply.topics[0].keywords and reply.topics[0].title
    assert reply.summary
    assert reply.model.startswith("local/")
    assert reply.usage.input_tokens > 0 and reply.usage.cost_usd == 0


async def test_timed_segments_give_talk_time(meeting_intel):
    segments = [
        pb.TranscriptSegment(speaker="Ann", start=0, end=30, text="Can you book the room, Bob?"),
        pb.TranscriptSegment(speaker="Bob", start=30, end=40, text="Yes, I will book it today."),
    ]
    reply = await meeting_intel.Analyze(pb.AnalyzeRequest(segments=segments), timeout=30)
    assert [(s.name, s.talk_seconds) for s in reply.speakers] == [("Ann", 30.0), ("Bob", 10.0)]
    assert reply.speakers[0].talk_share == pytest.approx(0.75)
    assert [(i.owner, i.source.segment) for i in reply.action_items] == [("Bob", 0)]


async def test_the_summary_is_as_long_as_asked_in_whole_clean_sentences(meeting_intel):
    transcript = MEETING.replace("Good. We decided", "Good. {vocalsound} Um, we we decided")
    replies = {
        words: await meeting_intel.Analyze(
            pb.AnalyzeRequest(transcript=transcript, summary_words=words), timeout=30
        )
        for words in (12, 40)
    }
    ratio = await meeting_intel.Analyze(
        pb.AnalyzeRequest(transcript=transcript, summary_ratio=0.25), timeout=30
    )
    short, longer = replies[12].summary, replies[40].summary
    assert 0 < len(short.split()) <= 12 < len(longer.split()) <= 40
    assert len(ratio.summary.split()) <= 0.25 * len(MEETING.split())
    for summary in (short, longer, ratio.summary):
        assert summary.endswith((".", "!")) and "{" not in summary and " we we " not in summary


async def test_an_empty_turn_is_skipped_and_sources_still_index_the_callers_segments(
    meeting_intel,
):
    segments = [
        pb.TranscriptSegment(speaker="Ann", text="Bob, can you book the meeting room for Monday?"),
        pb.TranscriptSegment(speaker="Bob", text="  "),
        pb.TranscriptSegment(speaker="Cara", text="I'll send the agenda to the team by Friday."),
        pb.TranscriptSegment(speaker="Bob", text="Sure."),
    ]
    reply = await meeting_intel.Analyze(pb.AnalyzeRequest(segments=segments), timeout=30)
    assert [(i.owner, i.source.segment) for i in reply.action_items] == [("Bob", 0), ("Cara", 2)]
    assert sorted((s.name, s.turns) for s in reply.speakers) == [
        ("Ann", 1),
        ("Bob", 1),
        ("Cara", 1),
    ]


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (pb.AnalyzeRequest(), "transcript"),
        (pb.AnalyzeRequest(transcript="   "), "transcript"),
        (pb.AnalyzeRequest(transcript="Ann: " + "word " * 60_001), "transcript"),
        (pb.AnalyzeRequest(transcript="A plain paragraph with no speakers at all."), "transcript"),
        (pb.AnalyzeRequest(transcript="Ann: Hello.", meeting_date="next Tuesday"), "meeting_date"),
        (
            pb.AnalyzeRequest(
                transcript="Ann: Hello.", segments=[pb.TranscriptSegment(speaker="A", text="x")]
            ),
            "segments",
        ),
        (pb.AnalyzeRequest(segments=[pb.TranscriptSegment(speaker="Ann", text=" ")]), "segments"),
        (pb.AnalyzeRequest(transcript="Ann: Hello.", summary_words=0), "summary_words"),
        (pb.AnalyzeRequest(transcript="Ann: Hello.", summary_words=-5), "summary_words"),
        (pb.AnalyzeRequest(transcript="Ann: Hello.", summary_ratio=1.5), "summary_ratio"),
        (
            pb.AnalyzeRequest(
                segments=[pb.TranscriptSegment(speaker="Ann", start=5, end=2, text="Hi.")]
            ),
            "segments[0].end",
        ),
    ],
)
async def test_bad_requests_are_invalid_argument_naming_the_field(meeting_intel, request_, field):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await meeting_intel.Analyze(request_, timeout=30)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(rpc_status.from_call(caught.value))


async def test_without_the_embeddings_service_the_call_is_unavailable(settings):
    async with contextlib.AsyncExitStack() as stack:
        nowhere = settings.model_copy(update={"embeddings_addr": "127.0.0.1:1"})
        _, nowhere = await start_service("meeting_intel", build_meeting_intel, nowhere, stack)
        async with grpc.aio.insecure_channel(nowhere.meeting_intel_addr) as channel:
            stub = meeting_intel_pb2_grpc.MeetingIntelServiceStub(channel)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.Analyze(pb.AnalyzeRequest(transcript=MEETING), timeout=10)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE

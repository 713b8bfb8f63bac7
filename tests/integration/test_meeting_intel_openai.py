"""MeetingIntelService with the OpenAI backend, against a real OpenAI-compatible chat server
(llama-server with Gemma 3 270M, a tiny base model: these tests assert structure)."""

from __future__ import annotations

import contextlib
import re

import grpc
import pytest

from aiorch.v1 import meeting_intel_pb2 as pb
from aiorch.v1 import meeting_intel_pb2_grpc
from services.meeting_intel.__main__ import build
from services.meeting_intel.openai_backend import chunks
from services.meeting_intel.transcript import parse_text

from .conftest import start_service

MEETING = """Ann: Good morning, let's start with the release plan for the mobile app.
Bob: The mobile release is blocked by the login bug on older phones.
Ann: When will the login bug be fixed?
Bob: The login bug will be fixed on Thursday, the patch is in review.
Ann: Good. We decided to ship the mobile release next Monday.
Cara: I'll update the release notes by Friday.
Ann: Bob, can you send the test report to the client?
Bob: Sure, I will send it tomorrow.
Cara: What about the budget for the marketing campaign next quarter?
Ann: Let's talk about the office move now.
"""
# Small enough that the meeting above is read in two parts: map, then reduce.
CHUNK_CHARS = 400


@contextlib.asynccontextmanager
async def meeting_intel(settings, **changes):
    settings = settings.model_copy(update={"meeting_intel_backend": "openai", **changes})
    async with contextlib.AsyncExitStack() as stack:
        _, settings = await start_service("meeting_intel", build, settings, stack)
        async with grpc.aio.insecure_channel(settings.meeting_intel_addr) as channel:
            yield meeting_intel_pb2_grpc.MeetingIntelServiceStub(channel)


@pytest.fixture(scope="module")
async def stub(settings, openai_chat_url):
    async with meeting_intel(
        settings,
        openai_base_url=openai_chat_url,
        openai_chat_model="gemma",
        openai_max_input_chars=CHUNK_CHARS,
        prices={"gemma": {"input": 1.0, "output": 2.0}},
    ) as stub:
        yield stub


async def test_a_long_transcript_is_read_in_parts_into_one_structured_reply(stub):
    assert len(chunks(parse_text(MEETING).segments, CHUNK_CHARS)) == 2
    request = pb.AnalyzeRequest(transcript=MEETING, meeting_date="2024-05-15")
    reply = await stub.Analyze(request, timeout=300)
    assert {s.name for s in reply.speakers} == {"Ann", "Bob", "Cara"}
    assert sum(s.talk_share for s in reply.speakers) == pytest.approx(1.0)
    assert isinstance(reply.summary, str) and reply.summary.strip()
    assert reply.model == "openai/gemma"
    assert reply.usage.input_tokens > 0 and reply.usage.output_tokens > 0
    expected = (reply.usage.input_tokens + 2 * reply.usage.output_tokens) / 1e6
    assert reply.usage.cost_usd == pytest.approx(expected)
    for item in reply.action_items:
        assert item.due == "" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", item.due)
    spans = [
        *(i.source for i in reply.action_items),
        *(d.source for d in reply.decisions),
        *(q.source for q in reply.questions),
    ]
    lines = MEETING.splitlines()
    for span in spans:
        assert span.text in lines[span.segment]
    for topic in reply.topics:
        assert 0 <= topic.start_segment <= topic.end_segment < len(lines)


async def test_bad_input_is_refused_before_the_model_is_asked(stub):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.Analyze(pb.AnalyzeRequest(transcript="no speakers here"), timeout=10)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_an_unreachable_model_server_is_unavailable(settings):
    async with meeting_intel(settings, openai_base_url="http://127.0.0.1:1/v1") as stub:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.Analyze(pb.AnalyzeRequest(transcript=MEETING), timeout=30)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_a_summary_of_the_length_asked_for(stub):
    request = pb.AnalyzeRequest(transcript=MEETING, summary_words=12)
    reply = await stub.Analyze(request, timeout=300)
    # Whole sentences within the words asked for; only a first sentence longer than that
    # all alone is given whole.
    sentences = re.findall(r"[^.!?]+[.!?]*", reply.summary)
    assert reply.summary.strip()
    assert len(reply.summary.split()) <= 12 or len(sentences) == 1

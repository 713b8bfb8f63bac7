"""MeetingIntelService: a transcript in; speakers, action items, decisions, open questions,
topics and a summary out, from the configured backend (backends.py): validation, a domain
call and a reply."""

from __future__ import annotations

import grpc

from aiorch.v1 import meeting_intel_pb2, meeting_intel_pb2_grpc
from services.common.contract_checks import (
    check_transcript,
    meeting_date,
    requested_summary_length,
)
from services.common.deadlines import call_timeout
from services.meeting_intel import messages
from services.meeting_intel import transcript as transcripts
from services.meeting_intel.backends import Backend
from services.meeting_intel.settings import MeetingIntelSettings
from services.meeting_intel.summary import Length


class MeetingIntelServicer(meeting_intel_pb2_grpc.MeetingIntelServiceServicer):
    def __init__(self, backend: Backend, settings: MeetingIntelSettings):
        self.backend = backend
        self.settings = settings

    async def Analyze(
        self, request: meeting_intel_pb2.AnalyzeRequest, context: grpc.aio.ServicerContext
    ) -> meeting_intel_pb2.AnalyzeResponse:
        meeting = meeting_date(request.meeting_date)
        transcript = self._transcript(request)
        length = summary_length(request)
        result, summary, usage = await self.backend.analyze(
            transcript,
            meeting,
            length,
            timeout=call_timeout(context, self.settings.deadline_margin_seconds),
        )
        return messages.analyze_response(result, summary, usage, self.backend.kind)

    def _transcript(self, request: meeting_intel_pb2.AnalyzeRequest) -> transcripts.Transcript:
        # The same checks, in the same words, as the orchestrator's of a workflow's input.
        check_transcript(
            request.transcript,
            request.segments,
            "transcript",
            self.settings.meeting_intel_max_chars,
            self.settings.meeting_intel_max_segments,
        )
        if not request.segments:
            return transcripts.parse_text(request.transcript)
        return transcripts.from_segments(
            [
                {"speaker": s.speaker, "start": s.start, "end": s.end, "text": s.text}
                for s in request.segments
            ]
        )


def summary_length(request: meeting_intel_pb2.AnalyzeRequest) -> Length:
    """The summary length the request asks for (InvalidInput naming the field when out of
    range); neither field set is the service's default."""
    words, ratio = requested_summary_length(request)
    return Length(words=words, ratio=ratio)

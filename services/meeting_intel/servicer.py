"""MeetingIntelService: a transcript in; speakers, action items, decisions, open questions,
topics and a summary out, from the configured backend: local (embeddings and grammar) or an
OpenAI-compatible chat model (openai_backend.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from aiorch.v1 import meeting_intel_pb2, meeting_intel_pb2_grpc
from services.common import llm
from services.common.deadlines import call_timeout
from services.common.errors import InvalidInput
from services.common.settings import Settings
from services.common.validation import require_text
from services.embeddings.client import EmbeddingsClient
from services.meeting_intel import transcript as transcripts
from services.meeting_intel.analysis import Analysis, analyze
from services.meeting_intel.dates import parse_meeting_date
from services.meeting_intel.sentences import Sentence
from services.meeting_intel.summary import Length
from services.meeting_intel.vectors import ExampleCache


class LocalBackend:
    def __init__(self, embeddings: EmbeddingsClient):
        self.embeddings = embeddings
        self.examples = ExampleCache()

    async def analyze(
        self,
        transcript: transcripts.Transcript,
        meeting: date | None,
        timeout: Callable[[], float | None],
        length: Length,
    ) -> tuple[Analysis, str, llm.Usage]:
        async def embed(texts: list[str]):
            return await self.embeddings.embed(texts, timeout=timeout())

        result = await analyze(transcript, embed, meeting, self.examples, length)
        return result, result.summary_text, llm.Usage(result.tokens, 0, 0.0)

    def model(self, result: Analysis) -> str:
        return f"local/{result.model}"


class MeetingIntelServicer(meeting_intel_pb2_grpc.MeetingIntelServiceServicer):
    def __init__(self, backend, settings: Settings):
        self.backend = backend  # LocalBackend or openai_backend.OpenAIBackend
        self.settings = settings

    async def Analyze(self, request, context):
        meeting = parse_meeting_date(request.meeting_date)
        transcript = self._transcript(request)
        result, summary, usage = await self.backend.analyze(
            transcript,
            meeting,
            lambda: call_timeout(context, self.settings.deadline_margin_seconds),
            summary_length(request),
        )
        return reply(result, summary, self.backend.model(result), usage)

    def _transcript(self, request) -> transcripts.Transcript:
        limit = self.settings.meeting_intel_max_chars
        if not request.segments:
            return transcripts.parse_text(require_text(request.transcript, "transcript", limit))
        if request.transcript:
            raise InvalidInput("segments", "give the transcript as text or as segments, not both")
        if len(request.segments) > self.settings.meeting_intel_max_segments:
            raise InvalidInput(
                "segments",
                f"has {len(request.segments)} segments, more than the limit of "
                f"{self.settings.meeting_intel_max_segments}",
            )
        if (size := sum(len(s.text) for s in request.segments)) > limit:
            raise InvalidInput(
                "segments", f"hold {size} characters, more than the limit of {limit}"
            )
        return transcripts.from_segments(
            [
                {"speaker": s.speaker, "start": s.start, "end": s.end, "text": s.text}
                for s in request.segments
            ]
        )


def summary_length(request: meeting_intel_pb2.AnalyzeRequest) -> Length:
    """The summary length the request asks for (InvalidInput naming the field when out of
    range); neither field set is the service's default."""
    chosen = request.WhichOneof("summary_length")
    if chosen == "summary_words":
        return Length(words=request.summary_words)
    if chosen == "summary_ratio":
        return Length(ratio=request.summary_ratio)
    return Length()


def reply(
    result: Analysis, summary: str, model: str, usage: llm.Usage
) -> meeting_intel_pb2.AnalyzeResponse:
    pb = meeting_intel_pb2
    return pb.AnalyzeResponse(
        speakers=[
            pb.Speaker(
                name=s.name,
                turns=s.turns,
                words=s.words,
                talk_share=s.talk_share,
                talk_seconds=s.talk_seconds,
            )
            for s in result.speakers
        ],
        action_items=[
            pb.ActionItem(
                owner=i.owner,
                task=i.task,
                due=i.due.isoformat() if i.due else "",
                source=_span(i.sentence),
            )
            for i in result.action_items
        ],
        decisions=[pb.Decision(text=d.text, source=_span(d.sentence)) for d in result.decisions],
        questions=[
            pb.Question(text=q.text, asked_by=q.asked_by, source=_span(q.sentence))
            for q in result.questions
        ],
        topics=[
            pb.Topic(
                title=t.title,
                keywords=t.keywords,
                start_segment=t.start_segment,
                end_segment=t.end_segment,
            )
            for t in result.topics
        ],
        summary=summary,
        model=model,
        usage=usage.to_proto(),
    )


def _span(sentence: Sentence) -> meeting_intel_pb2.SourceSpan:
    return meeting_intel_pb2.SourceSpan(segment=sentence.segment, text=sentence.text)

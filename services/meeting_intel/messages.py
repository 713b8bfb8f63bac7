"""Replies of MeetingIntelService, built from what the backend computed."""

from __future__ import annotations

from aiorch.v1 import meeting_intel_pb2 as pb
from services.common import llm
from services.meeting_intel.analysis import Analysis
from services.meeting_intel.sentences import Sentence


def analyze_response(
    result: Analysis, summary: str, usage: llm.Usage, kind: str
) -> pb.AnalyzeResponse:
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
                source=source_span(i.sentence),
            )
            for i in result.action_items
        ],
        decisions=[
            pb.Decision(text=d.text, source=source_span(d.sentence)) for d in result.decisions
        ],
        questions=[
            pb.Question(text=q.text, asked_by=q.asked_by, source=source_span(q.sentence))
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
        model=f"{kind}/{result.model}",
        usage=usage.to_proto(),
    )


def source_span(sentence: Sentence) -> pb.SourceSpan:
    return pb.SourceSpan(segment=sentence.segment, text=sentence.text)

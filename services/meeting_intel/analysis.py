"""One analysis of a transcript: every finding, from one pass of embeddings.

The transcript's sentences and every module's examples are embedded together (the
examples only until they are cached); the modules then work on
those vectors. Sentences of one or two
words ("Okay.", "Yes, yes.") are not embedded: they carry no subject, and the modules that
read them (answers to questions) read their words.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date

from services.common.errors import InvalidInput
from services.embeddings.client import Embed, VectorCache, Vectors, embed_texts
from services.meeting_intel import action_items, decisions, questions, summary, topics
from services.meeting_intel.people import People
from services.meeting_intel.sentences import Sentence, split
from services.meeting_intel.speakers import SpeakerStats, speaker_stats
from services.meeting_intel.summary import quote
from services.meeting_intel.transcript import Transcript

EMBED_WORDS = 3  # shortest sentence embedded
CONTENT_WORDS = 4  # shortest sentence that counts for topics and the summary


@dataclass(frozen=True)
class Analysis:
    speakers: list[SpeakerStats]
    action_items: list[action_items.ActionItem]
    decisions: list[decisions.Decision]
    questions: list[questions.Question]
    topics: list[topics.Topic]
    summary: list[Sentence]
    tokens: int  # read by the embedding model for this request
    model: str  # the embedding model

    @property
    def summary_text(self) -> str:
        return " ".join(quote(s) for s in self.summary)


async def analyze(
    transcript: Transcript,
    embed: Embed,
    meeting: date | None = None,
    examples: VectorCache | None = None,
    length: summary.Length | None = None,
) -> Analysis:
    """Every finding of `transcript`, its summary as long as `length` asks; `examples` keeps
    the modules' example vectors between calls (without it they are embedded with every
    transcript)."""
    # Splitting and the analysis proper are CPU work of tens of milliseconds on a long
    # meeting: keep them off the event loop.
    sentences = await asyncio.to_thread(split, transcript)
    if not sentences:
        field = "segments" if transcript.format == "segments" else "transcript"
        raise InvalidInput(field, "has speaker turns but no words in them")
    vectors = await embed_texts(
        [s.clean for s in sentences if s.words >= EMBED_WORDS],
        embed,
        reusable=[
            *action_items.texts_to_embed(),
            *decisions.texts_to_embed(),
            *questions.texts_to_embed(),
        ],
        cache=examples,
    )
    return await asyncio.to_thread(
        _findings, transcript, sentences, vectors, meeting, length or summary.Length()
    )


def _findings(
    transcript: Transcript,
    sentences: list[Sentence],
    vectors: Vectors,
    meeting: date | None,
    length: summary.Length,
) -> Analysis:
    people = People(transcript)
    content = [s for s in sentences if s.words >= CONTENT_WORDS]
    matrix = vectors.of(s.clean for s in content)
    spans = topics.stretches(content, matrix)
    groups = [number for number, (a, b) in enumerate(spans) for _ in range(a, b)]
    exclude = frozenset(
        part.casefold() for name in people.speakers for part in name.replace("_", " ").split()
    )
    meeting_words = sum(s.words for s in sentences)
    items = action_items.extract(sentences, people, vectors, meeting)
    # "Can you send the file?" asks for work, not for an answer: an action item only.
    requests = {item.sentence.index for item in items}
    asked = questions.open_questions(sentences, vectors, people.named_in)
    return Analysis(
        speakers=speaker_stats(transcript),
        action_items=items,
        decisions=decisions.extract(sentences, vectors),
        questions=[q for q in asked if q.sentence.index not in requests],
        topics=topics.describe(content, spans, len(transcript.segments) - 1, exclude),
        summary=summary.summarize(content, matrix, groups, length.budget(meeting_words)),
        tokens=vectors.tokens,
        model=vectors.model,
    )

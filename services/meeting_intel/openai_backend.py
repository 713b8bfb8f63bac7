"""Meeting analysis by an OpenAI-compatible chat model, map-reduce over long transcripts.

Speakers and talk time are counted from the segments: that needs no model and stays exact.
The segments are cut into chunks of at most `openai_max_input_chars` characters; the model
reads each chunk and answers JSON of a fixed, bounded schema (map), then, when there was more
than one chunk, writes one summary from the chunks' summaries (reduce). The lists are joined
in transcript order without repeats.

The model gives a due date as said ("by Friday"); dates.due_date resolves it against the
meeting date, so a due date is ISO or empty, never the model's arithmetic. Each finding is
tied to the sentence of its chunk that shares most words with it (its source span), the
chunk's first sentence when none shares any; a question's asker is that sentence's speaker.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from datetime import date
from typing import TYPE_CHECKING

from services.common import llm
from services.common.errors import InvalidInput
from services.meeting_intel import action_items, decisions, questions, topics
from services.meeting_intel.analysis import Analysis
from services.meeting_intel.chunks import Piece, chunks, groups
from services.meeting_intel.dates import due_date
from services.meeting_intel.people import People
from services.meeting_intel.sentences import Sentence, split
from services.meeting_intel.settings import MeetingIntelSettings
from services.meeting_intel.speakers import speaker_stats
from services.meeting_intel.summary import Length
from services.meeting_intel.transcript import Transcript

if TYPE_CHECKING:
    import openai

SYSTEM = (
    "You read meeting transcripts and note what they contain. "
    "Answer only with JSON matching the schema."
)
# Bounds on what one reply may hold: with llama.cpp the schema becomes a grammar, so these
# also bound how long a small model can go on.
TEXT_CHARS = 160
SUMMARY_CHARS = 400
MAX_KEYWORDS = 4
PARALLEL_CALLS = 4  # map calls in flight at once

_WORD = re.compile(r"\w+")
_SELF = frozenset({"i", "me", "myself"})
# Owners that name nobody who will do the work: an action item needs a person.
_NOBODY = frozenset({"", "we", "us", "team", "the team", "everyone", "everybody", "all", "unknown"})


def list_limit(chunk_chars: int) -> int:
    """Most items of each list asked of one chunk: enough for a long chunk's findings, few
    for a short one so that a small model soon stops."""
    return min(12, max(2, chunk_chars // 1500))


def _object(properties: dict) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _text(chars: int = TEXT_CHARS, least: int = 0) -> dict:
    return {"type": "string", "minLength": least, "maxLength": chars}


def _list(items: dict, limit: int) -> dict:
    return {"type": "array", "items": items, "maxItems": limit}


def chunk_schema(limit: int) -> dict:
    return _object(
        {
            "action_items": _list(
                _object({"owner": _text(60), "task": _text(), "due": _text(40)}), limit
            ),
            "decisions": _list(_text(), limit),
            "questions": _list(_text(), limit),
            "topics": _list(
                _object({"title": _text(60), "keywords": _list(_text(40), MAX_KEYWORDS)}),
                max(1, limit // 2),
            ),
            "summary": _text(SUMMARY_CHARS, 1),
        }
    )


SUMMARY_SCHEMA = _object({"summary": _text(SUMMARY_CHARS, 1)})
CHARS_PER_WORD = 8  # room in the schema for a summary of a given length in words


def summary_schema(words: int | None = None) -> dict:
    """The reduce step's schema; room for `words` words when the caller chose a length."""
    if words is None:
        return SUMMARY_SCHEMA
    return _object({"summary": _text(max(SUMMARY_CHARS, words * CHARS_PER_WORD), 1)})


def chunk_prompt(chunk: Sequence[Piece], part: int, parts: int, limit: int) -> str:
    where = f"part {part} of {parts} of " if parts > 1 else ""
    return "\n".join(
        [
            f"Read this {where}a meeting transcript and list:",
            "- action_items: work a person took on or was asked to do: owner (that person's "
            "name), task (what will be done), due (the deadline as said, such as "
            '"by Friday", or "");',
            "- decisions: what the meeting decided;",
            "- questions: questions asked and not answered;",
            f"- topics: the subjects discussed, each with a short title and up to "
            f"{MAX_KEYWORDS} keywords;",
            "- summary: this part in one or two sentences.",
            f"Give at most {limit} items in each list, and an empty list when there are none.",
            "",
            "Transcript:",
            *(piece.line for piece in chunk),
        ]
    )


def summary_prompt(summaries: Sequence[str], words: int | None = None) -> str:
    numbered = [f"{i}. {text}" for i, text in enumerate(summaries, 1)]
    size = f"in about {words} words" if words else "in at most three sentences"
    return "\n".join(
        [
            "These are summaries of consecutive parts of one meeting. Write one summary of "
            f"the whole meeting {size}.",
            "",
            *numbered,
        ]
    )


def best_match(text: str, sentences: Sequence[Sentence]) -> Sentence:
    """The sentence sharing most words with `text` (Jaccard), the first one on a tie."""
    words = set(_WORD.findall(text.casefold()))

    def overlap(sentence: Sentence) -> float:
        other = set(_WORD.findall(sentence.text.casefold()))
        union = words | other
        return len(words & other) / len(union) if union else 0.0

    return max(sentences, key=overlap)  # max keeps the first of equals


def _clean(text: str) -> str:
    return " ".join(text.split()).strip(" -")


def whole_sentences(summary: str, limit: int = SUMMARY_CHARS) -> str:
    """A summary cut off at the schema's limit, without its unfinished last sentence."""
    summary = _clean(summary)
    if len(summary) < limit:
        return summary
    end = max(summary.rfind(mark) for mark in ".!?")
    return summary[: end + 1] if end > 0 else summary


def within_words(summary: str, words: int) -> str:
    """A summary of at most `words` words, cut after its last whole sentence that fits (its
    first sentence when none does)."""
    summary = _clean(summary)
    if len(summary.split()) <= words:
        return summary
    ends = [m.end() for m in re.finditer(r"[.!?](?=\s|$)", summary)]
    fitting = [end for end in ends if len(summary[:end].split()) <= words]
    if fitting:
        return summary[: fitting[-1]]
    return summary[: ends[0]] if ends else " ".join(summary.split()[:words])


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def merge(
    transcript: Transcript,
    sentences: Sequence[Sentence],
    replies: Sequence[tuple[Sequence[Piece], dict]],
    meeting: date | None,
) -> tuple[
    list[action_items.ActionItem],
    list[decisions.Decision],
    list[questions.Question],
    list[topics.Topic],
]:
    """The chunks' findings in transcript order, each once, tied to its sentence."""
    people = People(transcript)
    items: dict[tuple[str, str], action_items.ActionItem] = {}
    decided: dict[str, decisions.Decision] = {}
    asked: dict[str, questions.Question] = {}
    stretches: list[topics.Topic] = []
    for chunk, data in replies:
        segments = {piece.segment for piece in chunk}
        own = [s for s in sentences if s.segment in segments] or list(sentences[:1])
        for item in data["action_items"]:
            task = _clean(item["task"])
            if not _key(task):
                continue
            sentence = best_match(task, own)
            owner = _clean(item["owner"])
            if owner.casefold() in _NOBODY:
                continue
            owner = sentence.speaker if owner.casefold() in _SELF else people.canonical(owner)
            due = due_date(item["due"], meeting) if item["due"].strip() else None
            found = action_items.ActionItem(owner, task, due, sentence)
            items.setdefault((owner.casefold(), _key(task)), found)
        for text in map(_clean, data["decisions"]):
            if _key(text):
                decided.setdefault(_key(text), decisions.Decision(text, best_match(text, own)))
        for text in map(_clean, data["questions"]):
            if _key(text):
                sentence = best_match(text, own)
                asked.setdefault(_key(text), questions.Question(text, sentence.speaker, sentence))
        first, last = min(segments), max(segments)
        for topic in data["topics"]:
            title = _clean(topic["title"])
            if not _key(title):
                continue
            keywords = [k for k in map(_clean, topic["keywords"]) if _key(k)]
            previous = stretches[-1] if stretches else None
            if previous and _key(previous.title) == _key(title):
                # The same subject carried on: one stretch, not two.
                merged = list(dict.fromkeys([*previous.keywords, *keywords]))[:MAX_KEYWORDS]
                stretches[-1] = topics.Topic(
                    previous.title, merged, previous.start_segment, max(last, previous.end_segment)
                )
            else:
                stretches.append(topics.Topic(title, keywords, first, last))
    return list(items.values()), list(decided.values()), list(asked.values()), stretches


def add(usages: Sequence[llm.Usage]) -> llm.Usage:
    return llm.Usage(
        sum(u.input_tokens for u in usages),
        sum(u.output_tokens for u in usages),
        sum(u.cost_usd for u in usages),
    )


async def analyze(
    api: openai.AsyncOpenAI,
    settings: MeetingIntelSettings,
    transcript: Transcript,
    meeting: date | None,
    timeout: Callable[[], float | None],
    length: Length | None = None,
) -> tuple[Analysis, str, llm.Usage]:
    """Every finding of `transcript`, the model's summary and the usage of all its calls;
    `timeout` gives the seconds left for each call as it starts. When `length` is chosen,
    the last reduction asks for that many words and its answer is cut to them."""
    sentences = split(transcript)
    if not sentences:
        field = "segments" if transcript.format == "segments" else "transcript"
        raise InvalidInput(field, "has speaker turns but no words in them")
    budget = settings.openai_max_input_chars
    parts = chunks(transcript.segments, budget)
    gate = asyncio.Semaphore(PARALLEL_CALLS)
    usages: list[llm.Usage] = []

    async def ask(prompt: str, schema: dict, name: str) -> dict:
        async with gate:
            messages = [
                {"role": "system", "content": SYSTEM},
                {"role": "user", "content": prompt},
            ]
            data, usage = await llm.chat_json(api, settings, messages, schema, name, timeout())
        usages.append(usage)
        return data

    async def read(number: int, chunk: list[Piece]) -> dict:
        limit = list_limit(sum(len(piece.line) + 1 for piece in chunk))
        prompt = chunk_prompt(chunk, number, len(parts), limit)
        return await ask(prompt, chunk_schema(limit), "meeting_part")

    replies = await asyncio.gather(*(read(i, c) for i, c in enumerate(parts, 1)))
    summaries = [whole_sentences(data["summary"]) for data in replies]
    summaries = [s for s in summaries if s] or [""]
    words = None
    if length is not None and length.chosen:
        words = length.budget(sum(s.words for s in sentences))
    # Without a length, reduce to one summary; with one, until one call can read them all.
    while len(summaries) > 1 and (words is None or len(groups(summaries, budget)) > 1):
        summaries = [
            whole_sentences(data["summary"])
            for data in await asyncio.gather(
                *(
                    ask(summary_prompt(group), SUMMARY_SCHEMA, "meeting_summary")
                    for group in groups(summaries, budget)
                )
            )
        ]
    if words is not None:
        data = await ask(summary_prompt(summaries, words), summary_schema(words), "meeting_summary")
        summaries = [within_words(data["summary"], words)]
    found = merge(transcript, sentences, list(zip(parts, replies, strict=True)), meeting)
    usage = add(usages)
    analysis = Analysis(
        speakers=speaker_stats(transcript),
        action_items=found[0],
        decisions=found[1],
        questions=found[2],
        topics=found[3],
        summary=[],  # the model's summary is abstractive: it is returned on its own
        tokens=usage.input_tokens,
        model=settings.openai_chat_model,
    )
    return analysis, summaries[0], usage

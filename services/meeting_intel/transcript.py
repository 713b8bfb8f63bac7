"""A transcript in any accepted shape, as one list of segments: speaker, start, end, text.

Accepted text formats, detected in this order:
- a JSON array of segments `[{"speaker", "start", "end", "text"}, ...]`;
- WebVTT (`WEBVTT` header) and SRT: one segment per cue, the speaker from a `<v Name>`
  voice tag or a `Name:` prefix;
- `(PERSON3) text` lines (the ELITR corpus) and `Speaker: text` lines, optionally led by
  a `[00:01:02]` time; a line without a speaker continues the turn above it.

A segment is kept as given (one cue, one line and its continuations, one JSON item), so
source spans index the caller's own segments; consecutive segments of one speaker count as
one turn in the speaker statistics.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from services.common.errors import InvalidInput

UNKNOWN_SPEAKER = "unknown"
FORMATS_HINT = (
    "no speaker turns found: expected 'Speaker: text' lines, '(PERSON1) text' lines, "
    "WebVTT, SRT or a JSON array of segments"
)


@dataclass(frozen=True)
class Segment:
    speaker: str
    text: str
    start: float | None = None  # seconds from the start of the meeting, when known
    end: float | None = None


@dataclass(frozen=True)
class Transcript:
    segments: list[Segment]
    format: str  # json, webvtt, srt, person-lines, speaker-lines, segments

    @property
    def timed(self) -> bool:
        return all(s.start is not None and s.end is not None for s in self.spoken)

    @property
    def spoken(self) -> list[Segment]:
        """The segments with something said in them."""
        return [s for s in self.segments if s.text]


_TIME = r"(?:\d{1,2}:)?\d{1,2}:\d{2}(?:[.,]\d{1,3})?"
_CUE_TIMING = re.compile(rf"^\s*({_TIME})\s*-->\s*({_TIME})")
_PERSON_LINE = re.compile(r"^\(([^()\n]{1,60})\)\s*(.*)$")
# A name before a colon: one word, or up to four capitalised ones ("Dr. Ann Lee",
# "Speaker 2", "Hon. Ahmed Hussen"), so "So the plan is: ..." inside a turn does not start
# a new one; a role or riding in parentheses may follow ("Hon. Ahmed Hussen (Minister of
# Families, Children and Social Development)", "The Chair (Mr. Bob Saroya)").
_NAME = (
    r"\[?[^\W\d][\w.'\-]*\]?(?:\s+[A-Z0-9\[][\w.'\-\]]*){0,3}"
    r"(?:\s*\([^()\n]{1,120}\))?"
)
_SPEAKER_LINE = re.compile(rf"^(?:\[?({_TIME})\]?\s+)?({_NAME})\s*:\s+(\S.*)$")
_VOICE = re.compile(r"<v(?:\.[\w.]+)?\s+([^>]+)>")
_TAG = re.compile(r"</?[^>]+>")
_NAME_PREFIX = re.compile(rf"^({_NAME})\s*:\s+(.*)$")


def parse_text(text: str) -> Transcript:
    """Segments of a transcript given as text; InvalidInput on `transcript` if none."""
    body = text.strip().lstrip("\ufeff")
    if body.startswith("[") and (items := _json_array(body)) is not None:
        return Transcript(from_items(items, "transcript"), "json")
    if body.startswith("WEBVTT"):
        return _non_empty(Transcript(_cues(body.split("\n", 1)[-1]), "webvtt"))
    head = body.splitlines()[:5]
    if any(_CUE_TIMING.match(line) for line in head):
        return _non_empty(Transcript(_cues(body), "srt"))
    return _non_empty(_lines(body))


def from_items(items: Sequence[dict], field: str = "segments") -> list[Segment]:
    """Segments from mappings with speaker, start, end and text; each problem named.

    A turn with nothing said (a pause a recogniser wrote down, a blank row of a spreadsheet)
    is kept with empty text, so that indices still point at the caller's segments, and the
    analysis passes over it; one such turn does not make the meeting unreadable."""
    segments = []
    for i, item in enumerate(items):
        name = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise InvalidInput(name, "must be an object with speaker, start, end and text")
        text = item.get("text")
        if text is None:
            text = ""
        if not isinstance(text, str):
            raise InvalidInput(f"{name}.text", "must be a string")
        speaker = item.get("speaker") or ""
        if not isinstance(speaker, str):
            raise InvalidInput(f"{name}.speaker", "must be a string")
        start = _seconds(item.get("start"), f"{name}.start")
        end = _seconds(item.get("end"), f"{name}.end")
        if start is not None and end is not None and end < start:
            raise InvalidInput(f"{name}.end", f"is {end}, before its start {start}")
        segments.append(Segment(_speaker(speaker), text.strip(), start, end))
    if not segments:
        raise InvalidInput(field, FORMATS_HINT)
    # Times are all or nothing: a transcript with a few untimed turns is untimed (an empty
    # turn's times do not matter).
    if any(s.text and (s.start is None or s.end is None) for s in segments):
        segments = [Segment(s.speaker, s.text) for s in segments]
    return segments


def from_segments(items: Sequence[dict]) -> Transcript:
    """The request's `segments` field; zero start and end everywhere means untimed."""
    timed = any(item.get("start") or item.get("end") for item in items)
    if not timed:
        items = [{**item, "start": None, "end": None} for item in items]
    return Transcript(from_items(items, "segments"), "segments")


def _non_empty(transcript: Transcript) -> Transcript:
    if not transcript.segments:
        raise InvalidInput("transcript", FORMATS_HINT)
    return transcript


def _json_array(body: str) -> list | None:
    try:
        value = json.loads(body)
    except ValueError:
        return None  # "[PERSON1]: hello" lines, not JSON
    return value if isinstance(value, list) else None


def _seconds(value, field: str) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and re.fullmatch(_TIME, value.strip()):
        return _clock(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidInput(field, "must be seconds (a number) or hh:mm:ss.mmm")
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidInput(field, "must be seconds (a number) or hh:mm:ss.mmm") from None
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInput(field, "must be a finite number of seconds, not negative")
    return seconds


def _clock(value: str) -> float:
    """'01:02:03.500', '02:03,5' or '2:03' as seconds."""
    main, _, fraction = value.replace(",", ".").partition(".")
    seconds = 0.0
    for part in main.split(":"):
        seconds = seconds * 60 + int(part)
    return seconds + (float(f"0.{fraction}") if fraction else 0.0)


def _speaker(name: str) -> str:
    name = " ".join(name.strip().strip("[]").split())
    return name or UNKNOWN_SPEAKER


def _cues(body: str) -> list[Segment]:
    """WebVTT or SRT cues; NOTE, STYLE and REGION blocks and cue numbers are skipped."""
    segments = []
    for block in re.split(r"\n\s*\n", body.replace("\r\n", "\n")):
        lines = [line for line in block.strip().split("\n") if line.strip()]
        timings = ((i, m) for i, line in enumerate(lines) if (m := _CUE_TIMING.match(line)))
        if (found := next(timings, None)) is None:
            continue
        timing, (start, end) = found[0], found[1].groups()
        raw = " ".join(lines[timing + 1 :])
        voice = _VOICE.search(raw)
        text = " ".join(_TAG.sub("", raw).split())
        speaker = voice.group(1) if voice else ""
        if not voice and (prefixed := _NAME_PREFIX.match(text)):
            speaker, text = prefixed.groups()
        if text:
            segments.append(Segment(_speaker(speaker), text, _clock(start), _clock(end)))
    return segments


def _lines(body: str) -> Transcript:
    """`(PERSON1) text` or `Speaker: text` lines, whichever the text has more of."""
    lines = [line.strip() for line in body.splitlines()]
    person = sum(bool(_PERSON_LINE.match(line)) for line in lines)
    named = sum(bool(_SPEAKER_LINE.match(line)) for line in lines)
    if not person and not named:
        raise InvalidInput("transcript", FORMATS_HINT)
    turns: list[list] = []  # [speaker, start or None, [text lines]]
    for line in lines:
        if not line:
            continue
        if person >= named and (match := _PERSON_LINE.match(line)):
            turns.append([match.group(1), None, [match.group(2)]])
        elif person < named and (match := _SPEAKER_LINE.match(line)):
            clock, speaker, text = match.groups()
            turns.append([speaker, _clock(clock) if clock else None, [text]])
        elif turns:
            turns[-1][2].append(line)
        # Lines before the first turn (a title, a date) are not speech.
    starts = [start for _, start, _ in turns]
    timed = all(start is not None for start in starts)
    segments = []
    for i, (speaker, start, texts) in enumerate(turns):
        text = " ".join(t for t in texts if t)
        if not text:
            continue
        # A timed line ends where the next begins; the last one is given no length.
        end = (starts[i + 1] if i + 1 < len(starts) else start) if timed else None
        segments.append(Segment(_speaker(speaker), text, start if timed else None, end))
    return Transcript(segments, "person-lines" if person >= named else "speaker-lines")

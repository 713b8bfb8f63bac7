"""Cutting a transcript to fit a chat model's context, for map-reduce.

`chunks` packs consecutive segments into pieces of text of a bounded size (map);
`groups` packs the chunks' summaries into rounds of reduction, each shorter than the last.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.meeting_intel.transcript import Segment


@dataclass(frozen=True)
class Piece:
    """A segment, or a part of one too long for a chunk, as the model reads it."""

    segment: int
    speaker: str
    text: str

    @property
    def line(self) -> str:
        return f"{self.speaker}: {self.text}"


def chunks(segments: Sequence[Segment], budget: int) -> list[list[Piece]]:
    """Consecutive pieces whose lines hold at most `budget` characters together; a segment
    too long for a chunk of its own is cut between words into several pieces."""
    found: list[list[Piece]] = [[]]
    size = 0
    for number, segment in enumerate(segments):
        for piece in _pieces(number, segment, budget):
            length = len(piece.line) + 1
            if found[-1] and size + length > budget:
                found.append([])
                size = 0
            found[-1].append(piece)
            size += length
    return [chunk for chunk in found if chunk]


def _pieces(number: int, segment: Segment, budget: int) -> list[Piece]:
    room = max(budget - len(segment.speaker) - 3, 1)  # less ": " and the newline
    parts: list[str] = []
    for word in segment.text.split():
        while len(word) > room:  # a "word" longer than a chunk (a URL, a hash)
            parts.append(word[:room])
            word = word[room:]
        if parts and len(parts[-1]) + 1 + len(word) <= room:
            parts[-1] += " " + word
        else:
            parts.append(word)
    return [Piece(number, segment.speaker, part) for part in parts]


def groups(texts: Sequence[str], budget: int) -> list[list[str]]:
    """Consecutive texts of at most `budget` characters together, but at least two in every
    group that has a neighbour, so that each round of reduction shortens the list."""
    found: list[list[str]] = []
    size = 0
    for text in texts:
        if found and (len(found[-1]) < 2 or size + len(text) + 1 <= budget):
            found[-1].append(text)
            size += len(text) + 1
        else:
            found.append([text])
            size = len(text) + 1
    if len(found) > 1 and len(found[-1]) == 1:
        found[-2].extend(found.pop())
    return found

"""A document cut into chunks of whole sentences, each with its offsets in the original
text, so a passage found later can be cited and shown in place.

Sizes are in characters: the service does not hold the embedding model's tokenizer (the
embeddings service does). 1,000 characters of English are about 200-250 WordPiece tokens,
under the 256 the local model reads, so a chunk is embedded whole.
"""

from __future__ import annotations

from dataclasses import dataclass

import sentencex

MAX_CHUNK_CHARS = 1000


@dataclass(frozen=True)
class Chunk:
    index: int  # position in the document, from 0
    start: int  # offset of the first character in the document's text
    end: int  # offset just past the last character
    text: str  # the document's text[start:end]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence, blank space around it left out."""
    spans = []
    cursor = 0
    for piece in sentencex.segment("en", text):
        stripped = piece.strip()
        if not stripped:
            continue
        start = text.find(stripped, cursor)
        if start < 0:  # the splitter changed the text: fall back to the piece's place
            start = cursor
        end = start + len(stripped)
        spans.append((start, end))
        cursor = end
    return spans


def chunk_text(text: str, max_chars: int = MAX_CHUNK_CHARS) -> list[Chunk]:
    """Consecutive sentences packed into chunks of at most `max_chars` characters; a
    sentence longer than that (a table, a list without punctuation) is cut between words."""
    spans = [piece for span in sentence_spans(text) for piece in _cut(text, span, max_chars)]
    chunks: list[Chunk] = []
    if not spans:
        return chunks
    start, end = spans[0]
    for s, e in spans[1:]:
        if e - start > max_chars:  # the chunk so far is full: this sentence starts the next
            chunks.append(Chunk(len(chunks), start, end, text[start:end]))
            start = s
        end = e
    chunks.append(Chunk(len(chunks), start, end, text[start:end]))
    return chunks


def _cut(text: str, span: tuple[int, int], max_chars: int) -> list[tuple[int, int]]:
    start, end = span
    pieces = []
    while end - start > max_chars:
        limit = start + max_chars
        # The last space within the limit; a single word longer than the limit is cut at it.
        space = text.rfind(" ", start + 1, limit + 1)
        cut = space if space > start else limit
        pieces.append((start, cut))
        start = cut
        while start < end and text[start].isspace():
            start += 1
    if start < end:
        pieces.append((start, end))
    return pieces

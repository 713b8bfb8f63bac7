"""Every vector one analysis needs, from as few embeddings calls as the service allows.

Each distinct text is embedded once ("Yeah, okay." is said many times in a meeting), in
calls of at most 256 texts (the embeddings service's limit), one after another so that a
long transcript does not fill the service's queue ahead of other callers.

The modules' example sentences (commitments, decisions, meeting mechanics) are the same in
every request: an `ExampleCache` keeps their vectors, so after the first request only the
transcript is embedded. Vectors are only comparable within one model, and the model is
known from a reply: when a reply names another model than the cached one (the embeddings
service was redeployed), the examples are embedded again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import numpy as np

# texts -> (unit vectors, tokens read, model id)
Embed = Callable[[list[str]], Awaitable[tuple[np.ndarray, int, str]]]

BATCH_SIZE = 256
# The model reads 256 tokens, about 1,200 characters; a run-on "sentence" of a transcript
# without punctuation is cut long before the embeddings service's text limit.
MAX_CHARS = 4000


@dataclass(frozen=True)
class Vectors:
    rows: dict[str, int]  # text -> row of `matrix`
    matrix: np.ndarray  # (texts, dimensions), unit length
    tokens: int  # read by the model for these vectors
    model: str

    def __contains__(self, text: str) -> bool:
        return text in self.rows

    def of(self, texts: Iterable[str]) -> np.ndarray:
        """Vectors of `texts`, one row each, in their order."""
        rows = [self.rows[text] for text in texts]
        return self.matrix[rows] if rows else np.empty((0, self.matrix.shape[1]), np.float32)


class ExampleCache:
    """Vectors of the modules' example sentences, for the model that made them."""

    def __init__(self):
        self.model: str | None = None
        self.vectors: dict[str, np.ndarray] = {}


async def embed_texts(
    texts: Iterable[str],
    embed: Embed,
    batch_size: int = BATCH_SIZE,
    examples: Iterable[str] = (),
    cache: ExampleCache | None = None,
) -> Vectors:
    """Vectors of `texts` and `examples`; `examples` come from `cache` when it has them."""
    examples = list(dict.fromkeys(examples))
    known = cache is not None and cache.model is not None and set(examples) <= set(cache.vectors)
    fresh = list(dict.fromkeys([*texts, *([] if known else examples)]))
    by_text, tokens, model = await _embed_all(fresh, embed, batch_size)
    if cache is not None:
        model = model if fresh else cache.model or ""
        if known and model != cache.model and examples:
            again, more, model = await _embed_all(examples, embed, batch_size)
            by_text.update(again)
            tokens += more
            known = False
        if not known:
            cache.model = model
            cache.vectors = {text: by_text[text] for text in examples}
        by_text = {**cache.vectors, **by_text}
    unique = list(by_text)
    matrix = np.vstack([by_text[t] for t in unique]) if unique else np.empty((0, 0), np.float32)
    return Vectors({text: i for i, text in enumerate(unique)}, matrix, tokens, model)


async def _embed_all(
    texts: list[str], embed: Embed, batch_size: int
) -> tuple[dict[str, np.ndarray], int, str]:
    by_text: dict[str, np.ndarray] = {}
    tokens, model = 0, ""
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        vectors, used, model = await embed([text[:MAX_CHARS] for text in batch])
        by_text.update(zip(batch, np.asarray(vectors, dtype=np.float32), strict=True))
        tokens += used
    return by_text, tokens, model


def prototype_margin(vectors: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
    """Per row: its best similarity to a positive prototype less its best to a negative one.

    Above zero, a sentence is more like the examples of what is wanted than like the
    examples of what looks the same on the surface but is not ("I'll be honest" is not a
    commitment, "Let's see" is not a decision).
    """
    if not len(vectors):
        return np.empty(0, np.float32)
    return (vectors @ positive.T).max(axis=1) - (vectors @ negative.T).max(axis=1)

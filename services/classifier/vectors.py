"""Every vector a request needs, from as few embeddings calls as the service allows.

A request's texts (its windows, sentences, keyword candidates) are embedded fresh; label
prompts and examples recur across requests, so their vectors are kept in a `VectorCache`
keyed by model id and text. The model id is only known from a reply, so the cache is read
under the model last seen; if a reply names another model (the embeddings service was
redeployed with a new one), the vectors read from the cache are embedded again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

import numpy as np
from cachetools import LRUCache

# texts -> (unit vectors, tokens read, model id)
Embed = Callable[[list[str]], Awaitable[tuple[np.ndarray, int, str]]]

# Texts per Embed call: the embeddings service's limit (AIORCH_MAX_TEXTS).
BATCH_SIZE = 256


class VectorCache:
    """Vectors of texts seen before (label prompts, examples), least recently used out."""

    def __init__(self, maxsize: int = 4096):
        self.entries: LRUCache = LRUCache(maxsize)
        self.model: str | None = None  # the model of the last reply

    def get(self, text: str) -> np.ndarray | None:
        return self.entries.get((self.model, _digest(text)))

    def put(self, model: str, text: str, vector: np.ndarray) -> None:
        self.entries[(model, _digest(text))] = vector


@dataclass(frozen=True)
class Vectors:
    by_text: dict[str, np.ndarray]
    tokens: int  # read by the model for this request; cached vectors cost none
    model: str

    def of(self, texts: Iterable[str]) -> np.ndarray:
        rows = [self.by_text[text] for text in texts]
        if not rows:
            return np.empty((0, 0), dtype=np.float32)
        return np.vstack(rows)


async def embed_texts(
    fresh: Iterable[str],
    reusable: Iterable[str],
    embed: Embed,
    cache: VectorCache | None = None,
    batch_size: int = BATCH_SIZE,
) -> Vectors:
    """Vectors of `fresh` and `reusable` texts; `reusable` ones go through the cache."""
    reusable = list(dict.fromkeys(reusable))
    from_cache = {}
    if cache is not None:
        from_cache = {t: v for t in reusable if (v := cache.get(t)) is not None}
    wanted = list(dict.fromkeys([*fresh, *(t for t in reusable if t not in from_cache)]))
    by_text, tokens, model = await _embed_all(wanted, embed, batch_size)
    if cache is not None:
        model = model or cache.model or ""
        if from_cache and model != cache.model:
            stale = list(from_cache)
            again, more, model = await _embed_all(stale, embed, batch_size)
            by_text.update(again)
            tokens += more
            from_cache = {}
        cache.model = model
        for text in reusable:
            if text not in from_cache:
                cache.put(model, text, by_text[text])
    return Vectors({**by_text, **from_cache}, tokens, model or "")


async def _embed_all(
    texts: list[str], embed: Embed, batch_size: int
) -> tuple[dict[str, np.ndarray], int, str | None]:
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    replies = await asyncio.gather(*(embed(batch) for batch in batches))
    by_text = {}
    for batch, (vectors, _, _) in zip(batches, replies, strict=True):
        by_text.update(zip(batch, vectors, strict=True))
    return by_text, sum(tokens for _, tokens, _ in replies), replies[0][2] if replies else None


def _digest(text: str) -> bytes:
    # Examples may be long documents: keep a fixed-size key, not the text.
    return hashlib.blake2b(text.encode(), digest_size=16).digest()

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
# Embed calls one request keeps in flight: 4 x 256 texts stay under half the embeddings
# service's default queue.
MAX_CALLS_IN_FLIGHT = 4


class VectorCache:
    """Vectors of texts seen before (label prompts, examples), least recently used out.

    Single-flight: while one request embeds a text, another that needs it waits for that
    reply instead of embedding it again, so a cold label set of hundreds of texts hit by
    many concurrent requests costs the embeddings service one pass, not one per request.
    """

    def __init__(self, maxsize: int = 4096):
        self.entries: LRUCache = LRUCache(maxsize)
        self.model: str | None = None  # the model of the last reply
        # digest -> future of (model, vector), for texts an Embed call is computing now
        self.pending: dict[bytes, asyncio.Future] = {}

    def get(self, text: str) -> np.ndarray | None:
        return self.entries.get((self.model, _digest(text)))

    def put(self, model: str, text: str, vector: np.ndarray) -> None:
        self.entries[(model, _digest(text))] = vector

    def claim(self, texts: list[str]) -> tuple[list[str], dict[str, asyncio.Future]]:
        """Texts the caller must embed itself, and futures of those another call is
        embedding now. The caller settles its claims with `settle` or `abandon`."""
        own, waiting = [], {}
        loop = asyncio.get_running_loop()
        for text in texts:
            key = _digest(text)
            if (future := self.pending.get(key)) is not None:
                waiting[text] = future
            else:
                self.pending[key] = loop.create_future()
                own.append(text)
        return own, waiting

    def settle(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        for text, vector in vectors.items():
            self.put(model, text, vector)
            if (future := self.pending.pop(_digest(text), None)) is not None:
                future.set_result((model, vector))

    def abandon(self, texts: list[str]) -> None:
        """The claimed texts' call failed: waiters embed them themselves."""
        for text in texts:
            if (future := self.pending.pop(_digest(text), None)) is not None:
                future.set_result(None)


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
    if cache is None:
        by_text, tokens, replied = await _embed_all(
            list(dict.fromkeys([*fresh, *reusable])), embed, batch_size
        )
        return Vectors(by_text, tokens, replied or "")
    cached_model = cache.model  # what `from_cache` was read under
    from_cache = {t: v for t in reusable if (v := cache.get(t)) is not None}
    own, waiting = cache.claim([t for t in reusable if t not in from_cache])
    try:
        by_text, tokens, replied = await _embed_all(
            list(dict.fromkeys([*fresh, *own])), embed, batch_size
        )
    except BaseException:
        cache.abandon(own)
        raise
    if replied is not None:
        cache.settle(replied, {t: by_text[t] for t in own})
    # Vectors another call embedded for this one: None where that call failed.
    settled = {text: await asyncio.shield(future) for text, future in waiting.items()}
    model = replied or next((s[0] for s in settled.values() if s is not None), cached_model or "")
    again = [t for t, s in settled.items() if s is None or s[0] != model]
    from_cache.update({t: s[1] for t, s in settled.items() if s is not None and s[0] == model})
    if model != cached_model:
        # The reply names another model than the cached vectors were made with.
        stale = [t for t in from_cache if t not in settled]
        again += stale
        for text in stale:
            del from_cache[text]
    if again:
        more, extra, _ = await _embed_all(again, embed, batch_size)
        by_text.update(more)
        tokens += extra
        for text in again:
            cache.put(model, text, by_text[text])
    cache.model = model
    return Vectors({**by_text, **from_cache}, tokens, model)


async def _embed_all(
    texts: list[str], embed: Embed, batch_size: int
) -> tuple[dict[str, np.ndarray], int, str | None]:
    batches = [texts[i : i + batch_size] for i in range(0, len(texts), batch_size)]
    # A few calls in flight, not all: a batch of long texts is thousands of windows, and
    # the embeddings service refuses work past its queue (2,048 texts by default).
    limit = asyncio.Semaphore(MAX_CALLS_IN_FLIGHT)

    async def one(batch: list[str]):
        async with limit:
            return await embed(batch)

    replies = await asyncio.gather(*(one(batch) for batch in batches))
    by_text: dict[str, np.ndarray] = {}
    for batch, (vectors, _, _) in zip(batches, replies, strict=True):
        by_text.update(zip(batch, vectors, strict=True))
    return by_text, sum(tokens for _, tokens, _ in replies), replies[0][2] if replies else None


def _digest(text: str) -> bytes:
    # Examples may be long documents: keep a fixed-size key, not the text.
    return hashlib.blake2b(text.encode(), digest_size=16).digest()

"""The embeddings service as the services that embed text use it.

`EmbeddingsClient.embed` sends any number of texts to EmbeddingsService within the
service's limits (texts per call, characters per text; the same settings the service
enforces). `embed_texts` gives every vector one request needs from as few calls as those
limits allow: the request's own texts fresh, and texts that recur across requests (label
prompts and examples, the meeting modules' example sentences) through a `VectorCache` kept
per model.

One request's calls go one after another, never several at once. Measured against a real
embeddings service (local model, micro-batcher on) on this 2-core machine, 2,048 texts in
calls of 256: four calls in flight took 8.0 s (median of 3) against 10.0 s one at a
time, but an 8-text call from another caller meanwhile took 2.7 s p50 / 12.1 s p95 against
1.4 s / 3.1 s; and four calls of 256 fill half the service's default queue, which other
callers then find full.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from cachetools import LRUCache

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from services.common.channels import Link


class Embed(Protocol):
    """What embeds text for a request: `EmbeddingsClient.embed` with the request's
    timeout, or a counting stand-in over the local model in tests."""

    async def __call__(self, texts: list[str]) -> tuple[np.ndarray, int, str]:
        """Unit vectors of `texts` ((n, dimensions) float32), tokens read, model id."""
        ...


class EmbeddingsClient:
    def __init__(self, link: Link, max_texts: int, max_chars: int):
        self.link = link
        self.stub = embeddings_pb2_grpc.EmbeddingsServiceStub(link.channel)
        self.max_texts = max_texts  # the service's AIORCH_MAX_TEXTS
        self.max_chars = max_chars  # the service's AIORCH_MAX_TEXT_CHARS

    async def embed(self, texts: list[str], timeout: float | None = None):
        """Unit vectors of `texts` ((n, dimensions) float32), tokens read, model id, from
        calls of at most `max_texts` texts one after another, all within `timeout` seconds.

        A text longer than the service takes is cut to `max_chars` (the model reads far
        less), not refused. Raises Unavailable at once when the embeddings service has
        been out of reach for a while; a shorter outage is waited for within `timeout`."""
        deadline = None if timeout is None else time.monotonic() + timeout
        rows: list[np.ndarray] = []
        tokens, model = 0, ""
        for start in range(0, len(texts), self.max_texts):
            batch = [text[: self.max_chars] for text in texts[start : start + self.max_texts]]
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            call = self.stub.Embed(embeddings_pb2.EmbedRequest(texts=batch), timeout=left)
            reply = await self.link.call(call)
            rows.append(np.array([e.values for e in reply.embeddings], dtype=np.float32))
            tokens += reply.usage.input_tokens
            model = reply.model
        vectors = np.vstack(rows) if rows else np.empty((0, 0), np.float32)
        return vectors, tokens, model


@dataclass(frozen=True)
class Vectors:
    """The vectors of one request's texts, each text once."""

    by_text: dict[str, np.ndarray]
    tokens: int  # read by the model for this request; cached vectors cost none
    model: str

    def __contains__(self, text: str) -> bool:
        return text in self.by_text

    def of(self, texts: Iterable[str]) -> np.ndarray:
        """Vectors of `texts`, one row each, in their order."""
        rows = [self.by_text[text] for text in texts]
        if not rows:
            dimensions = len(next(iter(self.by_text.values()), ()))
            return np.empty((0, dimensions), dtype=np.float32)
        return np.vstack(rows)


class VectorCache:
    """Vectors of texts that recur across requests, by model, least recently used out.

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


async def embed_texts(
    fresh: Iterable[str],
    embed: Embed,
    reusable: Iterable[str] = (),
    cache: VectorCache | None = None,
) -> Vectors:
    """Vectors of `fresh` and `reusable` texts, each distinct text embedded once;
    `reusable` ones go through `cache`.

    The model is only known from a reply, so the cache is read under the model last seen;
    if a reply names another model (the embeddings service was redeployed with a new one),
    the vectors read from the cache are embedded again."""
    reusable = list(dict.fromkeys(reusable))
    if cache is None:
        by_text, tokens, replied = await _embed(list(dict.fromkeys([*fresh, *reusable])), embed)
        return Vectors(by_text, tokens, replied or "")
    cached_model = cache.model  # what `from_cache` was read under
    from_cache = {t: v for t in reusable if (v := cache.get(t)) is not None}
    own, waiting = cache.claim([t for t in reusable if t not in from_cache])
    try:
        by_text, tokens, replied = await _embed(list(dict.fromkeys([*fresh, *own])), embed)
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
        stale = [t for t in from_cache if t not in settled]
        again += stale
        for text in stale:
            del from_cache[text]
    if again:
        more, extra, _ = await _embed(again, embed)
        by_text.update(more)
        tokens += extra
        for text in again:
            cache.put(model, text, by_text[text])
    cache.model = model
    return Vectors({**by_text, **from_cache}, tokens, model)


async def _embed(texts: list[str], embed: Embed) -> tuple[dict[str, np.ndarray], int, str | None]:
    """Vectors by text, tokens, and the replying model (None when nothing was sent)."""
    if not texts:
        return {}, 0, None
    vectors, tokens, model = await embed(texts)
    return dict(zip(texts, np.asarray(vectors, dtype=np.float32), strict=True)), tokens, model


def _digest(text: str) -> bytes:
    # Examples may be long documents: keep a fixed-size key, not the text.
    return hashlib.blake2b(text.encode(), digest_size=16).digest()

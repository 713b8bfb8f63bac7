"""MicroBatcher: concurrent requests' texts gathered into one model batch.

A request waits at most `max_wait` for company; a batch closes early once it holds
`max_batch_size` texts. One batch runs at a time, off the event loop, while the next one
gathers. The queue is bounded in texts: past `max_queued` a request is refused with a
retry delay sized to drain what is queued, rather than waiting without end.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from opentelemetry import trace

from services.common import metrics, telemetry
from services.common.errors import DeadlineExceeded, Overloaded
from services.embeddings.model import Encoded


@dataclass
class _Request:
    texts: list[str]
    deadline: float  # time.monotonic() after which nobody waits for the vectors
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    queued_at: float = field(default_factory=time.monotonic)
    # The span of the call that queued it, which the batch's span links to.
    span: trace.SpanContext = field(
        default_factory=lambda: trace.get_current_span().get_span_context()
    )


class MicroBatcher:
    def __init__(
        self,
        encode: Callable[[list[str]], Encoded],
        max_batch_size: int = 32,
        max_wait: float = 0.005,
        max_queued: int = 2048,
    ):
        self.encode = encode
        self.max_batch_size = max_batch_size
        self.max_wait = max_wait
        self.max_queued = max_queued
        self.queue: asyncio.Queue[_Request] = asyncio.Queue()
        self.queued_texts = 0
        self.seconds_per_text = 0.002  # refined by every batch that runs
        self.worker: asyncio.Task | None = None

    async def encode_async(self, texts: list[str], timeout: float | None = None) -> Encoded:
        """The texts' vectors, from the batch they joined; work whose `timeout` (seconds)
        has passed by the time its batch runs is not encoded (DeadlineExceeded)."""
        if self.queued_texts + len(texts) > self.max_queued:
            drain = self.queued_texts * self.seconds_per_text
            raise Overloaded(f"{self.queued_texts} texts are queued", retry_after=max(drain, 0.05))
        if self.worker is None or self.worker.done():
            # In a context of its own: the worker outlives the call that started it, and
            # its batch spans link to the calls they serve rather than nest in the first.
            self.worker = asyncio.create_task(self._run(), context=contextvars.Context())
        request = _Request(texts, time.monotonic() + (math.inf if timeout is None else timeout))
        self.queued_texts += len(texts)
        await self.queue.put(request)
        return await request.done

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            size = len(batch[0].texts)
            closes = time.monotonic() + self.max_wait
            while size < self.max_batch_size:
                try:  # (not wait_for: on Python 3.11 it can swallow the worker's cancel)
                    async with asyncio.timeout(closes - time.monotonic()):
                        request = await self.queue.get()
                except TimeoutError:
                    break
                batch.append(request)
                size += len(request.texts)
            await self._encode(batch, size)

    async def _encode(self, gathered: list[_Request], size: int) -> None:
        started = time.monotonic()
        batch = []
        for request in gathered:
            if request.done.done():  # its caller went away
                continue
            if request.deadline <= started:
                request.done.set_exception(DeadlineExceeded("the deadline passed in the queue"))
                continue
            batch.append(request)
        if not batch:
            self.queued_texts -= size
            return
        texts = [text for request in batch for text in request.texts]
        metrics.EMBED_BATCH_TEXTS.observe(len(texts))
        for request in batch:
            metrics.EMBED_QUEUE_SECONDS.observe(started - request.queued_at)
        # A batch is traced only when a request it serves is: one whose caller was not
        # sampled must leave no trace, not a root span of the batch's own.
        links = [trace.Link(r.span) for r in batch if r.span.trace_flags.sampled]
        span = (
            telemetry.tracer.start_as_current_span(
                "embeddings batch", links=links, attributes={"aiorch.batch.texts": len(texts)}
            )
            if links
            else contextlib.nullcontext()
        )
        try:
            with span:
                encoded = await asyncio.to_thread(self.encode, texts)
        except Exception as error:  # the callers get the error; the worker goes on
            for request in batch:
                if not request.done.done():
                    request.done.set_exception(error)
            return
        finally:
            self.queued_texts -= size
        self.seconds_per_text = (time.monotonic() - started) / len(texts)
        offset = 0
        for request in batch:
            n = len(request.texts)
            if not request.done.done():  # the caller may have gone away
                request.done.set_result(
                    Encoded(
                        vectors=np.ascontiguousarray(encoded.vectors[offset : offset + n]),
                        tokens=encoded.tokens[offset : offset + n],
                        truncated=encoded.truncated[offset : offset + n],
                    )
                )
            offset += n

    async def close(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

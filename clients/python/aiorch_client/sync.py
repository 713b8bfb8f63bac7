"""`Client`: the same calls as `AsyncClient`, for code without an event loop.

One private event loop runs in a daemon thread and every call is handed to it, so the
sync client shares the async one's code, channels and errors exactly.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Iterable, Iterator

from aiorch_client._proto.aiorch.v1 import monitor_pb2 as monitor
from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as orchestrator
from aiorch_client.aio import AsyncClient, BatchResult, ChatEvent


def _blocking(name: str):
    method = getattr(AsyncClient, name)

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        return self._wait(getattr(self._client, name)(*args, **kwargs))

    return call


class Client:
    """The aiorch suite over gRPC, blocking. Takes the arguments of `AsyncClient`."""

    def __init__(self, *args, **kwargs):
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="aiorch-client", daemon=True
        )
        self._thread.start()

        async def build() -> AsyncClient:
            return AsyncClient(*args, **kwargs)

        self._client = self._wait(build())
        self.config = self._client.config

    def _wait(self, coroutine):
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C in the caller's thread stops the call too
            raise

    def _iterate(self, agen) -> Iterator:
        try:
            while True:
                try:
                    yield self._wait(agen.__anext__())
                except StopAsyncIteration:
                    return
        finally:
            self._wait(agen.aclose())

    def close(self) -> None:
        if self._loop.is_running():
            self._wait(self._client.close())
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join()
            self._loop.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    classify = _blocking("classify")
    analyze = _blocking("analyze")
    embed = _blocking("embed")
    index_document = _blocking("index_document")
    delete_document = _blocking("delete_document")
    search = _blocking("search")
    chat = _blocking("chat")
    create_session = _blocking("create_session")
    list_sessions = _blocking("list_sessions")
    get_session = _blocking("get_session")
    delete_session = _blocking("delete_session")
    start = _blocking("start")
    run = _blocking("run")
    get = _blocking("get")
    cancel = _blocking("cancel")
    wait = _blocking("wait")
    workflow_types = _blocking("workflow_types")
    health = _blocking("health")
    host_health = _blocking("host_health")
    metrics = _blocking("metrics")
    alerts = _blocking("alerts")

    def stream_chat(
        self,
        message: str,
        session_id: str | None = None,
        *,
        top_k: int = 0,
        source_ids: Iterable[str] = (),
        timeout: float | None = None,
    ) -> Iterator[ChatEvent]:
        """As `chat`, streamed: events with a `delta`, then one with the whole `answer`;
        a failure raises the client's exception. Leaving the loop (or `.close()` on the
        iterator) cancels the call."""
        return self._iterate(
            self._client.stream_chat(
                message, session_id, top_k=top_k, source_ids=source_ids, timeout=timeout
            )
        )

    def watch(
        self, workflow_id: str, *, timeout: float | None = None
    ) -> Iterator[orchestrator.WatchWorkflowResponse]:
        """The workflow's step events as they happen; the last one carries the workflow."""
        return self._iterate(self._client.watch(workflow_id, timeout=timeout))

    def batch(self, requests, *, concurrency: int = 4) -> Iterator[BatchResult]:
        """Runs the requests with at most `concurrency` at once; yields as each finishes.
        `requests` is read lazily from this thread's side."""
        return self._iterate(self._client.batch(requests, concurrency=concurrency))

    def watch_metrics(self, metrics=()) -> Iterator[monitor.MetricsSample]:
        return self._iterate(self._client.watch_metrics(metrics))

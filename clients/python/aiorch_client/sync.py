"""`Client`: the same calls as `AsyncClient`, for code without an event loop.

One private event loop runs in a daemon thread and every call is handed to it, so the
sync client shares the async one's code, channels and errors exactly.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import AsyncGenerator, Callable, Coroutine, Iterable, Iterator, Mapping
from typing import Any, Concatenate, ParamSpec, TypeVar

import grpc

from aiorch_client._proto.aiorch.v1 import monitor_pb2 as monitor
from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as orchestrator
from aiorch_client.aio import AsyncClient, BatchResult, ChatEvent, Metadata, MetadataHook
from aiorch_client.config import ClientConfig
from aiorch_client.messages import RequestLike

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


def _blocking(
    method: Callable[Concatenate[AsyncClient, P], Coroutine[Any, Any, R]],
) -> Callable[Concatenate[Client, P], R]:
    """The `AsyncClient` coroutine method as a blocking `Client` method: same arguments,
    same docs, its awaited result."""

    @functools.wraps(method)
    def call(self: Client, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._wait(method(self._client, *args, **kwargs))

    return call


class Client:
    """The aiorch suite over gRPC, blocking. Takes the arguments of `AsyncClient`."""

    def __init__(
        self,
        endpoint: str | None = None,
        *,
        addrs: Mapping[str, str] | None = None,
        token: str | None = None,
        user: str | None = None,
        timeout: float | None = None,
        metadata: Metadata = (),
        metadata_hook: MetadataHook | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        wait_for_ready: bool = True,
        config: ClientConfig | None = None,
    ) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="aiorch-client", daemon=True
        )
        self._thread.start()

        async def build() -> AsyncClient:
            # Inside the loop: the client's channels belong to the loop that made them.
            return AsyncClient(
                endpoint,
                addrs=addrs,
                token=token,
                user=user,
                timeout=timeout,
                metadata=metadata,
                metadata_hook=metadata_hook,
                credentials=credentials,
                wait_for_ready=wait_for_ready,
                config=config,
            )

        self._client = self._wait(build())
        self.config = self._client.config

    def _wait(self, coroutine: Coroutine[Any, Any, T]) -> T:
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result()
        except BaseException:
            future.cancel()  # Ctrl-C in the caller's thread stops the call too
            raise

    def _iterate(self, agen: AsyncGenerator[T, None]) -> Iterator[T]:
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

    def __exit__(self, *exc: object) -> None:
        self.close()

    classify = _blocking(AsyncClient.classify)
    analyze = _blocking(AsyncClient.analyze)
    embed = _blocking(AsyncClient.embed)
    index_document = _blocking(AsyncClient.index_document)
    delete_document = _blocking(AsyncClient.delete_document)
    search = _blocking(AsyncClient.search)
    chat = _blocking(AsyncClient.chat)
    create_session = _blocking(AsyncClient.create_session)
    list_sessions = _blocking(AsyncClient.list_sessions)
    get_session = _blocking(AsyncClient.get_session)
    delete_session = _blocking(AsyncClient.delete_session)
    usage = _blocking(AsyncClient.usage)
    list_agents = _blocking(AsyncClient.list_agents)
    start = _blocking(AsyncClient.start)
    run = _blocking(AsyncClient.run)
    get = _blocking(AsyncClient.get)
    cancel = _blocking(AsyncClient.cancel)
    wait = _blocking(AsyncClient.wait)
    workflow_types = _blocking(AsyncClient.workflow_types)
    health = _blocking(AsyncClient.health)
    host_health = _blocking(AsyncClient.host_health)
    metrics = _blocking(AsyncClient.metrics)
    alerts = _blocking(AsyncClient.alerts)

    def stream_chat(
        self,
        message: str,
        session_id: str | None = None,
        *,
        top_k: int = 0,
        source_ids: Iterable[str] = (),
        agents: Iterable[str] = (),
        timeout: float | None = None,
    ) -> Iterator[ChatEvent]:
        """As `chat`, streamed: events with a `delta`, then one with the whole `answer`;
        a failure raises the client's exception. Leaving the loop (or `.close()` on the
        iterator) cancels the call."""
        return self._iterate(
            self._client.stream_chat(
                message,
                session_id,
                top_k=top_k,
                source_ids=source_ids,
                agents=agents,
                timeout=timeout,
            )
        )

    def watch(
        self, workflow_id: str, *, timeout: float | None = None
    ) -> Iterator[orchestrator.WatchWorkflowResponse]:
        """The workflow's step events as they happen; the last one carries the workflow."""
        return self._iterate(self._client.watch(workflow_id, timeout=timeout))

    def batch(
        self, requests: Iterable[RequestLike], *, concurrency: int = 4
    ) -> Iterator[BatchResult]:
        """Runs the requests with at most `concurrency` at once; yields as each finishes.
        `requests` is read lazily from this thread's side."""
        return self._iterate(self._client.batch(requests, concurrency=concurrency))

    def watch_metrics(self, metrics: Iterable[str] = ()) -> Iterator[monitor.MetricsSample]:
        return self._iterate(self._client.watch_metrics(metrics))

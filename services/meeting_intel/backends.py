"""Where a meeting analysis comes from: local embeddings and the grammar of the domain
modules, or an OpenAI-compatible chat model. Both implement `Backend`, as the classifier's
backends do: the same result shapes (Analysis, the summary as text, usage), `timeout` in
seconds (None: no limit) for the whole analysis, `model_id` and `close()`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date
from typing import Protocol

from services.common import llm
from services.common.channels import Link
from services.embeddings.client import EmbeddingsClient, VectorCache
from services.meeting_intel import openai_backend
from services.meeting_intel.analysis import Analysis, analyze
from services.meeting_intel.settings import MeetingIntelSettings
from services.meeting_intel.summary import Length
from services.meeting_intel.transcript import Transcript


def time_left(timeout: float | None) -> Callable[[], float | None]:
    """Seconds left of `timeout` when called: an analysis makes several calls one after
    another, each given what remains of the caller's deadline as it starts."""
    if timeout is None:
        return lambda: None
    deadline = time.monotonic() + timeout
    return lambda: max(0.0, deadline - time.monotonic())


class Backend(Protocol):
    """What the servicer analyses meetings with."""

    kind: str  # "local" or "openai": replies name the model as "<kind>/<model>"

    @property
    def model_id(self) -> str:
        """Backend and model of the latest result ("local/<embedding model>")."""
        ...

    async def analyze(
        self,
        transcript: Transcript,
        meeting: date | None,
        length: Length,
        *,
        timeout: float | None,
    ) -> tuple[Analysis, str, llm.Usage]:
        """Every finding, the summary as text and the usage of every call made for it."""
        ...

    async def close(self) -> None: ...


def open_backend(settings: MeetingIntelSettings) -> Backend:
    """The backend `settings` choose."""
    if settings.meeting_intel_backend == "openai":
        return OpenAIBackend(settings)
    link = Link("embeddings", settings.embeddings_addr, settings.unreachable_fail_fast_seconds)
    embeddings = EmbeddingsClient(link, settings.max_texts, settings.max_text_chars)
    return LocalBackend(embeddings, link)


class LocalBackend:
    kind = "local"

    def __init__(self, embeddings: EmbeddingsClient, link: Link | None = None):
        self.embeddings = embeddings
        self.link = link
        self.examples = VectorCache()  # the modules' example sentences

    @property
    def model_id(self) -> str:
        return f"local/{self.examples.model or ''}"

    async def analyze(
        self,
        transcript: Transcript,
        meeting: date | None,
        length: Length,
        *,
        timeout: float | None,
    ) -> tuple[Analysis, str, llm.Usage]:
        left = time_left(timeout)

        async def embed(texts: list[str]):
            return await self.embeddings.embed(texts, timeout=left())

        result = await analyze(transcript, embed, meeting, self.examples, length)
        return result, result.summary_text, llm.Usage(result.tokens, 0, 0.0)

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()


class OpenAIBackend:
    kind = "openai"

    def __init__(self, settings: MeetingIntelSettings):
        self.settings = settings
        self.api = llm.client(settings)

    @property
    def model_id(self) -> str:
        return f"openai/{self.settings.openai_chat_model}"

    async def analyze(
        self,
        transcript: Transcript,
        meeting: date | None,
        length: Length,
        *,
        timeout: float | None,
    ) -> tuple[Analysis, str, llm.Usage]:
        return await openai_backend.analyze(
            self.api, self.settings, transcript, meeting, time_left(timeout), length
        )

    async def close(self) -> None:
        await self.api.close()

"""Where a meeting analysis comes from: local embeddings and the grammar of the domain
modules, or an OpenAI-compatible chat model. Both implement `Backend`: the same result
shapes (Analysis, the summary as text, usage), a `timeout` callable giving the seconds left
for each outgoing call as it starts (None: no limit), `kind` and `close()`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Protocol

from services.common import llm
from services.common.channels import Link
from services.common.settings import Settings
from services.embeddings.client import EmbeddingsClient, VectorCache
from services.meeting_intel import openai_backend
from services.meeting_intel.analysis import Analysis, analyze
from services.meeting_intel.summary import Length
from services.meeting_intel.transcript import Transcript

# Seconds left for the next outgoing call, read as each call starts: an analysis makes
# several calls one after another, each within what remains of the caller's deadline.
Timeout = Callable[[], float | None]


class Backend(Protocol):
    """What the servicer analyses meetings with."""

    kind: str  # "local" or "openai": replies name the model as "<kind>/<model>"

    async def analyze(
        self,
        transcript: Transcript,
        meeting: date | None,
        length: Length,
        *,
        timeout: Timeout,
    ) -> tuple[Analysis, str, llm.Usage]:
        """Every finding, the summary as text and the usage of every call made for it."""
        ...

    async def close(self) -> None: ...


def open_backend(settings: Settings) -> Backend:
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

    async def analyze(
        self,
        transcript: Transcript,
        meeting: date | None,
        length: Length,
        *,
        timeout: Timeout,
    ) -> tuple[Analysis, str, llm.Usage]:
        async def embed(texts: list[str]):
            return await self.embeddings.embed(texts, timeout=timeout())

        result = await analyze(transcript, embed, meeting, self.examples, length)
        return result, result.summary_text, llm.Usage(result.tokens, 0, 0.0)

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()


class OpenAIBackend:
    kind = "openai"

    def __init__(self, settings: Settings):
        self.settings = settings
        self.api = llm.client(settings)

    async def analyze(
        self,
        transcript: Transcript,
        meeting: date | None,
        length: Length,
        *,
        timeout: Timeout,
    ) -> tuple[Analysis, str, llm.Usage]:
        return await openai_backend.analyze(
            self.api, self.settings, transcript, meeting, timeout, length
        )

    async def close(self) -> None:
        await self.api.close()

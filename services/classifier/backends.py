"""Where a classification comes from: local embeddings (zero- and few-shot by similarity)
or an OpenAI-compatible chat model. Both implement `Backend`: the same result shapes
(Analysis, Classification) and usage, `timeout` in seconds (None: no limit) on every call,
`model_id` and `close()`."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from functools import partial
from typing import Protocol

from services.classifier import analysis, openai_backend, zero_shot
from services.classifier.analysis import Analysis
from services.classifier.settings import ClassifierSettings
from services.classifier.zero_shot import Classification, LabelSpec
from services.common import llm
from services.common.channels import Link
from services.embeddings.client import EmbeddingsClient, VectorCache, embed_texts


class Backend(Protocol):
    """What the servicer classifies with."""

    kind: str  # "local" or "openai": replies name the model as "<kind>/<model>"

    @property
    def model_id(self) -> str:
        """Backend and model of the latest result ("local/<embedding model>")."""
        ...

    async def analyze(
        self,
        text: str,
        labels: Sequence[LabelSpec],
        *,
        max_keywords: int,
        summary_sentences: int,
        timeout: float | None,
    ) -> tuple[Analysis, llm.Usage]: ...

    async def classify_many(
        self, texts: Sequence[str], labels: Sequence[LabelSpec], *, timeout: float | None
    ) -> tuple[list[Classification], llm.Usage]: ...

    async def prepare(self, labels: Sequence[LabelSpec], *, timeout: float | None) -> llm.Usage:
        """Computes what `labels` need before any text comes (vectors, a few-shot head)."""
        ...

    async def close(self) -> None: ...


def open_backend(settings: ClassifierSettings) -> Backend:
    """The backend `settings` choose."""
    if settings.classifier_backend == "openai":
        return OpenAIBackend(settings)
    link = Link("embeddings", settings.embeddings_addr, settings.unreachable_fail_fast_seconds)
    embeddings = EmbeddingsClient(link, settings.max_texts, settings.max_text_chars)
    return LocalBackend(embeddings, settings, link)


class LocalBackend:
    kind = "local"

    def __init__(
        self, embeddings: EmbeddingsClient, settings: ClassifierSettings, link: Link | None = None
    ):
        self.embeddings = embeddings
        self.settings = settings
        self.link = link
        self.cache = VectorCache(settings.classifier_cache_size)
        self.heads = zero_shot.HeadCache()

    @property
    def model_id(self) -> str:
        return f"local/{self.cache.model or ''}"

    async def analyze(self, text, labels, *, max_keywords, summary_sentences, timeout):
        result = await analysis.analyze(
            text,
            labels,
            partial(self.embeddings.embed, timeout=timeout),
            self.cache,
            self.heads,
            max_keywords=max_keywords,
            summary_sentences=summary_sentences,
        )
        return result, llm.Usage(result.tokens, 0, 0.0)

    async def classify_many(self, texts, labels, *, timeout):
        results = await zero_shot.classify_many(
            texts,
            labels,
            partial(self.embeddings.embed, timeout=timeout),
            self.cache,
            self.heads,
        )
        return results, llm.Usage(results[0].tokens if results else 0, 0, 0.0)

    async def prepare(self, labels, *, timeout):
        embed = partial(self.embeddings.embed, timeout=timeout)
        vectors = await embed_texts([], embed, zero_shot.label_texts(labels), self.cache)
        await zero_shot.prepare(labels, vectors, self.heads)
        return llm.Usage(vectors.tokens, 0, 0.0)

    async def close(self) -> None:
        if self.link is not None:
            await self.link.close()


class OpenAIBackend:
    kind = "openai"

    def __init__(self, settings: ClassifierSettings):
        self.settings = settings
        self.api = llm.client(settings)

    @property
    def model_id(self) -> str:
        return f"openai/{self.settings.openai_chat_model}"

    async def analyze(self, text, labels, *, max_keywords, summary_sentences, timeout):
        return await openai_backend.analyze(
            self.api,
            self.settings,
            text,
            labels,
            max_keywords=max_keywords,
            summary_sentences=summary_sentences,
            timeout=timeout,
        )

    async def classify_many(self, texts, labels, *, timeout):
        # One chat call per text: a model asked about many texts at once mixes them up.
        replies = await asyncio.gather(
            *(
                self.analyze(t, labels, max_keywords=0, summary_sentences=0, timeout=timeout)
                for t in texts
            )
        )
        usage = llm.Usage(
            sum(u.input_tokens for _, u in replies),
            sum(u.output_tokens for _, u in replies),
            sum(u.cost_usd for _, u in replies),
        )
        return [a.classification for a, _ in replies], usage

    async def prepare(self, labels, *, timeout):
        return llm.Usage(0, 0, 0.0)  # the model reads the labels with every text

    async def close(self) -> None:
        await self.api.close()

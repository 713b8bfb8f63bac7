"""Where a classification comes from: local embeddings (zero- and few-shot by similarity)
or an OpenAI-compatible chat model. Both return the same Analysis and the usage."""

from __future__ import annotations

from functools import partial

from services.classifier import analysis, openai_backend
from services.classifier.vectors import VectorCache
from services.common import llm
from services.common.settings import Settings
from services.embeddings.client import EmbeddingsClient


class LocalBackend:
    def __init__(self, embeddings: EmbeddingsClient, settings: Settings):
        self.embeddings = embeddings
        self.settings = settings
        self.cache = VectorCache(settings.classifier_cache_size)

    async def analyze(self, text, labels, *, max_keywords, summary_sentences, timeout):
        result = await analysis.analyze(
            text,
            labels,
            partial(self.embeddings.embed, timeout=timeout),
            self.cache,
            max_keywords=max_keywords,
            summary_sentences=summary_sentences,
            batch_size=self.settings.max_texts,
        )
        return result, llm.Usage(result.tokens, 0, 0.0)

    def model(self, result: analysis.Analysis) -> str:
        return f"local/{result.model}"


class OpenAIBackend:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.api = llm.client(settings)

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

    def model(self, result: analysis.Analysis) -> str:
        return f"openai/{result.model}"

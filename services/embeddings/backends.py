"""Where vectors come from: the local ONNX model (micro-batched) or an OpenAI-compatible
server. Both give unit vectors, per-text token counts where known, and the usage."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Protocol

import numpy as np

from services.common import llm, metrics, telemetry
from services.embeddings.batcher import MicroBatcher
from services.embeddings.model import Encoded, SentenceEncoder
from services.embeddings.settings import EmbeddingsSettings


class Backend(Protocol):
    """What the servicer embeds with: unit vectors and the usage, within `timeout` seconds
    (None: no limit)."""

    model_id: str

    async def embed(self, texts: list[str], timeout: float | None) -> tuple[Encoded, llm.Usage]: ...

    async def close(self) -> None: ...


def open_backend(settings: EmbeddingsSettings) -> Backend:
    """The backend `settings` choose."""
    if settings.embeddings_backend == "openai":
        return OpenAIBackend(settings)
    encoder = SentenceEncoder(
        Path(settings.embeddings_tokenizer_path),
        Path(settings.embeddings_model_path) if settings.embeddings_model_path else None,
        settings.embeddings_max_tokens,
        threads=settings.embeddings_threads,
    )
    return LocalBackend(encoder, settings)


class LocalBackend:
    def __init__(self, encoder: SentenceEncoder, settings: EmbeddingsSettings):
        self.encoder = encoder
        self.model_id = encoder.model_id
        self.batcher = None
        if settings.embeddings_batching:
            self.batcher = MicroBatcher(
                encoder.encode,
                settings.embeddings_max_batch_size,
                settings.embeddings_max_wait_ms / 1000,
                settings.embeddings_max_queued,
            )

    async def embed(self, texts: list[str], timeout: float | None) -> tuple[Encoded, llm.Usage]:
        if self.batcher is not None:
            encoded = await self.batcher.encode_async(texts, timeout)
        else:  # inference holds the CPU for milliseconds: keep it off the event loop
            async with asyncio.timeout(timeout):
                encoded = await asyncio.to_thread(self.encoder.encode, texts)
        tokens = sum(encoded.tokens)
        metrics.record_usage("local", self.model_id, tokens, 0, 0.0)
        return encoded, llm.Usage(tokens, 0, 0.0)

    async def close(self) -> None:
        if self.batcher is not None:
            await self.batcher.close()


class OpenAIBackend:
    def __init__(self, settings: EmbeddingsSettings):
        self.settings = settings
        self.api = llm.client(settings, settings.openai_embeddings_base_url)
        self.model_id = settings.openai_embeddings_model

    async def embed(self, texts: list[str], timeout: float | None) -> tuple[Encoded, llm.Usage]:
        with telemetry.model_span("embeddings", self.model_id, "openai") as span:
            reply = await llm.call(
                self.api.embeddings.create(
                    model=self.model_id, input=texts, encoding_format="float", timeout=timeout
                )
            )
            telemetry.set_usage(span, reply.usage.prompt_tokens if reply.usage else 0, 0)
        ordered = sorted(reply.data, key=lambda item: item.index)
        vectors = np.array([item.embedding for item in ordered], dtype=np.float32)
        # Servers differ on normalising; ours are always unit length.
        vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
        tokens = reply.usage.prompt_tokens if reply.usage else 0
        usage = llm.Usage(tokens, 0, llm.cost(self.settings, self.model_id, tokens, 0))
        metrics.record_usage("openai", self.model_id, tokens, 0, usage.cost_usd)
        # The API counts tokens per request, not per text, and says nothing of truncation.
        return Encoded(vectors, [0] * len(texts), [False] * len(texts)), usage

    async def close(self) -> None:
        await self.api.close()

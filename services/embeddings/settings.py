"""The embeddings settings: the runtime's (services/common/settings.py) and its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from services.common.settings import PROJECT_ROOT, Settings


class EmbeddingsSettings(Settings):
    embeddings_model_path: str = ""
    embeddings_tokenizer_path: str = str(
        PROJECT_ROOT / "build" / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
    )
    embeddings_max_tokens: int = Field(default=256, gt=0, le=512)
    # Inference threads; 0 means one per core of the machine, so in a container set it to
    # the CPU limit.
    embeddings_threads: int = Field(default=0, ge=0)
    # Micro-batching of concurrent requests (services/embeddings/batcher.py); defaults
    # chosen with `make bench`.
    embeddings_batching: bool = True
    embeddings_max_batch_size: int = Field(default=32, gt=0)
    embeddings_max_wait_ms: float = Field(default=5.0, ge=0)
    embeddings_max_queued: int = Field(default=2048, gt=0)
    embeddings_backend: Literal["local", "openai"] = "local"
    # Embeddings may come from another provider than chat; empty means OPENAI_BASE_URL.
    openai_embeddings_base_url: str = ""
    openai_embeddings_model: str = "text-embedding-3-small"

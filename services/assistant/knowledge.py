"""Index a user's document and search what a user may read: the assistant's domain
operations over a `KnowledgeStore` and an embedding function, with the request limits.

`embed` is the embeddings client's call (texts -> unit vectors, tokens read, model id),
given all of a document's chunks at once: the client splits them into calls within the
embeddings service's limits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.assistant.chunking import Chunk, chunk_text
from services.assistant.store import Hit, KnowledgeStore
from services.common.errors import InvalidInput, NotFound
from services.common.validation import require_text
from services.embeddings.client import Embed

DEFAULT_TOP_K = 10


@dataclass(frozen=True)
class Limits:
    max_text_chars: int = 100_000
    max_source_id_chars: int = 256
    max_title_chars: int = 1000
    max_query_chars: int = 2000
    max_top_k: int = 100
    max_source_ids: int = 100
    chunk_chars: int = 1000


@dataclass(frozen=True)
class Indexed:
    source_id: str
    chunks: list[Chunk]
    tokens: int
    model: str


@dataclass(frozen=True)
class Found:
    hits: list[Hit]
    tokens: int
    model: str


def embedded_text(title: str, chunk: Chunk) -> str:
    """What is embedded for a chunk: the title carries the topic into every chunk."""
    return f"{title}\n{chunk.text}" if title else chunk.text


async def index_document(
    store: KnowledgeStore,
    embed: Embed,
    owner: str,
    source_id: str,
    title: str,
    text: str,
    limits: Limits = Limits(),
) -> Indexed:
    require_text(source_id, "source_id", limits.max_source_id_chars)
    if len(title) > limits.max_title_chars:
        raise InvalidInput("title", f"longer than {limits.max_title_chars} characters")
    require_text(text, "text", limits.max_text_chars)
    chunks = chunk_text(text, limits.chunk_chars)
    vectors, tokens, model = await embed([embedded_text(title, c) for c in chunks])
    await store.replace(owner, source_id, title, chunks, vectors, model)
    return Indexed(source_id, chunks, tokens, model)


async def delete_document(
    store: KnowledgeStore, owner: str, source_id: str, limits: Limits = Limits()
) -> int:
    require_text(source_id, "source_id", limits.max_source_id_chars)
    deleted = await store.delete(owner, source_id)
    if deleted is None:
        raise NotFound(f"no document with source_id {source_id!r}")
    return deleted


async def search(
    store: KnowledgeStore,
    embed: Embed,
    reader: str | None,
    query: str,
    top_k: int = 0,
    source_ids: Sequence[str] = (),
    limits: Limits = Limits(),
) -> Found:
    """Passages of what `reader` may read (None: everyone's), best first."""
    require_text(query, "query", limits.max_query_chars)
    if top_k < 0 or top_k > limits.max_top_k:
        raise InvalidInput(
            "top_k", f"must be from 0 (meaning {DEFAULT_TOP_K}) to {limits.max_top_k}"
        )
    if len(source_ids) > limits.max_source_ids:
        raise InvalidInput("source_ids", f"more than {limits.max_source_ids} sources")
    for i, source_id in enumerate(source_ids):
        require_text(source_id, f"source_ids[{i}]", limits.max_source_id_chars)
    vectors, tokens, model = await embed([query])
    hits = await store.search(reader, vectors[0], model, top_k or DEFAULT_TOP_K, source_ids)
    return Found(hits, tokens, model)

"""The knowledge store: documents' chunks and their vectors, per owner, in the suite's
database (SQLite by default, PostgreSQL when configured), searched by exact cosine.

Vectors are kept as float32 bytes (BLOB / BYTEA) beside their chunks, so both backends
need no extension (this machine's PostgreSQL has no pgvector, and this Python's sqlite3
cannot load extensions such as sqlite-vec). Search is exact: every candidate vector is
scored with numpy. `make bench` (bench/knowledge.py) measured, over 100,000 chunks on a
busy 2-core machine: this store's search 12.6 ms p50, an HNSW index (usearch) 0.9 ms p50
at recall@10 0.995 but 271 s to build. Exact finds every true neighbour, needs no index
to rebuild or share between replicas as documents change, and one user's store is
usually far smaller; an index is worth adding when stores grow past that.

A search reads an owner's vectors once into a matrix and keeps it while the owner's
version (a counter every write bumps, in the same transaction) is unchanged: one small
query per search checks it, so replicas sharing a PostgreSQL store never serve a stale
matrix.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from cachetools import LRUCache

from services.assistant.chunking import Chunk
from services.common.database import Database


def _migrations(blob: str) -> list[str]:
    return [
        "CREATE TABLE knowledge_documents ("
        " owner TEXT NOT NULL, source_id TEXT NOT NULL, title TEXT NOT NULL,"
        " model TEXT NOT NULL, chunks INTEGER NOT NULL,"
        " PRIMARY KEY (owner, source_id))",
        "CREATE TABLE knowledge_chunks ("
        " owner TEXT NOT NULL, source_id TEXT NOT NULL, chunk_index INTEGER NOT NULL,"
        " start_offset INTEGER NOT NULL, end_offset INTEGER NOT NULL, text TEXT NOT NULL,"
        f" vector {blob} NOT NULL,"
        " PRIMARY KEY (owner, source_id, chunk_index))",
        "CREATE TABLE knowledge_versions (owner TEXT PRIMARY KEY, version BIGINT NOT NULL)",
    ]


MIGRATIONS = {"sqlite": _migrations("BLOB"), "postgresql": _migrations("BYTEA")}
_BUMP = (
    "INSERT INTO knowledge_versions (owner, version) VALUES ($1, 1)"
    " ON CONFLICT (owner) DO UPDATE SET version = knowledge_versions.version + 1"
)


@dataclass(frozen=True)
class Hit:
    score: float
    owner: str
    source_id: str
    title: str
    chunk_index: int
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class _Matrix:
    """An owner's (or everyone's) chunks of one model as one matrix, at a version."""

    version: tuple[int, int]
    vectors: np.ndarray  # (n, dimensions) float32, unit rows
    rows: list[tuple]  # (owner, source_id, title, chunk_index, start, end, text)
    sources: np.ndarray  # (n,) source id of each row


class KnowledgeStore:
    def __init__(self, db: Database, cache_size: int = 64):
        self.db = db
        self.matrices: LRUCache = LRUCache(cache_size)
        self._loading = asyncio.Lock()

    @classmethod
    async def open(cls, db: Database) -> KnowledgeStore:
        await db.migrate("knowledge", MIGRATIONS[db.dialect])
        return cls(db)

    async def replace(
        self,
        owner: str,
        source_id: str,
        title: str,
        chunks: Sequence[Chunk],
        vectors: np.ndarray,
        model: str,
    ) -> None:
        """Stores a document's chunks and vectors, replacing what the source held."""
        async with self.db.transaction() as tx:
            await tx.execute(
                "DELETE FROM knowledge_chunks WHERE owner = $1 AND source_id = $2",
                owner,
                source_id,
            )
            await tx.execute(
                "DELETE FROM knowledge_documents WHERE owner = $1 AND source_id = $2",
                owner,
                source_id,
            )
            await tx.execute(
                "INSERT INTO knowledge_documents (owner, source_id, title, model, chunks)"
                " VALUES ($1, $2, $3, $4, $5)",
                owner,
                source_id,
                title,
                model,
                len(chunks),
            )
            for chunk, vector in zip(chunks, vectors, strict=True):
                await tx.execute(
                    "INSERT INTO knowledge_chunks (owner, source_id, chunk_index,"
                    " start_offset, end_offset, text, vector)"
                    " VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    owner,
                    source_id,
                    chunk.index,
                    chunk.start,
                    chunk.end,
                    chunk.text,
                    np.asarray(vector, dtype="<f4").tobytes(),
                )
            await tx.execute(_BUMP, owner)

    async def delete(self, owner: str, source_id: str) -> int | None:
        """Deletes a document; the number of its chunks, or None if there was none."""
        async with self.db.transaction() as tx:
            chunks = await tx.fetchval(
                "SELECT chunks FROM knowledge_documents WHERE owner = $1 AND source_id = $2",
                owner,
                source_id,
            )
            if chunks is None:
                return None
            await tx.execute(
                "DELETE FROM knowledge_chunks WHERE owner = $1 AND source_id = $2",
                owner,
                source_id,
            )
            await tx.execute(
                "DELETE FROM knowledge_documents WHERE owner = $1 AND source_id = $2",
                owner,
                source_id,
            )
            await tx.execute(_BUMP, owner)
        return int(chunks)

    async def search(
        self,
        reader: str | None,
        query: np.ndarray,
        model: str,
        top_k: int,
        source_ids: Sequence[str] = (),
    ) -> list[Hit]:
        """The `top_k` chunks most similar to `query` among those `reader` may read (its
        own; None: everyone's) that `model` embedded, optionally only of `source_ids`."""
        # Vectors of another model live in another space: never compared.
        matrix = await self._matrix(reader, model)
        if not matrix.rows:
            return []
        scores = matrix.vectors @ np.asarray(query, dtype=np.float32)
        if source_ids:
            allowed = np.isin(matrix.sources, list(source_ids))
            scores = np.where(allowed, scores, -np.inf)
            k = min(top_k, int(allowed.sum()))
        else:
            k = min(top_k, len(matrix.rows))
        if k == 0:
            return []
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.argsort(-scores[best], kind="stable")]
        hits = []
        for i in best:
            owner, source_id, title, index, start, end, text = matrix.rows[i]
            hits.append(Hit(float(scores[i]), owner, source_id, title, index, start, end, text))
        return hits

    async def version(self, owner: str) -> int:
        """The owner's documents' version: it goes up with every change to them."""
        return (await self._version(owner))[0]

    async def _version(self, reader: str | None) -> tuple[int, int]:
        if reader is None:
            row = await self.db.fetchone(
                "SELECT COALESCE(SUM(version), 0), COUNT(*) FROM knowledge_versions"
            )
        else:
            row = await self.db.fetchone(
                "SELECT COALESCE(MAX(version), 0), 1 FROM knowledge_versions WHERE owner = $1",
                reader,
            )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    async def _matrix(self, reader: str | None, model: str) -> _Matrix:
        version = await self._version(reader)
        key = (reader, model)
        cached = self.matrices.get(key)
        if cached is not None and cached.version == version:
            return cached
        async with self._loading:  # concurrent searches after a write load it once
            cached = self.matrices.get(key)
            if cached is not None and cached.version == version:
                return cached
            matrix = await self._load(reader, model, version)
            self.matrices[key] = matrix
            return matrix

    async def _load(self, reader: str | None, model: str, version: tuple[int, int]) -> _Matrix:
        sql = (
            "SELECT c.owner, c.source_id, d.title, c.chunk_index, c.start_offset,"
            " c.end_offset, c.text, c.vector FROM knowledge_chunks c"
            " JOIN knowledge_documents d ON d.owner = c.owner AND d.source_id = c.source_id"
            " WHERE d.model = $1"
        )
        order = " ORDER BY c.owner, c.source_id, c.chunk_index"
        if reader is None:
            records = await self.db.fetchall(sql + order, model)
        else:
            records = await self.db.fetchall(sql + " AND c.owner = $2" + order, model, reader)
        rows = [tuple(r[:7]) for r in records]
        if records:
            vectors = np.vstack([np.frombuffer(bytes(r[7]), dtype="<f4") for r in records])
        else:
            vectors = np.empty((0, 0), dtype=np.float32)
        return _Matrix(
            version,
            vectors.astype(np.float32, copy=False),
            rows,
            np.array([r[1] for r in rows], dtype=object),
        )

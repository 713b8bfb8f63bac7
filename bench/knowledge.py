"""Knowledge store search over 100,000 chunks: the store's exact search (what the
assistant serves) against raw numpy exact search and an approximate HNSW index (usearch),
with the index's recall@10 against exact.

    python -m bench.knowledge [--chunks 100000] [--queries 200]

The vectors are synthetic, not embedded text (embedding 100,000 chunks would take this
machine most of an hour): 384-dimensional unit vectors drawn around 2,000 random centres,
so that neighbours are clustered as real sentence embeddings are; queries come from the
same distribution. One process, one run: the figures compare with each other.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time

import numpy as np

from services.assistant.chunking import Chunk
from services.assistant.store import KnowledgeStore
from services.common.database import Database

DIMENSIONS = 384
K = 10
CHUNKS_PER_DOCUMENT = 100
MODEL = "synthetic"


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def synthetic(n: int, rng: np.random.Generator, centres: np.ndarray) -> np.ndarray:
    picks = rng.integers(0, len(centres), n)
    return unit(centres[picks] + 0.08 * rng.standard_normal((n, DIMENSIONS)))


def exact_top(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    scores = matrix @ query
    best = np.argpartition(-scores, K - 1)[:K]
    return best[np.argsort(-scores[best])]


def percentile_ms(seconds: list[float], q: float) -> float:
    return 1000 * float(np.percentile(seconds, q))


async def store_search(vectors: np.ndarray, queries: np.ndarray) -> tuple[list[float], float, list]:
    """Loads the vectors into a SQLite knowledge store and times its search."""
    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(f"sqlite:///{folder}/knowledge.db")
        try:
            store = await KnowledgeStore.open(db)
            for first in range(0, len(vectors), CHUNKS_PER_DOCUMENT):
                part = vectors[first : first + CHUNKS_PER_DOCUMENT]
                chunks = [Chunk(i, 0, 1, f"chunk {first + i}") for i in range(len(part))]
                await store.replace("bench", f"doc{first}", "", chunks, part, MODEL)
            started = time.perf_counter()
            await store.search("bench", queries[0], MODEL, K)  # loads the matrix once
            load = time.perf_counter() - started
            times, found = [], []
            for query in queries:
                started = time.perf_counter()
                hits = await store.search("bench", query, MODEL, K)
                times.append(time.perf_counter() - started)
                found.append([int(h.text.split()[1]) for h in hits])
            return times, load, found
        finally:
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args()
    from usearch.index import Index

    rng = np.random.default_rng(13)
    centres = unit(rng.standard_normal((2000, DIMENSIONS)))
    vectors = synthetic(args.chunks, rng, centres)
    queries = synthetic(args.queries, rng, centres)

    exact_times, truth = [], []
    for query in queries:
        started = time.perf_counter()
        truth.append(exact_top(vectors, query))
        exact_times.append(time.perf_counter() - started)

    started = time.perf_counter()
    index = Index(ndim=DIMENSIONS, metric="cos", dtype="f32")
    index.add(np.arange(len(vectors)), vectors)
    build = time.perf_counter() - started
    index_times, recalls = [], []
    for query, true in zip(queries, truth, strict=True):
        started = time.perf_counter()
        keys = index.search(query, K).keys
        index_times.append(time.perf_counter() - started)
        recalls.append(len(set(keys.tolist()) & set(true.tolist())) / K)

    store_times, load, store_found = asyncio.run(store_search(vectors, queries))
    store_recall = np.mean(
        [len(set(f) & set(t.tolist())) / K for f, t in zip(store_found, truth, strict=True)]
    )

    print(
        f"\n{args.chunks:,} synthetic chunks ({DIMENSIONS} dimensions, clustered),"
        f" {args.queries} queries, top {K}\n"
    )
    print("| search                          | p50 ms | p95 ms | recall@10 vs exact |")
    print("|---------------------------------|--------|--------|--------------------|")
    rows = (
        ("numpy exact (raw baseline)", exact_times, 1.0),
        ("knowledge store, SQLite (exact)", store_times, store_recall),
        ("usearch HNSW index", index_times, float(np.mean(recalls))),
    )
    for name, times, recall in rows:
        print(
            f"| {name:<31} | {percentile_ms(times, 50):>6.2f} | {percentile_ms(times, 95):>6.2f}"
            f" | {recall:>18.3f} |"
        )
    print(
        f"\nindex build {build:.1f} s; the store's first search loads the matrix from"
        f" SQLite in {load:.1f} s (then kept until the owner's documents change)"
    )


if __name__ == "__main__":
    main()

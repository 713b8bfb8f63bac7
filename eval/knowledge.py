"""SciFact retrieval (BEIR layout): nDCG@10 of the knowledge store's search, beside the
naive baseline, both with the local model (int8 all-MiniLM-L6-v2).

    python -m eval.knowledge [DATA_DIR]

baseline  each abstract (title and text) embedded whole, exact cosine over the abstracts:
          how BEIR/MTEB score the model (published: nDCG@10 about 64.5 on the test split).
served    the assistant's domain code: every abstract indexed as a user's document (chunked
          at sentences, title embedded with each chunk, stored in a SQLite knowledge
          store), each claim searched for its 100 best passages, documents ranked by
          their best passage.

The model runs in process (the embeddings service's own SentenceEncoder), and every
distinct text is embedded once per run: an abstract that is one chunk is the same text in
both rankings.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import csv
import io
import math
import tempfile
import time
import tokenize
from collections import defaultdict
from pathlib import Path

import numpy as np

from services.assistant import knowledge
from services.assistant.chunking import chunk_text
from services.assistant.knowledge import Limits, embedded_text
from services.assistant.store import KnowledgeStore
from services.common.database import Database
from services.common.settings import PROJECT_ROOT
from services.embeddings.model import SentenceEncoder
from services.embeddings.settings import EmbeddingsSettings

K = 10
PASSAGES = 100  # the search's top_k limit: enough for ten distinct documents
OWNER = "scifact"


def sentences(cell: str) -> list[str]:
    """The abstract column: a printed array of quoted sentences, one per line."""
    tokens = tokenize.generate_tokens(io.StringIO(cell).readline)
    return [ast.literal_eval(t.string) for t in tokens if t.type == tokenize.STRING]


def read(folder: Path):
    with open(folder / "corpus.csv", encoding="utf-8") as lines:
        corpus = {
            row["doc_id"]: (row["title"], " ".join(sentences(row["abstract"])))
            for row in csv.DictReader(lines)
        }
    qrels: dict[str, set[str]] = defaultdict(set)
    with open(folder / "qrels_train.tsv", encoding="utf-8") as lines:
        for row in csv.DictReader(lines, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels[row["query-id"]].add(row["corpus-id"])
    with open(folder / "claims_train.csv", encoding="utf-8") as lines:
        claims = {row["id"]: row["claim"] for row in csv.DictReader(lines) if row["id"] in qrels}
    return corpus, claims, qrels


def ndcg_at_k(ranked: list[str], relevant: set[str], k: int = K) -> float:
    """Binary relevance, as BEIR's qrels for SciFact are."""
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:k]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(k, len(relevant))))
    return dcg / ideal


def mean_ndcg(rankings: dict[str, list[str]], qrels) -> float:
    return 100 * float(np.mean([ndcg_at_k(rankings[q], qrels[q]) for q in rankings]))


async def served_rankings(corpus, claims, vectors_of, limits: Limits) -> dict[str, list[str]]:
    async def embed(texts):
        return np.vstack([vectors_of[t] for t in texts]), 0, "local"

    with tempfile.TemporaryDirectory() as folder:
        db = await Database.open(f"sqlite:///{folder}/knowledge.db")
        try:
            store = await KnowledgeStore.open(db)
            for doc_id, (title, text) in corpus.items():
                await knowledge.index_document(store, embed, OWNER, doc_id, title, text, limits)
            rankings = {}
            for query_id, claim in claims.items():
                found = await knowledge.search(store, embed, OWNER, claim, PASSAGES, (), limits)
                # Hits come best first: a document's first hit is its best passage.
                rankings[query_id] = list(dict.fromkeys(h.source_id for h in found.hits))
            return rankings
        finally:
            await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data", nargs="?", type=Path, default=PROJECT_ROOT.parent / "shared" / "data"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    corpus, claims, qrels = read(args.data / "scifact_train")
    limits = Limits()
    whole = {doc_id: f"{title}\n{text}" for doc_id, (title, text) in corpus.items()}
    chunked = [
        embedded_text(title, chunk)
        for title, text in corpus.values()
        for chunk in chunk_text(text, limits.chunk_chars)
    ]
    texts = list(dict.fromkeys([*whole.values(), *chunked, *claims.values()]))
    encoder = SentenceEncoder(EmbeddingsSettings().embeddings_tokenizer_path)
    embed_started = time.perf_counter()
    vectors_of = dict(zip(texts, encoder.encode(texts).vectors, strict=True))
    embed_seconds = time.perf_counter() - embed_started

    doc_ids = list(whole)
    matrix = np.vstack([vectors_of[whole[d]] for d in doc_ids])
    baseline = {}
    for query_id, claim in claims.items():
        scores = matrix @ vectors_of[claim]
        baseline[query_id] = [doc_ids[i] for i in np.argsort(-scores)[:K]]

    search_started = time.perf_counter()
    served = asyncio.run(served_rankings(corpus, claims, vectors_of, limits))
    search_seconds = time.perf_counter() - search_started

    print(
        f"\nSciFact train: {len(claims)} claims with relevance judgements, {len(corpus)}"
        f" abstracts ({len(chunked)} chunks of at most {limits.chunk_chars} characters);"
        f" {len(texts)} distinct texts embedded once in {embed_seconds:.1f} s\n"
    )
    print("| ranking                                   | nDCG@10 |")
    print("|-------------------------------------------|---------|")
    print(f"| baseline: whole abstract, exact cosine    | {mean_ndcg(baseline, qrels):>7.2f} |")
    print(f"| served: chunks in the store, best passage | {mean_ndcg(served, qrels):>7.2f} |")
    print(
        f"\npublished for all-MiniLM-L6-v2 (test split): about 64.5."
        f" Indexing and searching through the store: {search_seconds:.1f} s;"
        f" whole run {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()

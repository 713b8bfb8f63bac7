"""STS-B dev: Spearman correlation of cosine similarity with the gold scores, for the model
served through gRPC (with micro-batching, many concurrent requests) and for the same model
called directly. Equal figures show that serving and batching change nothing.

    python -m eval.embeddings [STSB_CSV]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import subprocess
import sys

import grpc
import numpy as np

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from services.common.settings import PROJECT_ROOT
from services.embeddings.model import SentenceEncoder
from services.embeddings.settings import EmbeddingsSettings
from tools.ready import wait_serving
from tools.suite import free_addr


def read_pairs(path) -> tuple[list[str], list[str], np.ndarray]:
    left, right, gold = [], [], []
    with open(path, encoding="utf-8") as lines:
        for row in csv.reader(lines, delimiter="\t", quoting=csv.QUOTE_NONE):
            left.append(row[5])
            right.append(row[6])
            gold.append(float(row[4]))
    return left, right, np.array(gold)


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 0, tied values sharing their average rank, as Spearman's rho needs."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    return ((ends - counts + ends - 1) / 2)[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(ranks(a), ranks(b))[0, 1])


async def served_vectors(addr: str, texts: list[str]) -> np.ndarray:
    """One request per 8 texts, 32 at a time: the batcher mixes them freely."""
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
        limit = asyncio.Semaphore(32)

        async def embed(chunk):
            async with limit:
                reply = await stub.Embed(embeddings_pb2.EmbedRequest(texts=chunk), timeout=60)
                return [e.values for e in reply.embeddings]

        chunks = [texts[i : i + 8] for i in range(0, len(texts), 8)]
        parts = await asyncio.gather(*(embed(chunk) for chunk in chunks))
    return np.array([vector for part in parts for vector in part], dtype=np.float32)


def served(texts: list[str]) -> np.ndarray:
    addr = free_addr()
    server = subprocess.Popen(
        [sys.executable, "-m", "services.embeddings"],
        cwd=PROJECT_ROOT,
        env=os.environ | {"AIORCH_EMBEDDINGS_ADDR": addr, "AIORCH_LOG_LEVEL": "WARNING"},
    )
    try:
        asyncio.run(wait_serving(addr, 60))
        return asyncio.run(served_vectors(addr, texts))
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "stsb", nargs="?", default=PROJECT_ROOT.parent / "shared/data/stsb_dev/sts-dev.csv"
    )
    args = parser.parse_args()
    left, right, gold = read_pairs(args.stsb)
    texts = left + right
    direct = SentenceEncoder(EmbeddingsSettings().embeddings_tokenizer_path).encode(texts).vectors
    through_grpc = served(texts)
    n = len(left)
    print(f"\nSTS-B dev, {n} pairs: Spearman x 100 of cosine similarity with the gold score\n")
    print("| model called            | Spearman |")
    print("|-------------------------|----------|")
    for name, vectors in (("directly", direct), ("through gRPC, batched", through_grpc)):
        cosine = (vectors[:n] * vectors[n:]).sum(axis=1)
        print(f"| {name:<23} | {100 * spearman(cosine, gold):>8.3f} |")
    print(
        f"\nlargest difference between the two vectors of a text: "
        f"{np.abs(direct - through_grpc).max():.2e}"
    )


if __name__ == "__main__":
    main()

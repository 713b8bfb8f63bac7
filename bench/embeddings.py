"""Embeddings throughput: 64 concurrent gRPC clients, one text each, against the raw model.

    python -m bench.embeddings [STSB_CSV] [--seconds 5]

The service runs as its own process (as deployed); the raw baseline is the same model
called in batches of 32 in this process. Both in one run on one machine, so the ratio
holds whatever the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time

import grpc

from aiorch.v1 import embeddings_pb2, embeddings_pb2_grpc
from bench.common import sentences
from services.common.settings import PROJECT_ROOT
from services.embeddings.model import SentenceEncoder
from services.embeddings.settings import EmbeddingsSettings
from tools.ready import wait_serving
from tools.suite import free_addr

CLIENTS = 64


def raw_throughput(texts: list[str], seconds: float) -> float:
    encoder = SentenceEncoder(EmbeddingsSettings().embeddings_tokenizer_path)
    encoder.encode(texts[:32])  # warm-up
    done, started, i = 0, time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        batch = [texts[(i + k) % len(texts)] for k in range(32)]
        encoder.encode(batch)
        done += len(batch)
        i += 32
    return done / (time.perf_counter() - started)


async def served_throughput(addr: str, texts: list[str], seconds: float) -> float:
    async with grpc.aio.insecure_channel(addr) as channel:
        stub = embeddings_pb2_grpc.EmbeddingsServiceStub(channel)
        await stub.Embed(embeddings_pb2.EmbedRequest(texts=texts[:8]))  # warm-up
        stop_at = time.perf_counter() + seconds
        counts = [0] * CLIENTS

        async def client(n: int) -> None:
            i = n
            while time.perf_counter() < stop_at:
                await stub.Embed(embeddings_pb2.EmbedRequest(texts=[texts[i % len(texts)]]))
                counts[n] += 1
                i += CLIENTS

        started = time.perf_counter()
        await asyncio.gather(*(client(n) for n in range(CLIENTS)))
        return sum(counts) / (time.perf_counter() - started)


def with_server(env: dict, texts: list[str], seconds: float) -> float:
    addr = free_addr()
    server = subprocess.Popen(
        [sys.executable, "-m", "services.embeddings"],
        cwd=PROJECT_ROOT,
        env=os.environ
        | env
        | {
            "AIORCH_EMBEDDINGS_ADDR": addr,
            "AIORCH_EMBEDDINGS_METRICS_ADDR": free_addr(),
            "AIORCH_LOG_LEVEL": "WARNING",
        },
    )
    try:
        asyncio.run(wait_serving(addr, 60))
        return asyncio.run(served_throughput(addr, texts, seconds))
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "stsb", nargs="?", default=PROJECT_ROOT.parent / "shared/data/stsb_dev/sts-dev.csv"
    )
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    texts = sentences(args.stsb)
    raw = raw_throughput(texts, args.seconds)
    rows = [("raw model, batch 32 (baseline)", raw)]
    rows.append(("served, micro-batching on", with_server({}, texts, args.seconds)))
    rows.append(
        (
            "served, micro-batching off",
            with_server({"AIORCH_EMBEDDINGS_BATCHING": "false"}, texts, args.seconds),
        )
    )
    print(
        f"\nEmbeddings: {CLIENTS} concurrent clients, one text each, {args.seconds:.0f} s per row\n"
    )
    print(f"| {'setup':<32} | {'texts/s':>8} | {'÷ raw':>6} |")
    print(f"|{'-' * 34}|{'-' * 10}|{'-' * 8}|")
    for name, rate in rows:
        print(f"| {name:<32} | {rate:>8.0f} | {rate / raw:>6.2f} |")


if __name__ == "__main__":
    main()

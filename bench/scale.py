"""Scale-out: workflow and embedding throughput as replicas are added, through one Envoy.

    python -m bench.scale [DATA_DIR] [--seconds 4]

Each setting starts the whole suite afresh, every service a process of its own on a
PostgreSQL and a Redis of the run's own (the drills' launcher), a service's replicas
listed in its address so that Envoy and the callers balance over them:

- N orchestrators and N classifiers, N = 1 and 2: cached and uncached classification
  workflows, 16 concurrent HTTP/1.1 clients (the orchestrator benchmark's load);
- N embeddings, N = 1 and 2: a direct Embed of one short text, the same clients.

Besides requests/s and the ratio N=2 ÷ N=1, it prints the CPU each kind of process spent
per request (summed over its replicas), which says where the time goes: on a machine with
fewer cores than processes, replicas add no CPU, and the figure shows what a machine (a
node) per replica would have to supply. Each embeddings replica runs on its share of the
cores (AIORCH_EMBEDDINGS_THREADS), as its CPU limit would give it in a cluster.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil

from bench.orchestrator import LABELS, _http, _rate, texts
from drills.processes import Postgres, Redis, Suite, running_suite
from services.common.settings import PROJECT_ROOT

SETTINGS = {
    "workflows": ({"orchestrator": 1, "classifier": 1}, {"orchestrator": 2, "classifier": 2}),
    "embeddings": ({"embeddings": 1}, {"embeddings": 2}),
}


def kind(key: str) -> str:
    """orchestrator-2 → orchestrator; gateway → envoy."""
    return "envoy" if key == "gateway" else key.rsplit("-", 1)[0]


def cpu_seconds(suite: Suite) -> dict[str, float]:
    """CPU (user + system) each kind of process has used so far, over its replicas."""
    used: dict[str, float] = defaultdict(float)
    for key, process in suite.processes.items():
        with contextlib.suppress(psutil.Error):
            times = psutil.Process(process.pid).cpu_times()
            used[kind(key)] += times.user + times.system
    return used


def measure(suite: Suite, requests: dict[str, bytes], seconds: float) -> dict[str, dict]:
    """Per request kind: its rate and each process kind's CPU milliseconds per request."""
    addr = suite.settings.gateway_addr
    for request in requests.values():  # warms every path (and fills the cache)
        asyncio.run(_rate(addr, request, 1.0))
    found = {}
    for name, request in requests.items():
        before, started = cpu_seconds(suite), time.perf_counter()
        rate = asyncio.run(_rate(addr, request, seconds))
        done = rate * (time.perf_counter() - started)
        after = cpu_seconds(suite)
        cpu = {k: 1000 * (after[k] - before.get(k, 0.0)) / done for k in after}
        found[name] = {"rate": rate, "cpu_ms": cpu}
    return found


def requests_for(addr: str, text: str) -> dict[str, dict[str, bytes]]:
    body = {
        "type": "classification",
        "wait": True,
        "input": {"text": text, "labels": [{"name": n} for n in LABELS]},
    }
    path = "/v1/ai-orchestration/workflows"
    return {
        "workflows": {
            "cached workflow": _http("POST", path, addr, body),
            "uncached workflow": _http("POST", path, addr, body | {"use_cache": False}),
        },
        "embeddings": {
            "direct Embed": _http("POST", "/v1/embeddings/embed", addr, {"texts": [text[:200]]})
        },
    }


def run(text: str, seconds: float) -> dict[tuple[str, int], dict[str, dict]]:
    results = {}
    with tempfile.TemporaryDirectory(prefix="aiorch-scale-") as tmp:
        for group, settings in SETTINGS.items():
            for index, replicas in enumerate(settings):
                # A store and a cache of its own: nothing of one setting helps the next.
                folder = Path(tmp) / f"{group}-{index}"
                folder.mkdir()
                postgres, redis = Postgres(Path(tmp) / f"postgres-{group}-{index}"), Redis()
                postgres.start()
                redis.start()
                # Each embeddings replica gets its share of the cores, as its CPU limit
                # would give it in a cluster, rather than every replica a thread per core.
                share = max(1, (os.cpu_count() or 1) // replicas.get("embeddings", 1))
                os.environ["AIORCH_EMBEDDINGS_THREADS"] = str(share)
                try:
                    with running_suite(folder, postgres, redis, replicas) as suite:
                        asked = requests_for(suite.settings.gateway_addr, text)[group]
                        n = max(replicas.values())
                        results[group, n] = measure(suite, asked, seconds)
                        print(f"{group} x{n}: done", flush=True)
                finally:
                    os.environ.pop("AIORCH_EMBEDDINGS_THREADS", None)
                    redis.kill()
                    postgres.stop()
    return results


def report(results: dict[tuple[str, int], dict[str, dict]], seconds: float) -> None:
    print(
        f"\nScale-out through one Envoy, 16 concurrent clients, {seconds:g} s per figure,"
        f" {psutil.cpu_count()} cores\n"
    )
    print(f"| {'request':<20} | {'N=1 req/s':>9} | {'N=2 req/s':>9} | {'N=2 ÷ N=1':>9} |")
    print(f"|{'-' * 22}|{'-' * 11}|{'-' * 11}|{'-' * 11}|")
    for group in SETTINGS:
        for name in results[group, 1]:
            one, two = results[group, 1][name]["rate"], results[group, 2][name]["rate"]
            print(f"| {name:<20} | {one:>9.0f} | {two:>9.0f} | {two / one:>9.2f} |")
    print("\nCPU per request, ms, by kind of process (N=1 / N=2; replicas summed)\n")
    kinds = ["envoy", "orchestrator", "classifier", "embeddings", "meeting_intel", "monitor"]
    print(f"| {'request':<20} | " + " | ".join(f"{k:>13}" for k in kinds) + " |")
    print(f"|{'-' * 22}|" + "|".join("-" * 15 for _ in kinds) + "|")
    for group in SETTINGS:
        for name in results[group, 1]:
            cells = []
            for k in kinds:
                one = results[group, 1][name]["cpu_ms"].get(k, 0.0)
                two = results[group, 2][name]["cpu_ms"].get(k, 0.0)
                cells.append(f"{one:>5.2f} / {two:>5.2f}")
            print(f"| {name:<20} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=PROJECT_ROOT.parent / "shared/data")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    report(run(texts(args.data, 1)[0], args.seconds), args.seconds)


if __name__ == "__main__":
    main()

"""Orchestrator: overhead, cached throughput and hybrid parallelism, through the real
Envoy to the real service processes, each against its baseline measured in the same run.

    python -m bench.orchestrator [DATA_DIR] [--requests 300] [--seconds 5]

1. Overhead: a classification workflow through the gateway minus the direct Classify call
   through the same gateway, same text, one request at a time (p50 and p99).
2. Requests/s, through the same Envoy with the same concurrent clients: a workflow
   answered from the cache ÷ a trivial RPC (ListWorkflowTypes), and an uncached
   classification workflow ÷ the direct Classify it calls.
3. Hybrid ÷ its slowest branch: a hybrid workflow over a real meeting transcript against
   each branch's RPC called alone, one request at a time.
4. The floor under the overhead: over gRPC without Envoy, one request at a time, the
   direct Classify, the same call through a bare relay (a grpc.aio server on uvloop that
   forwards the bytes: no interceptors, no work) and the workflow. The relay's cost is
   what any Python hop costs on this machine; the workflow's cost over the relay's is
   what the orchestrator adds to a hop.

DATA_DIR is the shared development data (BBC news for texts, ELITR for a transcript).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc
import psutil
import uvloop

from aiorch.v1 import (
    classifier_pb2,
    classifier_pb2_grpc,
    embeddings_pb2,
    embeddings_pb2_grpc,
    meeting_intel_pb2,
    meeting_intel_pb2_grpc,
    orchestrator_pb2_grpc,
)
from aiorch.v1 import orchestrator_pb2 as pb
from gateway import tokens
from gateway.render import Edge
from services.common.advice import percentile
from services.common.settings import PROJECT_ROOT, Settings
from tools.ready import SERVICES
from tools.suite import free_addr, running_suite

BIN = Path(sys.executable).parent
LABELS = ["business", "entertainment", "politics", "sport", "tech"]
CLIENTS = 16
# The gateway checks a JWT on every API route: the development pair of `make run` signs one.
AUTH = {"authorization": f"Bearer {tokens.dev_token('bench')}"}


# The benchmark is one user at full speed: the gateway's rate limits, there to keep one
# caller from starving the others, would measure themselves instead of the suite.
EDGE = Edge(user_rps=1_000_000, route_rps=1_000_000)
QUIET = {"AIORCH_LOG_LEVEL": "WARNING"}


def texts(data: Path, count: int) -> list[str]:
    """Openings of BBC news articles: title and first paragraph."""
    found = []
    with open(data / "bbc_news" / "bbc_news.jsonl", encoding="utf-8") as lines:
        for line in lines:
            found.append(" ".join(json.loads(line)["text"].split("\n\n")[:2]))
            if len(found) == count:
                break
    return found


def post(conn: http.client.HTTPConnection, path: str, body: dict) -> tuple[float, dict]:
    started = time.perf_counter()
    conn.request("POST", path, json.dumps(body), {"content-type": "application/json", **AUTH})
    reply = conn.getresponse()
    raw = reply.read()
    took = time.perf_counter() - started
    if reply.status != 200:
        raise RuntimeError(f"{path}: {reply.status} {raw[:300]!r}")
    return took, json.loads(raw)


def overhead(settings: Settings, samples: list[str], requests: int) -> dict:
    conn = http.client.HTTPConnection(settings.gateway_addr, timeout=60)
    labels = [{"name": name} for name in LABELS]
    workflow_ms, direct_ms, inside_ms = [], [], []
    for i in range(requests + 20):
        text = samples[i % len(samples)]
        workflow = {
            "type": "classification",
            "wait": True,
            "use_cache": False,
            "input": {"text": text, "labels": labels},
        }
        direct = {"text": text, "labels": labels}
        calls = [("/v1/ai-orchestration/workflows", workflow), ("/v1/classifier/classify", direct)]
        if i % 2:  # alternate which goes first, so drift hits both alike
            calls.reverse()
        took = {path: post(conn, path, body) for path, body in calls}
        if i < 20:  # warm-up
            continue
        seconds, reply = took["/v1/ai-orchestration/workflows"]
        workflow_ms.append(seconds * 1000)
        direct_ms.append(took["/v1/classifier/classify"][0] * 1000)
        inside_ms.append(_inside_ms(reply["workflow"]))
    conn.close()
    return {"workflow": workflow_ms, "direct": direct_ms, "inside": inside_ms}


def _inside_ms(workflow: dict) -> float:
    """The orchestrator's own time on a workflow, from its record: accepted to finished,
    less the step's call."""

    def at(stamp: str) -> float:
        from google.protobuf import timestamp_pb2

        value = timestamp_pb2.Timestamp()
        value.FromJsonString(stamp)
        return value.ToNanoseconds() / 1e6

    step = workflow["steps"][0]
    total = at(workflow["finished_at"]) - at(workflow["created_at"])
    return total - (at(step["finished_at"]) - at(step["started_at"]))


async def _client(addr: str, request: bytes, stop_at: float, counts: list[int]) -> None:
    host, port = addr.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    while time.perf_counter() < stop_at:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(head.decode(errors="replace"))
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        await reader.readexactly(length)
        counts[0] += 1
    writer.close()


def _http(method: str, path: str, addr: str, body: dict | None = None) -> bytes:
    data = json.dumps(body).encode() if body is not None else b""
    head = f"{method} {path} HTTP/1.1\r\nhost: {addr}\r\ncontent-type: application/json\r\n"
    head += f"authorization: {AUTH['authorization']}\r\n"
    return (head + f"content-length: {len(data)}\r\n\r\n").encode() + data


async def _rate(addr: str, request: bytes, seconds: float) -> float:
    counts = [0]
    started = time.perf_counter()
    await asyncio.gather(
        *(_client(addr, request, started + seconds, counts) for _ in range(CLIENTS))
    )
    return counts[0] / (time.perf_counter() - started)


def suite_cpu(running) -> Callable[[], float]:
    """The CPU seconds the suite's processes (Envoy and every service) have used so far,
    as a function to call before and after a figure. Per request it is a steadier figure
    than requests/s when something else shares the cores: load elsewhere slows the suite
    down but hardly changes what one request costs it."""
    processes = psutil.Process(running.honcho.pid).children(recursive=True)

    def used() -> float:
        total = 0.0
        for process in processes:
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    return used


def throughput(settings: Settings, text: str, seconds: float, cpu=None) -> dict:
    """Requests/s of each request; with `cpu` (see suite_cpu), also "<name>_cpu_ms": the
    suite's CPU milliseconds per request."""
    addr = settings.gateway_addr
    body = {
        "type": "classification",
        "wait": True,
        "input": {"text": text, "labels": [{"name": n} for n in LABELS]},
    }
    requests = {
        "cached": _http("POST", "/v1/ai-orchestration/workflows", addr, body),
        "trivial": _http("GET", "/v1/ai-orchestration/workflows/types", addr),
        "uncached": _http(
            "POST", "/v1/ai-orchestration/workflows", addr, body | {"use_cache": False}
        ),
        "direct": _http("POST", "/v1/classifier/classify", addr, body["input"]),
    }
    for request in requests.values():  # fills the cache, warms every path
        asyncio.run(_rate(addr, request, 1.0))
    rates: dict[str, list[float]] = {name: [] for name in requests}
    spent: dict[str, list[float]] = {name: [] for name in requests}
    for _ in range(2):  # interleaved halves, so drift hits all alike
        for name, request in requests.items():
            before = cpu() if cpu else 0.0
            started = time.perf_counter()
            rates[name].append(asyncio.run(_rate(addr, request, seconds / 2)))
            if cpu:
                served = rates[name][-1] * (time.perf_counter() - started)
                spent[name].append((cpu() - before) * 1000 / served)
    found = {name: statistics.mean(values) for name, values in rates.items()}
    if cpu:
        found |= {f"{name}_cpu_ms": statistics.mean(values) for name, values in spent.items()}
    return found


async def hybrid(settings: Settings, transcript: str, requests: int) -> dict:
    labels = [classifier_pb2.Label(name=n) for n in LABELS]
    channels = {name: grpc.aio.insecure_channel(settings.addr_of(name)) for name in SERVICES}
    calls = {
        "classify": lambda: classifier_pb2_grpc.ClassifierServiceStub(
            channels["classifier"]
        ).Classify(
            classifier_pb2.ClassifyRequest(
                text=transcript, labels=labels, include_keywords=True, include_summary=True
            ),
            timeout=120,
        ),
        "analyze": lambda: meeting_intel_pb2_grpc.MeetingIntelServiceStub(
            channels["meeting_intel"]
        ).Analyze(meeting_intel_pb2.AnalyzeRequest(transcript=transcript), timeout=120),
        "embed": lambda: embeddings_pb2_grpc.EmbeddingsServiceStub(channels["embeddings"]).Embed(
            embeddings_pb2.EmbedRequest(texts=[transcript]), timeout=120
        ),
    }
    orchestrator = orchestrator_pb2_grpc.OrchestratorServiceStub(channels["orchestrator"])
    request = pb.CreateWorkflowRequest(
        type="hybrid",
        wait=True,
        use_cache=False,
        input=pb.WorkflowInput(text=transcript, labels=labels),
    )
    times = {name: [] for name in (*calls, "hybrid")}
    inside = []
    for i in range(requests + 1):
        for name, call in calls.items():
            started = time.perf_counter()
            await call()
            times[name].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        # Called directly, as a backend inside the mesh calls: it names the user it acts for.
        workflow = (
            await orchestrator.CreateWorkflow(
                request, metadata=(("x-user-id", "bench"),), timeout=120
            )
        ).workflow
        times["hybrid"].append((time.perf_counter() - started) * 1000)
        if workflow.status != pb.WORKFLOW_STATUS_SUCCEEDED:
            raise RuntimeError(f"hybrid: {workflow.error}")
        span = workflow.finished_at.ToNanoseconds() - workflow.started_at.ToNanoseconds()
        slowest = max(
            s.finished_at.ToNanoseconds() - s.started_at.ToNanoseconds() for s in workflow.steps
        )
        inside.append(span / slowest)
        if i == 0:  # warm-up
            for values in times.values():
                values.clear()
            inside.clear()
    for channel in channels.values():
        await channel.close()
    return {"times": times, "inside": inside}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=PROJECT_ROOT.parent / "shared/data")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--hybrid-requests", type=int, default=8)
    args = parser.parse_args()
    samples = texts(args.data, 50)
    transcript = (args.data / "elitr_dev/meeting_en_dev_007").glob("transcript_*.txt")
    transcript = next(transcript).read_text(encoding="utf-8")
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_suite(Path(tmp), EDGE, QUIET, timeout=120) as running,
    ):
        settings = running.settings
        lat = overhead(settings, samples, args.requests)
        rates = throughput(settings, samples[0], args.seconds, suite_cpu(running))
        par = asyncio.run(hybrid(settings, transcript, args.hybrid_requests))
        hop = floor(settings, samples, args.requests)
    report(lat, rates, par, args)
    report_floor(hop, args)


CLASSIFY = "/aiorch.v1.ClassifierService/Classify"
# Inside the cluster a backend names its caller; the services take it from there.
CALLER = (("x-user-id", "bench"),)


def _relay(addr: str, target: str) -> None:
    """A bare relay in front of the classifier, in a process of its own: what a hop in
    Python costs with nothing of ours in it."""

    async def serve() -> None:
        forward = grpc.aio.insecure_channel(target).unary_unary(CLASSIFY)

        async def classify(request: bytes, context) -> bytes:
            return await forward(request, metadata=CALLER)

        server = grpc.aio.server()
        handler = grpc.unary_unary_rpc_method_handler(classify)
        service = grpc.method_handlers_generic_handler(
            "aiorch.v1.ClassifierService", {"Classify": handler}
        )
        server.add_generic_rpc_handlers([service])
        server.add_insecure_port(addr)
        await server.start()
        await server.wait_for_termination()

    uvloop.run(serve())


def floor(settings: Settings, samples: list[str], requests: int) -> dict[str, list[float]]:
    """Milliseconds of the direct Classify, the same through the bare relay, and the
    workflow, over gRPC one at a time (the three in turn, in alternating order)."""
    relay_addr = free_addr()
    relay = multiprocessing.get_context("spawn").Process(
        target=_relay, args=(relay_addr, settings.classifier_addr), daemon=True
    )
    relay.start()
    try:
        return uvloop.run(_floor(settings, relay_addr, samples, requests))
    finally:
        relay.kill()
        relay.join()


async def _floor(settings: Settings, relay_addr: str, samples: list[str], requests: int):
    labels = [classifier_pb2.Label(name=n) for n in LABELS]
    channels = {
        "direct": grpc.aio.insecure_channel(settings.classifier_addr),
        "relay": grpc.aio.insecure_channel(relay_addr),
        "workflow": grpc.aio.insecure_channel(settings.orchestrator_addr),
    }
    methods = {"direct": CLASSIFY, "relay": CLASSIFY}
    targets = {
        name: channel.unary_unary(
            methods.get(name, "/aiorch.v1.OrchestratorService/CreateWorkflow")
        )
        for name, channel in channels.items()
    }
    await channels["relay"].channel_ready()
    took: dict[str, list[float]] = {name: [] for name in targets}
    try:
        for i in range(requests + 20):
            text = samples[i % len(samples)]
            classify = classifier_pb2.ClassifyRequest(text=text, labels=labels).SerializeToString()
            bodies = {
                "direct": classify,
                "relay": classify,
                "workflow": pb.CreateWorkflowRequest(
                    type="classification",
                    wait=True,
                    use_cache=False,
                    input=pb.WorkflowInput(text=text, labels=labels),
                ).SerializeToString(),
            }
            order = list(targets) if i % 2 else list(reversed(targets))
            for name in order:
                started = time.perf_counter()
                await targets[name](bodies[name], timeout=60, metadata=CALLER)
                if i >= 20:  # after the warm-up
                    took[name].append((time.perf_counter() - started) * 1000)
    finally:
        for channel in channels.values():
            await channel.close()
    return took


def report_floor(took: dict[str, list[float]], args) -> None:
    p50 = {name: percentile(values, 50) for name, values in took.items()}
    print(f"\nThe floor under the overhead: gRPC without Envoy, {args.requests} at concurrency 1")
    print("(p50, ms; the relay forwards the bytes with nothing of ours in it)\n")
    print(f"| {'figure':<52} | {'p50':>8} |")
    print(f"|{'-' * 54}|{'-' * 10}|")
    rows = [
        ("direct Classify", p50["direct"]),
        ("the same through a bare relay", p50["relay"]),
        ("classification workflow", p50["workflow"]),
        ("a bare Python hop: relay minus direct", p50["relay"] - p50["direct"]),
        ("the orchestrator's part: workflow minus relay", p50["workflow"] - p50["relay"]),
    ]
    for name, value in rows:
        print(f"| {name:<52} | {value:>8.2f} |")


def report(lat: dict, rates: dict, par: dict, args) -> None:
    def p(values, q):
        return percentile(values, q)

    print(f"\nOrchestrator through Envoy; {args.requests} pairs at concurrency 1\n")
    print(f"| {'figure':<52} | {'p50':>8} | {'p99':>8} | goal |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 10}|------|")
    rows = [
        ("classification workflow through the gateway, ms", lat["workflow"]),
        ("direct Classify through the gateway, ms", lat["direct"]),
    ]
    for name, values in rows:
        print(f"| {name:<52} | {p(values, 50):>8.2f} | {p(values, 99):>8.2f} |      |")
    diff50 = p(lat["workflow"], 50) - p(lat["direct"], 50)
    diff99 = p(lat["workflow"], 99) - p(lat["direct"], 99)
    print(
        f"| {'overhead: workflow minus direct, ms':<52} | {diff50:>8.2f} | {diff99:>8.2f} | ≤1/≤3 |"
    )
    inside = lat["inside"]
    name = "  of which inside the orchestrator (its record), ms"
    print(f"| {name:<52} | {p(inside, 50):>8.2f} | {p(inside, 99):>8.2f} |      |")
    ratio = rates["cached"] / rates["trivial"]
    print(
        f"\nRequests/s through Envoy, {CLIENTS} concurrent HTTP/1.1 clients, "
        f"{args.seconds:g} s each\n"
    )
    print(f"| {'request':<40} | {'req/s':>8} | {'suite CPU ms/request':>20} |")
    print(f"|{'-' * 42}|{'-' * 10}|{'-' * 22}|")
    for name, title in (
        ("trivial", "trivial RPC (ListWorkflowTypes)"),
        ("cached", "cached classification workflow"),
    ):
        print(f"| {title:<40} | {rates[name]:>8.0f} | {rates[name + '_cpu_ms']:>20.2f} |")
    print(f"| {'cached ÷ trivial (goal ≥ 0.5)':<40} | {ratio:>8.2f} | {'':>20} |")
    for name, title in (
        ("direct", "direct Classify"),
        ("uncached", "uncached classification workflow"),
    ):
        print(f"| {title:<40} | {rates[name]:>8.0f} | {rates[name + '_cpu_ms']:>20.2f} |")
    uncached = rates["uncached"] / rates["direct"]
    print(f"| {'uncached ÷ direct Classify (goal ≥ 0.9)':<40} | {uncached:>8.2f} | {'':>20} |")
    times = par["times"]
    branches = {n: statistics.median(times[n]) for n in ("classify", "analyze", "embed")}
    slowest = max(branches.values())
    hybrid = statistics.median(times["hybrid"])
    print(f"\nHybrid over a {args.hybrid_requests}-run meeting transcript (medians, ms)\n")
    print(f"| {'call':<46} | {'ms':>8} |")
    print(f"|{'-' * 48}|{'-' * 10}|")
    for name, ms in branches.items():
        print(f"| {name + ' alone':<46} | {ms:>8.1f} |")
    print(f"| {'hybrid workflow (all three in parallel)':<46} | {hybrid:>8.1f} |")
    print(f"| {'hybrid ÷ slowest branch alone (goal ≤ 1.1)':<46} | {hybrid / slowest:>8.2f} |")
    inside = statistics.median(par["inside"])
    print(f"| {'hybrid span ÷ its slowest step (own record)':<46} | {inside:>8.2f} |")


if __name__ == "__main__":
    main()

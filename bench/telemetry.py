"""What tracing costs: the orchestrator benchmark's overhead and throughput figures with
tracing off, on for every request, and on for one request in ten and in a hundred
(every service and Envoy exporting to a real OTLP receiver run by this command), and
off a second time as the control, in the same run.

    python -m bench.telemetry [DATA_DIR] [--requests 200] [--seconds 4] [--rounds 2]
                              [--only 'on, 1 in 100' ...]

The suite is started once per setting and round, the settings in turn, so drift on
the machine hits all alike; the control's change against off shows how far drift alone
moves a figure in one round. Prometheus metrics and access lines are on in both: they
are part of the runtime, not a switch. Goals: tracing costs at most 5 % of throughput
and at most 0.2 ms of the orchestrator's p50 overhead. Beside each requests/s figure:
the suite's CPU per request (Envoy and every service), which load elsewhere on the
machine hardly moves, so its change is the steadier estimate of what tracing costs.
The receiver runs in a process of its own, as a collector does.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import statistics
import tempfile
from pathlib import Path

from bench.orchestrator import EDGE, QUIET, overhead, suite_cpu, texts, throughput
from services.common.advice import percentile
from services.common.settings import PROJECT_ROOT
from tests.otlp_receiver import otlp_receiver
from tools.suite import running_suite

OTEL = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG")
# 1 in 100 is there to tell the two costs apart: what every request pays for the trace
# context (the gateway's decision, the traceparent read and handed on), and what a
# recorded request pays for its spans (made, then encoded and sent by the SDK).
# "off, again" is a second suite with tracing off in each round: its change against off
# is what the machine's drift alone makes of a figure, the yardstick for the others.
SETTINGS = {
    "off": None,
    "on": 1.0,
    "on, 1 in 10": 0.1,
    "on, 1 in 100": 0.01,
    "off, again": None,
}


@contextlib.contextmanager
def tracing(endpoint: str, ratio: float | None):
    """Sets (or, with no ratio, clears) the OTEL_* variables the suite starts with."""
    saved = {name: os.environ.pop(name, None) for name in OTEL}
    if ratio is not None:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        os.environ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio"
        os.environ["OTEL_TRACES_SAMPLER_ARG"] = str(ratio)
    try:
        yield
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def measure(samples: list[str], requests: int, seconds: float) -> dict:
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_suite(Path(tmp), EDGE, QUIET, timeout=120) as running,
    ):
        lat = overhead(running.settings, samples, requests)
        rates = throughput(running.settings, samples[0], seconds, suite_cpu(running))
    return {
        "workflow_p50": percentile(lat["workflow"], 50),
        "overhead_p50": percentile(lat["workflow"], 50) - percentile(lat["direct"], 50),
        "inside_p50": percentile(lat["inside"], 50),
        **{name: rates[name] for name in RATES},
        **{f"{name}_cpu_ms": rates[f"{name}_cpu_ms"] for name in RATES},
    }


def _collect(conn) -> None:
    """The OTLP receiver, in a process of its own as a real collector is: in the load
    generator's process its work would slow the clients, and count as tracing's cost.
    Sends its endpoint, then the spans counted so far whenever asked, until told to stop."""
    with otlp_receiver(keep=False) as (endpoint, receiver):
        conn.send(endpoint)
        while conn.recv() == "count":
            conn.send(receiver.count)


@contextlib.contextmanager
def collector():
    """(endpoint, count): a receiver in its own process, and how many spans it has had."""
    context = multiprocessing.get_context("spawn")  # no forked copy of grpc's threads
    here, there = context.Pipe()
    process = context.Process(target=_collect, args=(there,), daemon=True)
    process.start()
    try:
        if not here.poll(60):
            raise RuntimeError("the OTLP receiver did not start")

        def count() -> int:
            here.send("count")
            return here.recv()

        yield here.recv(), count
    finally:
        here.send("stop")
        process.join(10)
        if process.is_alive():
            process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="?", type=Path, default=PROJECT_ROOT.parent / "shared/data")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--only",
        action="append",
        choices=[name for name in SETTINGS if name != "off"],
        help="measure this setting (repeatable) beside off, not all: more rounds in the time",
    )
    args = parser.parse_args()
    samples = texts(args.data, 50)
    settings = {n: r for n, r in SETTINGS.items() if n == "off" or n in (args.only or SETTINGS)}
    runs: dict[str, list[dict]] = {name: [] for name in settings}
    spans = dict.fromkeys(settings, 0)
    with collector() as (endpoint, count):
        for _ in range(args.rounds):
            for name, ratio in settings.items():
                before = count()
                with tracing(endpoint, ratio):
                    runs[name].append(measure(samples, args.requests, args.seconds))
                spans[name] += count() - before
    report(runs, spans, args)


RATES = {
    "trivial": "trivial RPC (ListWorkflowTypes), req/s",
    "cached": "cached classification workflow, req/s",
    "direct": "direct Classify, req/s",
    "uncached": "uncached classification workflow, req/s",
}


def report(runs: dict[str, list[dict]], spans: dict[str, int], args) -> None:
    """Each figure's mean over the rounds per setting, and for each other setting its
    change against tracing off in the same round: the mean change and its range over
    the rounds."""

    def mean(name, figure):
        return statistics.mean(run[figure] for run in runs[name])

    def changes(name, figure, relative):
        pairs = zip(runs[name], runs["off"], strict=True)
        if relative:
            return [100 * (on[figure] / off[figure] - 1) for on, off in pairs]
        return [on[figure] - off[figure] for on, off in pairs]

    print(
        f"\nTracing off and on, {args.rounds} rounds of {args.requests} requests at"
        f" concurrency 1 and {args.seconds:g} s per throughput figure (16 clients), per"
        " setting; each cell: mean of the rounds, then the change against off in the same"
        " round (mean, and lowest..highest over the rounds)\n"
    )
    on = [name for name in runs if name != "off"]
    head = "".join(f" {name:>32} |" for name in ("off", *on))
    print(f"| {'figure':<44} |{head} goal (on vs off) |")
    print(f"|{'-' * 46}|" + f"{'-' * 34}|" * (1 + len(on)) + f"{'-' * 18}|")
    rows = [
        ("classification workflow p50, ms", "workflow_p50", "", False),
        ("overhead p50: workflow minus direct, ms", "overhead_p50", "+0.2 ms at most", False),
        ("inside the orchestrator p50 (its record), ms", "inside_p50", "", False),
        *((title, figure, "-5 % at most", True) for figure, title in RATES.items()),
        *((f"suite CPU ms per request: {name}", f"{name}_cpu_ms", "", True) for name in RATES),
    ]
    for title, figure, goal, relative in rows:
        cells = f" {mean('off', figure):>32.2f} |"
        for name in on:
            found = changes(name, figure, relative)
            unit, places = ("%", 1) if relative else ("", 2)
            change = f"{statistics.mean(found):+.{places}f}{unit}"
            spread = f"({min(found):+.{places}f}..{max(found):+.{places}f})"
            cells += f" {mean(name, figure):>9.2f} {change:>7} {spread:>14} |"
        print(f"| {title:<44} |{cells} {goal:<16} |")
    sent = ", ".join(f"{name}: {count}" for name, count in spans.items())
    print(f"\nSpans the receiver got, per setting over all rounds: {sent}")


if __name__ == "__main__":
    main()

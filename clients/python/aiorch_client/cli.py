"""`aiorch`: the suite from a shell, built on the client library.

Human output (tables; colour only on a terminal) by default, `--json` for scripts. Where
the suite is and the token come from flags, then the environment, then the config file
(see `aiorch_client.config`). Exit codes are in EXIT_CODES and `aiorch --help`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, NoReturn

import grpc
import typer
from google.protobuf import json_format
from google.protobuf.message import Message
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from aiorch_client import transcripts
from aiorch_client._proto.aiorch.v1 import assistant_pb2 as assistant
from aiorch_client._proto.aiorch.v1 import common_pb2 as common
from aiorch_client._proto.aiorch.v1 import monitor_pb2 as monitor
from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as orchestrator
from aiorch_client.aio import FINISHED
from aiorch_client.errors import AiorchError, WorkflowFailed
from aiorch_client.messages import workflow_request
from aiorch_client.sync import Client

# What each exit code means; the error classes carry theirs (errors.py).
EXIT_CODES = {
    0: "ok",
    1: "any other error (INTERNAL, UNKNOWN, ...)",
    2: "bad input: a wrong flag or argument, an unreadable file, INVALID_ARGUMENT",
    3: "not found (NOT_FOUND): no such workflow, document or session",
    4: "unavailable: the suite cannot be reached (UNAVAILABLE, DEADLINE_EXCEEDED), "
    "or `health` found a service down",
    5: "overloaded (RESOURCE_EXHAUSTED): try again later",
    6: "a workflow ended FAILED, CANCELLED or DEADLINE_EXCEEDED; in `batch`, any item failed",
    7: "not allowed (UNAUTHENTICATED, PERMISSION_DENIED): check the token",
    8: "not implemented by this server (UNIMPLEMENTED)",
    130: "interrupted (Ctrl-C)",
}
BAD_INPUT, UNAVAILABLE, FAILED = 2, 4, 6
EPILOG = "Exit codes: " + "; ".join(f"{code} {meaning}" for code, meaning in EXIT_CODES.items())

app = typer.Typer(
    help="The aiorch suite from a shell: classify, analyze, embed, index and search documents, "
    "chat over them, workflows, operations.",
    epilog=EPILOG,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
workflow_app = typer.Typer(help="Run, start, follow and cancel workflows.", no_args_is_help=True)
app.add_typer(workflow_app, name="workflow")
sessions_app = typer.Typer(help="List, show and delete your chat sessions.", no_args_is_help=True)
app.add_typer(sessions_app, name="sessions")


@dataclass
class Options:
    endpoint: str | None = None
    token: str | None = None
    timeout: float | None = None
    config: Path | None = None
    tls: bool = False
    color: bool | None = None
    json: bool = False

    def client(self) -> Client:
        from aiorch_client.config import ClientConfig

        config = ClientConfig.load(
            self.endpoint, token=self.token, timeout=self.timeout, path=self.config
        )
        # A person at a shell wants "unavailable" at once, not after the whole deadline.
        return Client(
            config=config,
            credentials=grpc.ssl_channel_credentials() if self.tls else None,
            wait_for_ready=False,
        )


OPTIONS = Options()
out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON (one object) for scripts.")]


@app.callback()
def main_options(
    endpoint: Annotated[
        str | None,
        typer.Option(
            "--endpoint",
            "-e",
            help="host:port of the suite (every service), else AIORCH_ENDPOINT, the config "
            "file, or the local defaults.",
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(help="Bearer token, else AIORCH_TOKEN or the config file's `token`."),
    ] = None,
    timeout: Annotated[
        float | None, typer.Option(help="Deadline of each call in seconds (default 30).")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="Config file (TOML), else AIORCH_CONFIG or ~/.config/aiorch/config.toml."
        ),
    ] = None,
    tls: Annotated[bool, typer.Option(help="Connect with TLS (system roots).")] = False,
    color: Annotated[
        bool | None,
        typer.Option("--color/--no-color", help="Force colours on or off (default: a terminal)."),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="JSON output for every command.")] = False,
) -> None:
    global OPTIONS, out, err
    OPTIONS = Options(endpoint, token, timeout, config, tls, color, json_)
    if color is not None:
        out = Console(highlight=False, force_terminal=color, no_color=not color)
        err = Console(stderr=True, highlight=False, force_terminal=color, no_color=not color)


# Output.


def as_dict(message: Message) -> dict:
    """The message as the gateway prints it: proto field names, enums by name, every field."""
    return json_format.MessageToDict(
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


def print_json(value) -> None:
    if isinstance(value, Message):
        value = as_dict(value)
    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def fail(code: int, message: str, details: dict | None = None) -> NoReturn:
    if OPTIONS.json:
        sys.stderr.write(json.dumps({"error": message, "exit_code": code, **(details or {})}))
        sys.stderr.write("\n")
    else:
        err.print(f"[bold red]error:[/] {message}", markup=True)
        for name, why in (details or {}).get("field_violations", {}).items():
            if f"{name}: {why}" not in message:
                err.print(f"  {name}: {why}", markup=False)
    raise typer.Exit(code)


@contextlib.contextmanager
def handled() -> Iterator[None]:
    """Turns the client's errors into messages and exit codes."""
    try:
        yield
    except WorkflowFailed as error:
        if OPTIONS.json:
            print_json(error.workflow)
        else:
            show_workflow(error.workflow)
        fail(error.exit_code, str(error))
    except AiorchError as error:
        details = {"code": error.code.name, "message": error.message}
        if error.field_violations:
            details["field_violations"] = error.field_violations
        if error.retry_after is not None:
            details["retry_after"] = error.retry_after
        fail(error.exit_code, str(error), details)
    except (transcripts.TranscriptError, json_format.ParseError, ValueError) as error:
        fail(BAD_INPUT, str(error))
    except OSError as error:
        fail(BAD_INPUT, f"{error.strerror or error}: {error.filename or ''}".rstrip(": "))
    except KeyboardInterrupt:
        raise typer.Exit(130) from None


def percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def enum_name(enum, value: int, prefix: str) -> str:
    return enum.Name(value).removeprefix(prefix).lower()


STATUS_STYLE = {
    "succeeded": "green",
    "partial": "yellow",
    "failed": "red",
    "cancelled": "red",
    "deadline_exceeded": "red",
    "running": "cyan",
    "pending": "cyan",
}


def status_text(workflow: orchestrator.Workflow) -> str:
    name = enum_name(orchestrator.WorkflowStatus, workflow.status, "WORKFLOW_STATUS_")
    return f"[{STATUS_STYLE.get(name, 'white')}]{name}[/]"


def show_classification(reply) -> None:
    table = Table("label", "score", title=f"[bold]{reply.label}[/] ({reply.score:.2f})")
    for score in sorted(reply.scores, key=lambda s: -s.score):
        style = "bold green" if score.label == reply.label else ""
        table.add_row(score.label, f"{score.score:.3f}", style=style)
    out.print(table)
    if reply.keywords:
        out.print("keywords: " + ", ".join(k.text for k in reply.keywords), markup=False)
    if reply.summary:
        out.print(f"summary: {reply.summary}", markup=False)


def show_meeting(reply) -> None:
    if reply.summary:
        out.print(f"[bold]summary[/] {reply.summary}")
    if reply.speakers:
        table = Table("speaker", "turns", "words", "talk", title="speakers")
        for s in reply.speakers:
            table.add_row(s.name, str(s.turns), str(s.words), percent(s.talk_share))
        out.print(table)
    if reply.action_items:
        table = Table("owner", "task", "due", title="action items")
        for item in reply.action_items:
            table.add_row(item.owner or "-", item.task, item.due or "-")
        out.print(table)
    for title, rows in (("decisions", reply.decisions), ("open questions", reply.questions)):
        if rows:
            out.print(f"[bold]{title}[/]")
            for row in rows:
                out.print(f"  - {row.text}", markup=False)
    if reply.topics:
        out.print("[bold]topics[/] " + ", ".join(t.title for t in reply.topics))


def show_workflow(workflow: orchestrator.Workflow) -> None:
    cached = " (cached)" if workflow.cached else ""
    out.print(
        f"workflow [bold]{workflow.workflow_id}[/] {workflow.type}: {status_text(workflow)}{cached}"
    )
    if workflow.steps:
        table = Table("step", "service", "state", "attempts", "error")
        for step in workflow.steps:
            state = enum_name(orchestrator.StepState, step.state, "STEP_STATE_")
            error = step.error.message if step.HasField("error") else ""
            table.add_row(step.name, step.service, state, str(step.attempts), error)
        out.print(table)
    if workflow.HasField("error") and workflow.error.message:
        out.print(f"[red]error:[/] {workflow.error.message}")
    result = workflow.result
    if result.HasField("classification"):
        show_classification(result.classification)
    if result.HasField("meeting"):
        show_meeting(result.meeting)
    if result.HasField("embedding"):
        show_embeddings(result.embedding, [])


def show_embeddings(reply, texts: list[str]) -> None:
    table = Table("#", "text", "tokens", "vector", title=f"{reply.model} ({reply.dimensions} dims)")
    for index, vector in enumerate(reply.embeddings):
        text = texts[index] if index < len(texts) else ""
        head = ", ".join(f"{v:.3f}" for v in vector.values[:4])
        table.add_row(str(index), shorten(text), str(vector.tokens), f"[{head}, …]")
    out.print(table)


def shorten(text: str, width: int = 48) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def read_text(text: str) -> str:
    """`-` reads standard input, as a person piping a file expects."""
    return sys.stdin.read() if text == "-" else text


def split_labels(labels: list[str]) -> list[str]:
    return [name.strip() for value in labels for name in value.split(",") if name.strip()]


# Capabilities.


@app.command()
def classify(
    text: Annotated[str, typer.Argument(help="The text, or - to read standard input.")],
    labels: Annotated[
        list[str],
        typer.Option("--labels", "-l", help="Label names, comma-separated or repeated."),
    ] = [],  # noqa: B006 (typer reads the default, never mutates it)
    taxonomy: Annotated[str, typer.Option(help="A built-in taxonomy instead of labels.")] = "",
    keywords: Annotated[bool, typer.Option(help="Also extract keywords.")] = False,
    summary: Annotated[bool, typer.Option(help="Also summarize.")] = False,
    json_: JsonFlag = False,
) -> None:
    """Scores a text against labels (or a taxonomy) and prints the best one."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.classify(
            read_text(text),
            split_labels(labels),
            taxonomy=taxonomy,
            keywords=keywords,
            summary=summary,
        )
        print_json(reply) if OPTIONS.json else show_classification(reply)


@app.command()
def analyze(
    text: Annotated[
        str | None, typer.Argument(help="Transcript text, or - for standard input.")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="A transcript file: .vtt, .srt, .txt or .json."),
    ] = None,
    date: Annotated[str, typer.Option(help="Meeting date (YYYY-MM-DD) for due dates.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Analyzes a meeting transcript: speakers, action items, decisions, questions, topics."""
    OPTIONS.json |= json_
    if (text is None) == (file is None):
        fail(BAD_INPUT, "give a transcript as text (or -) or as --file, not both")
    with handled(), OPTIONS.client() as aiorch:
        if file is not None:
            reply = aiorch.analyze(file=file, meeting_date=date)
        else:
            request = transcripts.request_from_text(read_text(text or ""), "", date)
            reply = (
                aiorch.analyze(segments=request.segments, meeting_date=date)
                if request.segments
                else aiorch.analyze(request.transcript, meeting_date=date)
            )
        print_json(reply) if OPTIONS.json else show_meeting(reply)


@app.command()
def embed(
    texts: Annotated[list[str], typer.Argument(help="One or more texts (- for stdin lines).")],
    model: Annotated[str, typer.Option(help="Model name (default: the service's).")] = "",
    json_: JsonFlag = False,
) -> None:
    """Embeds texts into vectors (full vectors with --json)."""
    OPTIONS.json |= json_
    if texts == ["-"]:
        texts = [line for line in sys.stdin.read().splitlines() if line.strip()]
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.embed(texts, model=model)
        print_json(reply) if OPTIONS.json else show_embeddings(reply, texts)


# The assistant's knowledge store.


def show_passages(reply) -> None:
    table = Table("score", "source", "passage", title=f"{len(reply.passages)} passages")
    for passage in reply.passages:
        table.add_row(f"{passage.score:.3f}", passage.source_id, shorten(passage.text, 72))
    out.print(table)


@app.command()
def index(
    file: Annotated[Path, typer.Argument(help="A text file (UTF-8) to index.")],
    source_id: Annotated[
        str, typer.Option("--source-id", help="Name to store it under (default: the file name).")
    ] = "",
    title: Annotated[str, typer.Option("--title", help="Title of the document.")] = "",
    json_: JsonFlag = False,
) -> None:
    """Indexes a text file for search, replacing what its source id held before."""
    OPTIONS.json |= json_
    with handled():
        text = file.read_text(encoding="utf-8")
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.index_document(source_id or file.name, text, title=title)
        if OPTIONS.json:
            print_json(reply)
        else:
            out.print(
                f"indexed {reply.source_id}: {len(reply.chunks)} chunks "
                f"({reply.usage.input_tokens} tokens, {reply.model})"
            )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for, or - to read standard input.")],
    top_k: Annotated[int, typer.Option("--top-k", help="Passages at most (default 10).")] = 0,
    sources: Annotated[
        list[str], typer.Option("--source", help="Only this source id (repeatable).")
    ] = [],  # noqa: B006 (typer reads the default, never mutates it)
    json_: JsonFlag = False,
) -> None:
    """Finds the indexed passages closest in meaning to the query, best first."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.search(read_text(query), top_k=top_k, source_ids=sources)
        print_json(reply) if OPTIONS.json else show_passages(reply)


@app.command("delete-document")
def delete_document(
    source_id: Annotated[str, typer.Argument(help="The source id it was indexed under.")],
    json_: JsonFlag = False,
) -> None:
    """Deletes an indexed document and its chunks (exit 3 if there is none)."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.delete_document(source_id)
        if OPTIONS.json:
            print_json(reply)
        else:
            out.print(f"deleted {source_id}: {reply.chunks_deleted} chunks")


# Chat over the caller's documents, in sessions.


def show_citations(answer: assistant.ChatResponse) -> None:
    if not answer.citations:
        return
    table = Table("n", "source", "score", "passage", title="citations")
    for number, citation in enumerate(answer.citations, 1):
        source = citation.source_id + (f" ({citation.title})" if citation.title else "")
        table.add_row(f"[{number}]", source, f"{citation.score:.3f}", shorten(citation.passage, 72))
    out.print(table, markup=False)


@app.command()
def chat(
    message: Annotated[str, typer.Argument(help="The question, or - to read standard input.")],
    session: Annotated[
        str, typer.Option("--session", "-s", help="Continue this session (default: a new one).")
    ] = "",
    top_k: Annotated[int, typer.Option("--top-k", help="Passages at most (default 4).")] = 0,
    sources: Annotated[
        list[str], typer.Option("--source", help="Only this source id (repeatable).")
    ] = [],  # noqa: B006 (typer reads the default, never mutates it)
    json_: Annotated[
        bool,
        typer.Option(
            "--json", help='One JSON object a line: {"delta": ...} pieces, then {"answer": ...}.'
        ),
    ] = False,
) -> None:
    """Answers a question from your indexed documents, streamed as it is written.

    Then prints the passages the answer cites ([1] is the first) and the session id to
    continue with --session. A failure mid-answer exits non-zero with its message."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        streamed = False
        try:
            events = aiorch.stream_chat(
                read_text(message), session or None, top_k=top_k, source_ids=sources
            )
            for event in events:
                if event.answer is not None:
                    answer = event.answer
                elif OPTIONS.json:
                    print_json({"delta": event.delta})
                else:
                    sys.stdout.write(event.delta)
                    sys.stdout.flush()
                    streamed = True
        finally:
            if streamed:
                sys.stdout.write("\n")  # a failure's message starts on a line of its own
        if OPTIONS.json:
            print_json({"answer": as_dict(answer)})
            return
        if not streamed:
            out.print(answer.answer, markup=False)
        show_citations(answer)
        usage = answer.usage
        out.print(
            f"session {answer.session_id} ({answer.model}, {usage.input_tokens} tokens in, "
            f"{usage.output_tokens} out)",
            markup=False,
        )
        out.print(f'continue: aiorch chat --session {answer.session_id} "..."', soft_wrap=True)


SessionArg = Annotated[str, typer.Argument(help="The session's id.")]


def when(timestamp) -> str:
    return timestamp.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")


@sessions_app.command("list")
def sessions_list(
    limit: Annotated[int, typer.Option(min=0, help="Sessions at most (default 50).")] = 0,
    json_: JsonFlag = False,
) -> None:
    """Your chat sessions, most recently used first."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        found = aiorch.list_sessions(page_size=limit)
    if OPTIONS.json:
        print_json({"sessions": [as_dict(s) for s in found]})
        return
    if not found:
        out.print("no sessions")
        return
    table = Table("session", "title", "turns", "updated")
    for s in found:
        table.add_row(s.session_id, shorten(s.title), str(s.turns), when(s.updated_at))
    out.print(table, markup=False)


@sessions_app.command("show")
def sessions_show(session_id: SessionArg, json_: JsonFlag = False) -> None:
    """A session's history, oldest turn first, with the passages each answer cited."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.get_session(session_id)
    if OPTIONS.json:
        print_json(reply)
        return
    s = reply.session
    out.print(f"session [bold]{s.session_id}[/]: ", end="")
    out.print(f"{s.title} ({s.turns} turns, updated {when(s.updated_at)})", markup=False)
    for turn in reply.turns:
        speaker = "you" if turn.role == assistant.ROLE_USER else "assistant"
        out.print(f"\n[bold]{speaker}[/] [dim]{when(turn.created_at)}[/]")
        out.print(turn.text, markup=False)
        for number, c in enumerate(turn.citations, 1):
            out.print(f"  [{number}] {c.source_id} ({c.score:.3f})", markup=False)


@sessions_app.command("delete")
def sessions_delete(session_id: SessionArg, json_: JsonFlag = False) -> None:
    """Deletes a session and its history (exit 3 if you have none with this id)."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.delete_session(session_id)
    if OPTIONS.json:
        print_json(reply)
    else:
        out.print(f"deleted session {session_id}: {reply.turns_deleted} turns", markup=False)


# Workflows.


def build_request(
    type_: str,
    text: str,
    labels: list[str],
    taxonomy: str,
    file: Path | None,
    date: str,
    outputs: list[str],
    priority: str,
    timeout: float | None,
    key: str,
    cache: bool | None,
) -> orchestrator.CreateWorkflowRequest:
    return workflow_request(
        type_,
        text=read_text(text),
        labels=split_labels(labels),
        taxonomy=taxonomy,
        transcript_file=file,
        meeting_date=date,
        outputs=split_labels(outputs),
        priority=priority,
        timeout=timeout,
        idempotency_key=key,
        use_cache=cache,
    )


TypeArg = Annotated[
    str, typer.Argument(help="classification, meeting_intelligence, hybrid or embedding.")
]
TextOpt = Annotated[str, typer.Option("--text", "-t", help="Input text (- for stdin).")]
LabelsOpt = Annotated[list[str], typer.Option("--labels", "-l", help="Label names.")]
TaxonomyOpt = Annotated[str, typer.Option(help="A built-in taxonomy.")]
FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="A transcript file.")]
DateOpt = Annotated[str, typer.Option(help="Meeting date (YYYY-MM-DD).")]
OutputsOpt = Annotated[list[str], typer.Option("--output", "-o", help="Outputs to produce.")]
PriorityOpt = Annotated[str, typer.Option(help="low, normal or high.")]
WorkflowTimeoutOpt = Annotated[
    float | None, typer.Option("--workflow-timeout", help="The workflow's own time limit (s).")
]
KeyOpt = Annotated[
    str, typer.Option("--idempotency-key", "-k", help="Same key, same workflow: safe to retry.")
]
CacheOpt = Annotated[
    bool | None, typer.Option("--cache/--no-cache", help="Use the result cache (default: yes).")
]


@workflow_app.command("run")
def workflow_run(
    type_: TypeArg,
    text: TextOpt = "",
    labels: LabelsOpt = [],  # noqa: B006
    taxonomy: TaxonomyOpt = "",
    file: FileOpt = None,
    date: DateOpt = "",
    outputs: OutputsOpt = [],  # noqa: B006
    priority: PriorityOpt = "normal",
    workflow_timeout: WorkflowTimeoutOpt = None,
    key: KeyOpt = "",
    cache: CacheOpt = None,
    json_: JsonFlag = False,
) -> None:
    """Runs a workflow to its end and prints it (exit 6 if it failed)."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        request = build_request(
            type_, text, labels, taxonomy, file, date, outputs, priority, workflow_timeout,
            key, cache,
        )  # fmt: skip
        workflow = aiorch.run(request)
        print_json(workflow) if OPTIONS.json else show_workflow(workflow)


@workflow_app.command("start")
def workflow_start(
    type_: TypeArg,
    text: TextOpt = "",
    labels: LabelsOpt = [],  # noqa: B006
    taxonomy: TaxonomyOpt = "",
    file: FileOpt = None,
    date: DateOpt = "",
    outputs: OutputsOpt = [],  # noqa: B006
    priority: PriorityOpt = "normal",
    workflow_timeout: WorkflowTimeoutOpt = None,
    key: KeyOpt = "",
    cache: CacheOpt = None,
    json_: JsonFlag = False,
) -> None:
    """Starts a workflow and prints its id at once (follow it with `watch` or `status`)."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        request = build_request(
            type_, text, labels, taxonomy, file, date, outputs, priority, workflow_timeout,
            key, cache,
        )  # fmt: skip
        workflow = aiorch.start(request)
        if OPTIONS.json:
            print_json(workflow)
        else:
            # The id alone on stdout, so `id=$(aiorch workflow start ...)` works.
            sys.stdout.write(workflow.workflow_id + "\n")


IdArg = Annotated[str, typer.Argument(help="The workflow's id.")]


@workflow_app.command("status")
def workflow_status(workflow_id: IdArg, json_: JsonFlag = False) -> None:
    """Prints a workflow as it is now: status, steps, result, errors."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        workflow = aiorch.get(workflow_id)
        print_json(workflow) if OPTIONS.json else show_workflow(workflow)


@workflow_app.command("watch")
def workflow_watch(workflow_id: IdArg, json_: JsonFlag = False) -> None:
    """Prints the workflow's step events as they happen until it ends (exit 6 if failed)."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        last = None
        for event in aiorch.watch(workflow_id):
            if OPTIONS.json:
                print_json(event)  # one JSON object per line, as the gateway streams them
            elif event.step:
                state = enum_name(orchestrator.StepState, event.step_state, "STEP_STATE_")
                stamp = event.time.ToDatetime().strftime("%H:%M:%S.%f")[:-3]
                out.print(f"{stamp} {event.step}: {state}", markup=False)
            if event.HasField("workflow"):
                last = event.workflow
        last = last if last is not None and last.status in FINISHED else aiorch.get(workflow_id)
        if not OPTIONS.json:
            show_workflow(last)
        if last.status not in (
            orchestrator.WORKFLOW_STATUS_SUCCEEDED,
            orchestrator.WORKFLOW_STATUS_PARTIAL,
        ):
            raise typer.Exit(FAILED)


@workflow_app.command("cancel")
def workflow_cancel(workflow_id: IdArg, json_: JsonFlag = False) -> None:
    """Cancels a workflow and its calls in flight; prints where it stopped."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        workflow = aiorch.cancel(workflow_id)
        print_json(workflow) if OPTIONS.json else show_workflow(workflow)


@workflow_app.command("types")
def workflow_types(json_: JsonFlag = False) -> None:
    """Lists the workflow types, their steps and outputs."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        types = aiorch.workflow_types()
        if OPTIONS.json:
            print_json({"types": [as_dict(t) for t in types]})
            return
        table = Table("type", "steps", "outputs", "description")
        for t in types:
            steps = ", ".join(s.name for s in t.steps)
            table.add_row(t.name, steps, ", ".join(t.outputs), t.description)
        out.print(table)


# Batch.


@dataclass
class BatchItem:
    line: int
    key: str
    request: orchestrator.CreateWorkflowRequest


def batch_items(path: Path) -> list[BatchItem]:
    """Every line of a JSONL file as a request with an idempotency key. A line without
    one gets a key from its content (and how many identical lines came before), so a
    rerun of the same file asks for the same workflows and the server runs none twice."""
    items: list[BatchItem] = []
    seen: Counter[str] = Counter()
    with path.open(encoding="utf-8-sig") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError("expected a JSON object")
                request = workflow_request(data)
            except (ValueError, json_format.ParseError) as error:
                fail(BAD_INPUT, f"{path}:{number}: {error}")
            if not request.idempotency_key:
                canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
                digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
                seen[digest] += 1
                request.idempotency_key = f"batch-{digest}-{seen[digest]}"
            items.append(BatchItem(number, request.idempotency_key, request))
    return items


def done_keys(path: Path) -> set[str]:
    """Keys of items a previous run finished successfully (failed ones run again)."""
    if not path.is_file():
        return set()
    keys: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short when that run was killed
        if isinstance(record, dict) and record.get("ok"):
            keys.add(str(record.get("idempotency_key")))
    return keys


@app.command()
def batch(
    file: Annotated[
        Path, typer.Argument(help="JSONL: one CreateWorkflow request (gateway JSON) a line.")
    ],
    results: Annotated[
        Path | None,
        typer.Option("--results", "-r", help="Where results go (default FILE.results.jsonl)."),
    ] = None,
    concurrency: Annotated[int, typer.Option("--concurrency", "-c", min=1, max=64)] = 4,
    json_: JsonFlag = False,
) -> None:
    """Runs every workflow of a JSONL file, streaming results to a JSONL file.

    Rerun the same command after an interruption: items already done are skipped, and
    items whose workflow was accepted but not yet written get the same workflow back
    (idempotency keys), never a second run. Exit 6 if any item failed."""
    OPTIONS.json |= json_
    results = results or file.with_name(file.name.removesuffix(".jsonl") + ".results.jsonl")
    with handled():
        items = batch_items(file)
        finished = done_keys(results)
    todo = [item for item in items if item.key not in finished]
    counts = Counter(skipped=len(items) - len(todo))
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[failed]} failed"),
        console=err,
        disable=OPTIONS.json or not err.is_terminal,
    )
    with (
        handled(),
        OPTIONS.client() as aiorch,
        results.open("a", encoding="utf-8") as sink,
        progress,
    ):
        task = progress.add_task("batch", total=len(items), completed=counts["skipped"], failed=0)
        for result in aiorch.batch((item.request for item in todo), concurrency=concurrency):
            item = todo[result.index]
            record = {"line": item.line, "idempotency_key": item.key, "ok": result.ok}
            if result.workflow is not None:
                record["workflow"] = as_dict(result.workflow)
            if result.error is not None:
                error: dict[str, object] = {
                    "code": result.error.code.name,
                    "message": result.error.message,
                }
                if result.error.field_violations:
                    error["field_violations"] = result.error.field_violations
                record["error"] = error
            sink.write(json.dumps(record, ensure_ascii=False) + "\n")
            sink.flush()  # written as each finishes: an interrupted run loses nothing
            counts["ok" if result.ok else "failed"] += 1
            progress.update(task, advance=1, failed=counts["failed"])
    summary = {
        "total": len(items),
        "ok": counts["ok"],
        "failed": counts["failed"],
        "skipped": counts["skipped"],
        "results": str(results),
    }
    if OPTIONS.json:
        print_json(summary)
    else:
        out.print(
            f"{summary['ok']} ok, {summary['failed']} failed, {summary['skipped']} already "
            f"done (of {summary['total']}); results in {results}",
            markup=False,
        )
    if counts["failed"]:
        raise typer.Exit(FAILED)


# Operations.


@app.command()
def health(json_: JsonFlag = False) -> None:
    """Every service as the orchestrator sees it (exit 4 if any is not serving)."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.health()
    if OPTIONS.json:
        print_json(reply)
    else:
        table = Table("service", "serving", "latency", "breaker", "error")
        for s in reply.services:
            serving = "[green]yes[/]" if s.serving else "[red]no[/]"
            breaker = enum_name(orchestrator.BreakerState, s.breaker_state, "BREAKER_STATE_")
            table.add_row(s.name, serving, f"{s.latency_ms:.1f} ms", breaker, s.error)
        out.print(table)
    if not all(s.serving for s in reply.services):
        raise typer.Exit(UNAVAILABLE)


def metrics_table(sample: monitor.MetricsSample) -> Table:
    when = sample.time.ToDatetime().strftime("%H:%M:%S") if sample.HasField("time") else ""
    table = Table("metric", "value", "unit", title=f"metrics {when}")
    for metric in sample.metrics:
        table.add_row(metric.name, f"{metric.value:,.2f}", metric.unit)
    return table


@app.command()
def metrics(
    names: Annotated[
        list[str] | None, typer.Argument(help="Only these metrics (default: all).")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="A live table until Ctrl-C.")
    ] = False,
    count: Annotated[
        int, typer.Option(min=0, help="With --watch: stop after this many samples (0: never).")
    ] = 0,
    json_: JsonFlag = False,
) -> None:
    """The host's and services' current metrics; --watch follows them live."""
    OPTIONS.json |= json_
    wanted = set(names or ())

    def only(sample: monitor.MetricsSample) -> monitor.MetricsSample:
        if wanted:
            kept = [m for m in sample.metrics if m.name in wanted]
            del sample.metrics[:]
            sample.metrics.extend(kept)
        return sample

    with handled(), OPTIONS.client() as aiorch:
        if not watch:
            sample = only(aiorch.metrics())
            print_json(sample) if OPTIONS.json else out.print(metrics_table(sample))
            return
        seen = 0
        live = Live(console=out, auto_refresh=False) if not OPTIONS.json else None
        with live or contextlib.nullcontext():
            for sample in aiorch.watch_metrics(sorted(wanted)):
                sample = only(sample)
                if live is None:
                    print_json(sample)  # newline-delimited JSON, one sample a line
                else:
                    live.update(metrics_table(sample), refresh=True)
                seen += 1
                if count and seen >= count:
                    break


@app.command()
def alerts(
    all_: Annotated[bool, typer.Option("--all", help="Also the resolved ones.")] = False,
    json_: JsonFlag = False,
) -> None:
    """Alerts the monitor has raised (active; --all adds resolved)."""
    OPTIONS.json |= json_
    with handled(), OPTIONS.client() as aiorch:
        reply = aiorch.alerts(include_resolved=all_)
    if OPTIONS.json:
        print_json(reply)
        return
    rows = [(a, "active") for a in reply.active] + [(a, "resolved") for a in reply.resolved]
    if not rows:
        out.print("no alerts")
        return
    table = Table("severity", "metric", "value", "threshold", "since", "state", "message")
    for alert, state in rows:
        severity = enum_name(common.Severity, alert.severity, "SEVERITY_")
        style = {"critical": "red", "warning": "yellow"}.get(severity, "")
        since = alert.fired_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S")
        table.add_row(
            f"[{style}]{severity}[/]" if style else severity,
            alert.metric,
            f"{alert.value:.2f}",
            f"{alert.threshold:.2f}",
            since,
            state,
            alert.message,
        )
    out.print(table)


def main() -> None:
    app()


if __name__ == "__main__":
    main()

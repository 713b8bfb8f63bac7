"""The `aiorch` command line against an in-process gRPC server: what it sends (the token),
how it reads its input, and the exit code of each kind of failure."""

from __future__ import annotations

import json
import socket
from concurrent import futures

import grpc
import pytest
from aiorch_client import cli
from aiorch_client._proto.aiorch.v1 import (
    classifier_pb2,
    classifier_pb2_grpc,
    orchestrator_pb2_grpc,
)
from aiorch_client._proto.aiorch.v1 import orchestrator_pb2 as pb
from typer.testing import CliRunner


def free_addr() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


class Classifier(classifier_pb2_grpc.ClassifierServiceServicer):
    """Answers with the label `authorization` names, so a test sees what was sent."""

    def Classify(self, request, context):
        sent = dict(context.invocation_metadata()).get("authorization", "none")
        return classifier_pb2.ClassifyResponse(
            label=sent,
            score=1.0,
            scores=[classifier_pb2.LabelScore(label=sent, score=1.0)],
        )


class Orchestrator(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def GetWorkflow(self, request, context):
        context.abort(grpc.StatusCode.NOT_FOUND, f"no workflow {request.workflow_id}")

    def CreateWorkflow(self, request, context):
        # A workflow whose only step failed: the caller must hear it failed.
        return pb.CreateWorkflowResponse(
            workflow=pb.Workflow(
                workflow_id="w-1",
                type=request.type,
                status=pb.WORKFLOW_STATUS_FAILED,
                steps=[pb.Step(name="classify", state=pb.STEP_STATE_FAILED)],
            )
        )


@pytest.fixture(scope="module")
def server():
    addr = free_addr()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    classifier_pb2_grpc.add_ClassifierServiceServicer_to_server(Classifier(), server)
    orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server(Orchestrator(), server)
    server.add_insecure_port(addr)
    server.start()
    yield addr
    server.stop(None)


@pytest.fixture
def aiorch(monkeypatch, tmp_path):
    for name in ("AIORCH_ENDPOINT", "AIORCH_TOKEN", "AIORCH_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIORCH_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()

    def run(*args: str, env: dict | None = None):
        return runner.invoke(cli.app, list(args), env=env, catch_exceptions=False)

    return run


def test_the_token_goes_as_a_bearer_header_from_flag_env_or_file(server, aiorch, tmp_path):
    done = aiorch("-e", server, "--token", "t1", "classify", "--json", "-l", "a", "x")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["label"] == "Bearer t1"
    done = aiorch("-e", server, "classify", "--json", "-l", "a", "x", env={"AIORCH_TOKEN": "t2"})
    assert json.loads(done.stdout)["label"] == "Bearer t2"
    (tmp_path / "c.toml").write_text(f'endpoint = "{server}"\ntoken = "t3"\n')
    done = aiorch("--config", "c.toml", "classify", "--json", "-l", "a", "x")
    assert json.loads(done.stdout)["label"] == "Bearer t3"
    done = aiorch("-e", server, "classify", "--json", "-l", "a", "x")
    assert json.loads(done.stdout)["label"] == "none"


def test_exit_codes(server, aiorch, tmp_path):
    assert aiorch("-e", server, "workflow", "status", "w-9").exit_code == 3
    failed = aiorch("-e", server, "workflow", "run", "classification", "-t", "x", "-l", "a")
    assert failed.exit_code == 6 and "FAILED" in failed.output
    assert aiorch("-e", free_addr(), "classify", "-l", "a", "x").exit_code == 4
    assert aiorch("-e", server, "analyze", "text", "-f", "file.vtt").exit_code == 2
    assert aiorch("-e", server, "analyze", "-f", "missing.vtt").exit_code == 2
    bad_priority = ("workflow", "run", "classification", "-t", "x", "--priority", "urgent")
    assert aiorch("-e", server, *bad_priority).exit_code == 2
    assert aiorch("classify").exit_code == 2  # a missing argument, as click says


def test_help_lists_the_exit_codes(aiorch):
    done = aiorch("--help")
    assert done.exit_code == 0
    text = " ".join(done.output.split())
    for code in cli.EXIT_CODES:
        assert f"{code} " in text


def test_batch_keys_are_stable_and_tell_identical_lines_apart(tmp_path):
    line = json.dumps({"type": "embedding", "input": {"text": "same"}})
    keyed = json.dumps({"type": "embedding", "idempotency_key": "mine"})
    (tmp_path / "w.jsonl").write_text(f"{line}\n\n{line}\n{keyed}\n")
    items = cli.batch_items(tmp_path / "w.jsonl")
    assert [item.line for item in items] == [1, 3, 4]
    assert items[0].key != items[1].key
    assert items[2].key == "mine"
    assert [item.key for item in cli.batch_items(tmp_path / "w.jsonl")] == [i.key for i in items]
    assert all(item.request.idempotency_key == item.key for item in items)


def test_done_keys_take_successes_only_and_survive_a_cut_line(tmp_path):
    results = tmp_path / "r.jsonl"
    results.write_text(
        json.dumps({"idempotency_key": "a", "ok": True})
        + "\n"
        + json.dumps({"idempotency_key": "b", "ok": False})
        + '\n{"idempotency_key": "c", "o'
    )
    assert cli.done_keys(results) == {"a"}
    assert cli.done_keys(tmp_path / "none.jsonl") == set()

"""`aiorch chat` against an in-process assistant whose answer breaks off: the pieces already
printed stay, the error follows on a line of its own, and the exit code is the status's."""

from __future__ import annotations

import json
from concurrent import futures

import grpc
import pytest
from aiorch_client import cli
from aiorch_client._proto.aiorch.v1 import assistant_pb2 as pb
from aiorch_client._proto.aiorch.v1 import assistant_pb2_grpc
from google.rpc import status_pb2
from grpc_status import rpc_status
from typer.testing import CliRunner


class Assistant(assistant_pb2_grpc.AssistantServiceServicer):
    """Writes two pieces, then loses its model server, as the real one reports it."""

    def StreamChat(self, request, context):
        yield pb.StreamChatResponse(delta="The answer ")
        yield pb.StreamChatResponse(delta="is ")
        status = status_pb2.Status(
            code=grpc.StatusCode.UNAVAILABLE.value[0], message="the model server did not answer"
        )
        yield pb.StreamChatResponse(error=status)
        context.abort_with_status(rpc_status.to_status(status))


@pytest.fixture(scope="module")
def server():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    assistant_pb2_grpc.add_AssistantServiceServicer_to_server(Assistant(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(None)


@pytest.fixture
def aiorch(server, monkeypatch, tmp_path):
    for name in ("AIORCH_ENDPOINT", "AIORCH_TOKEN", "AIORCH_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AIORCH_CONFIG", str(tmp_path / "none.toml"))
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli.app, ["-e", server, *args], catch_exceptions=False)

    return run


def test_a_failure_mid_answer_keeps_the_pieces_and_exits_with_the_status(aiorch):
    done = aiorch("chat", "why?")
    assert done.exit_code == 4
    assert done.stdout == "The answer is \n"
    assert "UNAVAILABLE: the model server did not answer" in done.stderr


def test_with_json_the_pieces_are_lines_and_the_error_goes_to_stderr(aiorch):
    done = aiorch("chat", "--json", "why?")
    assert done.exit_code == 4
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines == [{"delta": "The answer "}, {"delta": "is "}]
    error = json.loads(done.stderr)
    assert (error["code"], error["exit_code"]) == ("UNAVAILABLE", 4)
    assert error["message"] == "the model server did not answer"

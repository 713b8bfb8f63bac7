"""The knowledge store and chat as outside clients reach them: JSON through the real Envoy
to the real assistant process, which embeds through the real embeddings process; chat
streamed as newline-delimited JSON, read line by line as `curl -N` does.

Named to sort before test_gateway.py, whose last test stops the shared suite.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from services.common.settings import PROJECT_ROOT
from tools.ready import wait_serving
from tools.suite import behind_envoy

from .conftest import Suite, free_addr

pytestmark = pytest.mark.e2e

DOCUMENTS = "/v1/assistant/documents"
SEARCH = "/v1/assistant/search"
SESSIONS = "/v1/assistant/sessions"
CHAT_STREAM = "/v1/assistant/chat/stream"
NOTES = (
    "The quarterly review is on 12 March. Carol will present the hiring plan, and the "
    "budget for the new office in Lisbon was approved at 300,000 euros."
)


def test_a_user_indexes_finds_and_deletes_a_document_that_others_never_see(suite):
    owner, other = f"ann-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    indexed = suite.request(
        "POST", DOCUMENTS, {"source_id": "review.txt", "text": NOTES}, user=owner
    )
    assert indexed.status == 200, indexed.body
    assert indexed.body["chunks"][0]["end"] == len(NOTES)

    found = suite.request("POST", SEARCH, {"query": "office budget in Lisbon"}, user=owner)
    assert found.status == 200, found.body
    best = found.body["passages"][0]
    assert best["source_id"] == "review.txt" and "Lisbon" in best["text"]
    assert NOTES[best["start"] : best["end"]] == best["text"]

    hidden = suite.request("POST", SEARCH, {"query": "office budget in Lisbon"}, user=other)
    assert hidden.status == 200 and hidden.body["passages"] == []
    assert suite.request("DELETE", f"{DOCUMENTS}/review.txt", user=other).status == 404

    deleted = suite.request("DELETE", f"{DOCUMENTS}/review.txt", user=owner)
    assert deleted.status == 200 and deleted.body["chunks_deleted"] == 1
    gone = suite.request("POST", SEARCH, {"query": "office budget in Lisbon"}, user=owner)
    assert gone.body["passages"] == []


def test_bad_input_is_a_400_naming_the_field(suite):
    reply = suite.request("POST", SEARCH, {"query": "budget", "top_k": 1000})
    assert reply.status == 400
    assert "top_k" in str(reply.body)


def stream_lines(suite, body: dict, user: str) -> tuple[int, list[dict]]:
    """POSTs to the chat stream and reads its reply a line at a time as it arrives (what
    `curl -N` shows): the status and each line's JSON."""
    request = urllib.request.Request(
        suite.url + CHAT_STREAM,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"content-type": "application/json"} | suite.auth(user),
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, [json.loads(line) for line in reply if line.strip()]
    except urllib.error.HTTPError as error:
        return error.code, [json.loads(error.read())]


def test_a_chat_streams_json_lines_and_its_session_is_listed_and_deleted(suite):
    owner, other = f"ann-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    indexed = suite.request(
        "POST", DOCUMENTS, {"source_id": "review.txt", "text": NOTES}, user=owner
    )
    assert indexed.status == 200, indexed.body

    status, lines = stream_lines(suite, {"message": "How much is the Lisbon office?"}, owner)
    assert status == 200, lines
    *deltas, last = lines
    assert deltas and all(set(line) == {"delta"} for line in deltas)
    answer = last["answer"]
    assert "".join(line["delta"] for line in deltas) == answer["answer"]
    assert "300,000 euros" in answer["answer"]
    assert answer["citations"][0]["source_id"] == "review.txt"
    session_id = answer["session_id"]

    listed = suite.request("GET", SESSIONS, user=owner)
    assert [s["session_id"] for s in listed.body["sessions"]] == [session_id]
    history = suite.request("GET", f"{SESSIONS}/{session_id}", user=owner)
    assert [t["role"] for t in history.body["turns"]] == ["ROLE_USER", "ROLE_ASSISTANT"]
    assert suite.request("GET", f"{SESSIONS}/{session_id}", user=other).status == 404
    assert suite.request("DELETE", f"{SESSIONS}/{session_id}", user=other).status == 404

    deleted = suite.request("DELETE", f"{SESSIONS}/{session_id}", user=owner)
    assert deleted.status == 200 and deleted.body["turns_deleted"] == 2
    assert suite.request("GET", SESSIONS, user=owner).body["sessions"] == []


def test_a_stream_refused_before_it_starts_is_a_400_naming_the_field(suite):
    status, (body,) = stream_lines(suite, {"message": " "}, "ann")
    assert status == 400 and body["code"] == 3
    assert "message" in json.dumps(body["details"])


class _Breaking(BaseHTTPRequestHandler):
    """An OpenAI-compatible chat server that streams one piece, then an error event."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        self.rfile.read(int(self.headers["content-length"]))
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("connection", "close")
        self.end_headers()
        piece = {"choices": [{"index": 0, "delta": {"content": "The answer is "}}]}
        self.wfile.write(f"data: {json.dumps(piece)}\n\n".encode())
        self.wfile.write(b'data: {"error": {"message": "the model crashed"}}\n\n')
        self.wfile.flush()

    def log_message(self, *args):
        pass


@pytest.fixture
def breaking_assistant(tmp_path):
    """The assistant with the openai backend on a model server that fails mid-answer,
    behind an Envoy of its own; the embeddings process beside it."""
    model = ThreadingHTTPServer(("127.0.0.1", 0), _Breaking)
    threading.Thread(target=model.serve_forever, daemon=True).start()
    embeddings_addr = free_addr()
    embeddings = subprocess.Popen(
        [sys.executable, "-m", "services.embeddings"],
        cwd=PROJECT_ROOT,
        env=os.environ
        | {"AIORCH_EMBEDDINGS_ADDR": embeddings_addr, "AIORCH_EMBEDDINGS_METRICS_ADDR": ""},
        stdout=(tmp_path / "embeddings.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    env = {
        "AIORCH_ASSISTANT_ADDR": free_addr(),
        "AIORCH_ASSISTANT_METRICS_ADDR": "",
        "AIORCH_EMBEDDINGS_ADDR": embeddings_addr,
        "AIORCH_ASSISTANT_BACKEND": "openai",
        "OPENAI_BASE_URL": f"http://127.0.0.1:{model.server_port}/v1",
    }
    try:
        asyncio.run(wait_serving(embeddings_addr, 60))
        with behind_envoy(tmp_path, "assistant", env) as fronted:
            yield Suite(fronted.settings, fronted.process, fronted.log)
    finally:
        embeddings.terminate()
        embeddings.wait(20)
        model.shutdown()


def test_a_failure_mid_stream_reaches_curl_as_a_last_error_line(breaking_assistant):
    status, lines = stream_lines(breaking_assistant, {"message": "What is the answer?"}, "ann")
    assert status == 200  # sent with the first line, before the failure
    assert lines[0] == {"delta": "The answer is "}
    error = lines[-1]["error"]
    assert error["code"] == 14 and "model crashed" in error["message"]
    assert not any("answer" in line for line in lines)

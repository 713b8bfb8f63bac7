"""`aiorch chat` and `aiorch sessions` as a person uses them: the installed command against
the real suite through the gateway, over a document this run indexes."""

from __future__ import annotations

import json
import re
import uuid

import pytest

from tests.e2e import test_cli

pytestmark = pytest.mark.e2e

# The same fixtures as the other CLI runs: the installed command with a token for E2E_USER.
token = test_cli.token
aiorch = test_cli.aiorch

BUDGET = (
    "The marketing budget for next year is 2 million dollars. Most of it goes to online "
    "advertising. The finance team approved it on Tuesday."
)
QUESTION = "What is the marketing budget for next year?"


@pytest.fixture
def source(aiorch, tmp_path):
    """A document of this run's own (the suite may be shared), indexed, deleted afterwards."""
    source = f"budget-{uuid.uuid4().hex[:8]}.txt"
    (tmp_path / source).write_text(BUDGET)
    done = aiorch("index", source, "--title", "Budget")
    assert done.returncode == 0, done.stderr
    yield source
    aiorch("delete-document", source)


def test_chat_streams_a_cited_answer_then_sessions_list_show_and_delete_it(aiorch, source):
    done = aiorch("chat", QUESTION, "--source", source)
    assert done.returncode == 0, done.stderr
    answer, *rest = done.stdout.splitlines()
    assert "2 million dollars" in answer and "[1]" in answer  # the streamed text, then a newline
    table = "\n".join(rest)
    assert "citations" in table and source in table and "marketing budget" in table
    found = re.search(r"^session (\w+) .*\ncontinue: aiorch chat --session \1 ", done.stdout, re.M)
    assert found, done.stdout
    session = found[1]

    # --json: a line per piece, then the whole answer, in the session asked for.
    done = aiorch("chat", "--json", "--session", session, "--source", source, "-", stdin=QUESTION)
    assert done.returncode == 0, done.stderr
    *pieces, last = [json.loads(line) for line in done.stdout.splitlines()]
    assert pieces and all(set(p) == {"delta"} for p in pieces)
    reply = last["answer"]
    assert "".join(p["delta"] for p in pieces) == reply["answer"]
    assert reply["session_id"] == session and reply["citations"][0]["source_id"] == source

    listed = aiorch("sessions", "list")
    assert listed.returncode == 0, listed.stderr
    assert session in listed.stdout and QUESTION[:20] in listed.stdout
    sessions = json.loads(aiorch("sessions", "list", "--json").stdout)["sessions"]
    assert next(s for s in sessions if s["session_id"] == session)["turns"] == 4

    shown = aiorch("sessions", "show", session)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.count(QUESTION) == 3  # the title and two messages
    assert "you" in shown.stdout and "assistant" in shown.stdout and source in shown.stdout
    turns = json.loads(aiorch("sessions", "show", "--json", session).stdout)["turns"]
    assert [t["role"] for t in turns] == ["ROLE_USER", "ROLE_ASSISTANT"] * 2

    deleted = aiorch("sessions", "delete", session)
    assert deleted.returncode == 0, deleted.stderr
    assert f"deleted session {session}: 4 turns" in deleted.stdout
    for args in (("sessions", "delete", session), ("sessions", "show", session)):
        gone = aiorch(*args)
        assert gone.returncode == 3 and "NOT_FOUND" in gone.stderr
    gone = aiorch("chat", "--session", session, QUESTION)
    assert gone.returncode == 3 and "NOT_FOUND" in gone.stderr and not gone.stdout


def test_chat_refuses_bad_input_with_exit_2_naming_the_field(aiorch):
    done = aiorch("chat", " ")
    assert done.returncode == 2 and "message" in done.stderr
    done = aiorch("chat", "--json", "--top-k", "99", QUESTION)
    assert done.returncode == 2 and not done.stdout
    assert "top_k" in json.loads(done.stderr)["field_violations"]

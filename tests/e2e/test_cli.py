"""The `aiorch` command line as a person uses it: the installed command, run against the
real suite through the gateway (gRPC passes through Envoy), its output and exit codes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.e2e.conftest import free_addr

pytestmark = pytest.mark.e2e

AIORCH = shutil.which("aiorch", path=str(Path(sys.executable).parent))
VTT = """WEBVTT

00:00:01.000 --> 00:00:05.000
<v Alice>Bob, can you send the invoice to Acme by Friday?

00:00:05.500 --> 00:00:09.000
<v Bob>Sure, I will send it by Friday. We decided to drop the old pricing.
"""


@pytest.fixture(scope="module")
def token(suite) -> str | None:
    """A token the suite's gateway accepts, once it checks them."""
    return suite.token() if hasattr(suite, "token") else None


@pytest.fixture
def aiorch(suite, token, tmp_path):
    """Runs `aiorch ARGS` against the suite; the token comes from the environment."""
    assert AIORCH, "the aiorch command is not installed next to this Python"
    # No user config file and none of the caller's AIORCH_* settings leak in.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIORCH_")}
    env |= {"AIORCH_CONFIG": str(tmp_path / "none.toml"), "COLUMNS": "120"}
    if token:
        env["AIORCH_TOKEN"] = token

    def run(*args: str, endpoint: str | None = suite.settings.gateway_addr, stdin: str = ""):
        command = [AIORCH, *(["--endpoint", endpoint] if endpoint else []), *args]
        return subprocess.run(
            command, env=env, cwd=tmp_path, input=stdin, capture_output=True, text=True,
            timeout=120,
        )  # fmt: skip

    return run


def test_classify_prints_the_best_label_in_a_table(aiorch):
    done = aiorch("classify", "--labels", "finance,sports", "Bob will send the invoice")
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert "finance" in first  # the title names the winner
    assert "sports" in done.stdout
    assert "\x1b[" not in done.stdout  # no colour codes when not on a terminal


def test_classify_json_is_the_gateway_shape(aiorch):
    done = aiorch("classify", "--json", "-l", "finance", "-l", "sports", "-", stdin="The invoice")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert reply["label"] == "finance"
    assert {s["label"] for s in reply["scores"]} == {"finance", "sports"}
    assert reply["usage"]["input_tokens"].isdigit()  # int64 as a string, as Envoy prints


def test_bad_input_exits_2_naming_the_field(aiorch):
    done = aiorch("classify", "no labels and no taxonomy")
    assert done.returncode == 2
    assert "INVALID_ARGUMENT" in done.stderr and "labels" in done.stderr
    done = aiorch("--json", "classify", "no labels")
    assert done.returncode == 2
    assert json.loads(done.stderr)["field_violations"]["labels"]


def test_analyze_a_vtt_file(aiorch, tmp_path):
    (tmp_path / "standup.vtt").write_text(VTT)
    done = aiorch("analyze", "--file", "standup.vtt", "--date", "2026-03-02")
    assert done.returncode == 0, done.stderr
    assert "action items" in done.stdout and "Bob" in done.stdout
    done = aiorch("analyze", "--json", "-f", "standup.vtt", "--date", "2026-03-02")
    reply = json.loads(done.stdout)
    assert {s["name"] for s in reply["speakers"]} == {"Alice", "Bob"}
    assert any(item["owner"] == "Bob" for item in reply["action_items"])


def test_analyze_json_segments_and_unreadable_files(aiorch, tmp_path):
    segments = [{"speaker": "Alice", "text": "Bob will send the invoice by Friday."}]
    (tmp_path / "m.json").write_text(json.dumps({"segments": segments}))
    done = aiorch("analyze", "--json", "-f", "m.json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["speakers"][0]["name"] == "Alice"
    (tmp_path / "bad.json").write_text('[{"speaker": "A"}]')
    done = aiorch("analyze", "-f", "bad.json")
    assert done.returncode == 2 and "segments[0]" in done.stderr
    assert aiorch("analyze", "-f", "missing.vtt").returncode == 2


def test_embed_json_gives_full_vectors(aiorch):
    done = aiorch("embed", "--json", "hello world", "second text")
    assert done.returncode == 0, done.stderr
    reply = json.loads(done.stdout)
    assert len(reply["embeddings"]) == 2
    assert all(len(e["values"]) == reply["dimensions"] > 0 for e in reply["embeddings"])


def test_workflow_start_watch_status_cancel(aiorch, tmp_path):
    (tmp_path / "standup.vtt").write_text(VTT)
    started = aiorch("workflow", "start", "meeting_intelligence", "-f", "standup.vtt")
    assert started.returncode == 0, started.stderr
    workflow_id = started.stdout.strip()
    assert len(workflow_id) == 36  # only the id on stdout, for $(...)
    watched = aiorch("workflow", "watch", workflow_id)
    assert watched.returncode == 0, watched.stderr
    assert "analyze: succeeded" in watched.stdout and "succeeded" in watched.stdout
    status = json.loads(aiorch("workflow", "status", "--json", workflow_id).stdout)
    assert status["status"] == "WORKFLOW_STATUS_SUCCEEDED"
    assert status["result"]["meeting"]["speakers"]
    # Cancelling a finished workflow leaves it as it ended.
    cancelled = aiorch("workflow", "cancel", "--json", workflow_id)
    assert json.loads(cancelled.stdout)["status"] == "WORKFLOW_STATUS_SUCCEEDED"


def test_workflow_run_and_not_found(aiorch):
    done = aiorch(
        "workflow", "run", "classification", "-t", "The match ended 2-1", "-l", "finance,sports"
    )
    assert done.returncode == 0, done.stderr
    assert "succeeded" in done.stdout and "sports" in done.stdout
    missing = aiorch("workflow", "status", "00000000-0000-4000-8000-000000000000")
    assert missing.returncode == 3 and "NOT_FOUND" in missing.stderr


def test_batch_streams_results_and_resumes_by_idempotency_keys(aiorch, tmp_path):
    labels = [{"name": "finance"}, {"name": "sports"}]
    lines = [
        {"type": "classification", "input": {"text": "Bob sends the invoice", "labels": labels}},
        {"type": "classification", "input": {"text": "no labels"}},
        {"type": "embedding", "input": {"text": "embed me"}},
    ]
    (tmp_path / "work.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    first = aiorch("batch", "work.jsonl", "--concurrency", "2")
    assert first.returncode == 6  # one item failed
    assert "2 ok, 1 failed, 0 already done (of 3)" in first.stdout
    results = tmp_path / "work.results.jsonl"
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert sorted(r["line"] for r in records) == [1, 2, 3]
    failed = next(r for r in records if not r["ok"])
    assert failed["line"] == 2 and failed["error"]["code"] == "INVALID_ARGUMENT"
    done = {r["idempotency_key"]: r["workflow"]["workflow_id"] for r in records if r["ok"]}

    # Run again: what succeeded is skipped, only the failed item runs again.
    again = aiorch("batch", "work.jsonl", "--json")
    assert again.returncode == 6
    assert json.loads(again.stdout) == {
        "total": 3, "ok": 0, "failed": 1, "skipped": 2, "results": "work.results.jsonl",
    }  # fmt: skip
    assert len(results.read_text().splitlines()) == 4

    # Results lost (a run killed before writing them): the same keys get the same
    # workflows back from the orchestrator, nothing runs twice.
    results.unlink()
    assert aiorch("batch", "work.jsonl").returncode == 6
    rerun = [json.loads(line) for line in results.read_text().splitlines()]
    assert {r["idempotency_key"]: r["workflow"]["workflow_id"] for r in rerun if r["ok"]} == done


def test_batch_refuses_a_bad_line_before_running_anything(aiorch, tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"type": "classification"}\n{"type": \n')
    done = aiorch("batch", "bad.jsonl")
    assert done.returncode == 2 and "bad.jsonl:2" in done.stderr
    assert not (tmp_path / "bad.results.jsonl").exists()


def test_health_metrics_alerts(aiorch):
    health = aiorch("health")
    assert health.returncode == 0, health.stderr
    for service in ("classifier", "meeting_intel", "embeddings"):
        assert service in health.stdout
    current = json.loads(aiorch("metrics", "--json").stdout)
    assert current["metrics"] and current["time"]
    watched = aiorch("metrics", "--watch", "--count", "2", "--json", "cpu.percent")
    assert watched.returncode == 0, watched.stderr
    samples = [json.loads(line) for line in watched.stdout.splitlines()]
    assert len(samples) == 2
    assert all({m["name"] for m in s["metrics"]} <= {"cpu.percent"} for s in samples)
    table = aiorch("metrics", "--watch", "--count", "1")
    assert table.returncode == 0 and "metric" in table.stdout
    alerts = aiorch("alerts", "--all", "--json")
    assert alerts.returncode == 0, alerts.stderr
    assert set(json.loads(alerts.stdout)) >= {"active", "resolved"}


def test_unreachable_suite_exits_4(aiorch):
    done = aiorch("classify", "-l", "a,b", "text", endpoint=free_addr())
    assert done.returncode == 4 and "UNAVAILABLE" in done.stderr


def test_endpoint_and_token_from_a_config_file(suite, token, tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(
        f'endpoint = "{suite.settings.gateway_addr}"\n' + (f'token = "{token}"\n' if token else "")
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIORCH_")}
    done = subprocess.run(
        [AIORCH, "--config", str(config), "embed", "--json", "from the config file"],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["embeddings"]


def test_without_a_token_the_gateway_refuses_with_exit_7(suite, aiorch, token):
    if token is None:
        pytest.skip("this gateway checks no tokens")
    done = aiorch("--token", "not-a-jwt", "classify", "-l", "a,b", "text")
    assert done.returncode == 7 and "UNAUTHENTICATED" in done.stderr


def test_index_search_delete_document(aiorch, tmp_path):
    # The suite may be shared: a source id of this run's own keeps other runs' documents out.
    source = f"budget-{uuid.uuid4().hex[:8]}.txt"
    (tmp_path / source).write_text(
        "The marketing budget for next year is 2 million dollars. Most of it goes to online "
        "advertising. The finance team approved it on Tuesday."
    )
    done = aiorch("index", source, "--title", "Budget")
    assert done.returncode == 0, done.stderr
    assert f"indexed {source}" in done.stdout
    query = "how much can we spend on ads?"
    done = aiorch("search", query, "--source", source)
    assert done.returncode == 0, done.stderr
    assert source in done.stdout and "marketing budget" in done.stdout  # score, source, passage
    done = aiorch("search", "--json", query, "--top-k", "1", "--source", source)
    (passage,) = json.loads(done.stdout)["passages"]
    assert passage["source_id"] == source and passage["title"] == "Budget"

    done = aiorch("delete-document", source)
    assert done.returncode == 0, done.stderr
    done = aiorch("search", "--json", query, "--source", source)
    assert done.returncode == 0 and json.loads(done.stdout)["passages"] == []
    done = aiorch("delete-document", source)
    assert done.returncode == 3 and "NOT_FOUND" in done.stderr
    assert aiorch("index", "missing.txt").returncode == 2
    assert aiorch("search", "--top-k", "-1", query).returncode == 2

"""Telemetry of the whole suite as `make run` starts it, behind the real Envoy: one JSON
request is one trace at a real OTLP receiver, and every service serves its metrics."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from services.common.settings import PROJECT_ROOT
from tests.otlp_receiver import ReceivedSpan, otlp_receiver
from tools.ready import SERVICES

from .conftest import free_addr, running_suite

pytestmark = pytest.mark.e2e

WORKFLOWS = "/v1/ai-orchestration/workflows"
SERVER = 2  # SPAN_KIND_SERVER
DEPLOY = PROJECT_ROOT / "deploy" / "prometheus"


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """(suite, receiver): the suite exporting its spans, Envoy's included, to a receiver."""
    with otlp_receiver() as (endpoint, receiver), pytest.MonkeyPatch.context() as env:
        # The gateway's config is rendered, and the services started, with these set.
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
        env.setenv("AIORCH_GATEWAY_METRICS_ADDR", free_addr())  # Envoy's stats listener
        with running_suite(tmp_path_factory.mktemp("traced")) as suite:
            yield suite, receiver


def chain(spans: dict[str, ReceivedSpan], leaf: ReceivedSpan) -> list[str]:
    """The services from `leaf` up to the root, each once per stretch."""
    services = []
    span = leaf
    while span is not None:
        if not services or services[-1] != span.service:
            services.append(span.service)
        span = spans.get(span.parent_id)
    return services


def test_a_hybrid_workflow_through_the_gateway_is_one_trace(traced):
    suite, receiver = traced
    request = {
        "type": "hybrid",
        "wait": True,
        "input": {
            "text": "Ann: The board approved the budget.\nBob: I will send the invoice on Friday.",
            "labels": [{"name": "finance"}, {"name": "sports"}],
        },
    }
    reply = suite.request("POST", WORKFLOWS, request)
    assert reply.status == 200, reply.body
    assert reply.body["workflow"]["status"] == "WORKFLOW_STATUS_SUCCEEDED"

    def complete(spans):
        create = [s for s in spans if s.name.endswith("OrchestratorService/CreateWorkflow")]
        # Envoy sends its spans every five seconds.
        return create and {"gateway", "embeddings", "classifier", "meeting_intel"} <= {
            s.service for s in spans if s.trace_id == create[0].trace_id
        }

    received = receiver.wait_for(complete)
    [create] = [s for s in received if s.name.endswith("/CreateWorkflow") and s.kind == SERVER]
    trace = {s.span_id: s for s in received if s.trace_id == create.trace_id}
    # Every service took part in this one trace, the gateway at its root.
    assert {s.service for s in trace.values()} >= {
        "gateway",
        "orchestrator",
        "classifier",
        "meeting_intel",
        "embeddings",
    }
    [root] = [s for s in trace.values() if not s.parent_id]
    assert root.service == "gateway"
    # The classification branch: gateway -> orchestrator -> classifier -> embeddings.
    embeds = [s for s in trace.values() if s.service == "embeddings" and s.kind == SERVER]
    chains = [chain(trace, s) for s in embeds]
    assert ["embeddings", "classifier", "orchestrator", "gateway"] in chains, chains
    assert ["embeddings", "meeting_intel", "orchestrator", "gateway"] in chains, chains
    assert all(s.attributes.get("rpc.grpc.status_code") == 0 for s in embeds)
    # The micro-batch that served those calls is a span of its own (it serves many
    # requests at once), linked to each call it served, this trace's among them.
    batches = [s for s in received if s.name == "embeddings batch"]
    served = {(s.trace_id, s.span_id) for s in embeds}
    assert any(served & set(b.links) for b in batches), batches


def test_every_service_serves_its_rpc_metrics(traced):
    suite, _ = traced
    assert suite.request("GET", f"{WORKFLOWS}/types").status == 200
    for name in ("orchestrator", "classifier", "meeting_intel", "embeddings", "monitor"):
        addr = suite.settings.metrics_addr_of(name)
        with urllib.request.urlopen(f"http://{addr}/metrics", timeout=5) as reply:
            text = reply.read().decode()
        assert "# TYPE grpc_server_handling_seconds histogram" in text, name
    with urllib.request.urlopen(
        f"http://{suite.settings.metrics_addr_of('orchestrator')}/metrics", timeout=5
    ) as reply:
        text = reply.read().decode()
    assert re.search(
        r'grpc_server_handled_total\{grpc_code="OK",grpc_method="ListWorkflowTypes",'
        r'grpc_service="aiorch.v1.OrchestratorService",grpc_type="unary"\} [1-9]',
        text,
    ), text[:2000]


@pytest.fixture(scope="module")
def prometheus(traced, tmp_path_factory):
    """A real Prometheus scraping the suite every second with deploy/prometheus's config,
    its targets moved to the suite's ports; yields a query function."""
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("no prometheus binary: make test installs the Debian package")
        pytest.skip("no prometheus binary (Debian package prometheus)")
    suite, _ = traced
    home = tmp_path_factory.mktemp("prometheus")
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    for job in config["scrape_configs"]:
        name = job["job_name"]
        addr = suite.settings.metrics_addr_of(name)
        job["static_configs"] = [{"targets": [addr]}]
    (home / "prometheus.yml").write_text(yaml.safe_dump(config))
    shutil.copy(DEPLOY / "rules.yml", home / "rules.yml")
    addr = free_addr()
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={home / 'prometheus.yml'}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address={addr}",
        ],
        stdout=(home / "log").open("w"),
        stderr=subprocess.STDOUT,
    )

    def query(expr: str) -> list[dict]:
        url = f"http://{addr}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(url, timeout=5) as reply:
            return json.load(reply)["data"]["result"]

    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://{addr}/-/ready", timeout=1):
                    break
            except OSError:
                assert time.monotonic() < deadline, (home / "log").read_text()[-3000:]
                time.sleep(0.2)
        yield query
    finally:
        process.terminate()
        process.wait(10)


def until_found(query, expr: str, timeout: float = 30.0) -> list[dict]:
    deadline = time.monotonic() + timeout
    while not (result := query(expr)):
        assert time.monotonic() < deadline, f"Prometheus never had {expr}"
        time.sleep(0.5)
    return result


def test_prometheus_scrapes_every_service_and_the_gateway_after_real_load(traced, prometheus):
    suite, _ = traced
    for text in ("The invoice is due on Friday.", "The match ended in a draw."):
        request = {
            "type": "classification",
            "wait": True,
            "input": {"text": text, "labels": [{"name": "finance"}, {"name": "sports"}]},
        }
        assert suite.request("POST", WORKFLOWS, request).status == 200
    assert suite.request("POST", WORKFLOWS, {"type": "no such type"}).status == 400
    jobs = {*SERVICES, "gateway"}
    up = until_found(prometheus, "up == 1")
    deadline = time.monotonic() + 30
    while {r["metric"]["job"] for r in up} != jobs:
        assert time.monotonic() < deadline, up
        time.sleep(0.5)
        up = prometheus("up == 1")
    created = until_found(
        prometheus,
        'sum by (grpc_code) (grpc_server_handled_total{job="orchestrator",'
        'grpc_method="CreateWorkflow"})',
    )
    codes = {r["metric"]["grpc_code"]: float(r["value"][1]) for r in created}
    assert codes.get("OK", 0) >= 2 and codes.get("INVALID_ARGUMENT", 0) >= 1, codes
    # The calls between services, as the classifier saw its calls to embeddings.
    until_found(prometheus, 'grpc_client_handled_total{job="classifier",grpc_method="Embed"}')
    until_found(prometheus, 'aiorch_orchestrator_workflows_total{type="classification"}')
    # Each workflow's wait in its queue, as a histogram per priority.
    until_found(prometheus, 'aiorch_orchestrator_queue_wait_seconds_count{priority="normal"} > 0')
    until_found(prometheus, 'aiorch:grpc_server_latency_seconds:p95_1m{job="orchestrator"}')
    until_found(prometheus, "aiorch_embeddings_batch_texts_count > 0")
    # Envoy's own stats (through its stats listener), and the recording rules of
    # deploy/prometheus/rules.yml.
    until_found(prometheus, 'envoy_http_downstream_rq_xx{envoy_response_code_class="2"} > 0')
    until_found(prometheus, 'aiorch:grpc_server_requests:rate1m{job="orchestrator"}')

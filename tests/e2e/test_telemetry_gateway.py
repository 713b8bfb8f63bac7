"""Telemetry of the whole suite as `make run` starts it, behind the real Envoy: one JSON
request is one trace at a real OTLP receiver, and every service serves its metrics."""

from __future__ import annotations

import re
import urllib.request

import pytest

from tests.otlp_receiver import ReceivedSpan, otlp_receiver

from .conftest import running_suite

pytestmark = pytest.mark.e2e

WORKFLOWS = "/v1/ai-orchestration/workflows"
SERVER = 2  # SPAN_KIND_SERVER


@pytest.fixture(scope="module")
def traced(tmp_path_factory):
    """(suite, receiver): the suite exporting its spans, Envoy's included, to a receiver."""
    with otlp_receiver() as (endpoint, receiver), pytest.MonkeyPatch.context() as env:
        # The gateway's config is rendered, and the services started, with these set.
        env.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        env.setenv("OTEL_BSP_SCHEDULE_DELAY", "200")
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

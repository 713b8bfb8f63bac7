"""deploy/'s observability: every pod is scraped where it serves its metrics, Prometheus
accepts the configs and rules, and the dashboard asks only for metrics that exist."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from prometheus_client import REGISTRY

import services.common.metrics
import services.orchestrator.metrics  # noqa: F401
from services.common.settings import PROJECT_ROOT
from tests.unit.deploy.kustomized import K8S, env, render, server, suite

PROMETHEUS = PROJECT_ROOT / "deploy" / "prometheus"
DASHBOARD = PROJECT_ROOT / "deploy" / "grafana" / "aiorch-dashboard.json"


def test_every_pod_asks_to_be_scraped_on_the_port_its_metrics_are_served(manifests):
    for name, deployment in suite(manifests).items():
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true", name
        port = int(annotations["prometheus.io/port"])
        assert {"name": "metrics", "containerPort": port} in server(deployment)["ports"], name
        # (The gateway's stats listener: tests/unit/deploy/test_gateway_config.py.)
        if name != "gateway":
            listen = env(server(deployment))["AIORCH_METRICS_LISTEN_ADDR"]
            assert listen == f"0.0.0.0:{port}", name


@pytest.mark.parametrize("config", ["prometheus.yml"])
def test_prometheus_accepts_the_config_and_its_rules(config):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("no promtool (Debian package prometheus)")
    # (prometheus-k8s.yml needs Kubernetes discovery, which Debian's build leaves out.)
    result = subprocess.run(
        [promtool, "check", "config", str(PROMETHEUS / config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_dashboard_asks_only_for_metrics_the_suite_or_envoy_serves():
    known = {s.name for family in REGISTRY.collect() for s in family.samples}
    known |= {f.name for f in REGISTRY.collect()}
    known |= {f"{f.name}_total" for f in REGISTRY.collect() if f.type == "counter"}
    known |= {f"{f.name}_bucket" for f in REGISTRY.collect() if f.type == "histogram"}
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    assert len(exprs) >= 10
    for expr in exprs:
        for name in re.findall(r"\b([a-z_]+)(?=[{\[])", expr):
            if not name.startswith("envoy_"):
                assert name in known, (name, expr)


def test_production_traces_one_request_in_a_hundred_at_the_gateway_and_in_every_process():
    sampler = {"OTEL_TRACES_SAMPLER": "parentbased_traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.01"}
    manifests = render("production")
    for name, deployment in suite(manifests).items():
        if name != "gateway":
            given = env(server(deployment), manifests)
            assert {key: given.get(key) for key in sampler} == sampler, name
    lines = (K8S / "overlays" / "production" / "gateway.env").read_text().splitlines()
    gateway = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    assert {key: gateway.get(key) for key in sampler} == sampler

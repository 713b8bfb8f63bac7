"""The gateway's tracing and stats: rendered from the OTLP endpoint and the metrics
address, absent without them, and configs Envoy accepts."""

from __future__ import annotations

import subprocess

import yaml

from gateway.render import render
from services.common.settings import Settings
from tests.unit.gateway.test_render import DESCRIPTOR, ENVOY


def manager_of(listener: dict) -> dict:
    return listener["filter_chains"][0]["filters"][0]["typed_config"]


def manager(config: dict) -> dict:
    [listener] = [x for x in config["static_resources"]["listeners"] if x["name"] == "gateway"]
    return manager_of(listener)


def clusters(config: dict) -> dict[str, dict]:
    return {c["name"]: c for c in config["static_resources"]["clusters"]}


def test_without_an_endpoint_there_is_no_tracing_and_no_collector():
    config = yaml.safe_load(render(Settings(), DESCRIPTOR, otlp=""))
    assert manager(config)["tracing"] is None
    assert "otlp" not in clusters(config)


def test_an_endpoint_makes_the_gateway_trace_to_that_collector():
    config = yaml.safe_load(render(Settings(), DESCRIPTOR, otlp="http://collector.obs:4317"))
    provider = manager(config)["tracing"]["provider"]
    assert provider["name"] == "envoy.tracers.opentelemetry"
    assert provider["typed_config"]["grpc_service"]["envoy_grpc"]["cluster_name"] == "otlp"
    [endpoint] = clusters(config)["otlp"]["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert endpoint["endpoint"]["address"]["socket_address"] == {
        "address": "collector.obs",
        "port_value": 4317,
    }


def test_the_gateway_samples_at_the_ratio_the_services_are_given(monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.05")
    config = yaml.safe_load(render(Settings(), DESCRIPTOR, otlp="http://127.0.0.1:4317"))
    assert manager(config)["tracing"]["random_sampling"] == {"value": 5.0}


def test_envoy_accepts_the_config_with_tracing(tmp_path, monkeypatch):
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.1")
    config = tmp_path / "envoy.yaml"
    config.write_text(render(Settings(), DESCRIPTOR, otlp="http://127.0.0.1:4317"))
    result = subprocess.run(
        [ENVOY, "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_metrics_address_adds_a_listener_for_envoys_prometheus_stats_only():
    config = yaml.safe_load(render(Settings(gateway_metrics_addr="0.0.0.0:9464"), DESCRIPTOR))
    listeners = {x["name"]: x for x in config["static_resources"]["listeners"]}
    stats = listeners["stats"]
    assert stats["address"]["socket_address"] == {"address": "0.0.0.0", "port_value": 9464}
    [host] = manager_of(stats)["route_config"]["virtual_hosts"]
    assert [r["match"] for r in host["routes"]] == [{"path": "/stats/prometheus"}]
    admin = clusters(config)["envoy_admin"]["load_assignment"]["endpoints"][0]["lb_endpoints"]
    assert admin[0]["endpoint"]["address"]["socket_address"]["port_value"] == 9901
    assert "stats" not in {
        x["name"]
        for x in yaml.safe_load(render(Settings(), DESCRIPTOR))["static_resources"]["listeners"]
    }


def test_envoy_accepts_the_config_with_its_stats_listener(tmp_path):
    config = tmp_path / "envoy.yaml"
    config.write_text(render(Settings(gateway_metrics_addr="127.0.0.1:9464"), DESCRIPTOR))
    result = subprocess.run(
        [ENVOY, "--mode", "validate", "-c", str(config), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr

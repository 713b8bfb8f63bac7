"""The Kubernetes manifests as a cluster would receive them: every overlay rendered by
kustomize, checked against the API schemas (offline, kubernetes-validate) and against what
the suite relies on: grpc health probes, non-root read-only containers, limits, and ports
and addresses that agree. Needs no cluster and no network."""

from __future__ import annotations

import re
from pathlib import Path

import kubernetes_validate
import pytest

from services.common.settings import DEFAULT_ADDRS
from tests.unit.deploy.kustomized import (
    GRPC,
    MODULES,
    PROCESSES,
    ROOT,
    containers,
    env,
    labels,
    of_kind,
    pod,
    quantity,
    render,
    server,
    suite,
)

DOCKERFILE = (ROOT / "deploy" / "container" / "Dockerfile").read_text()
# Native grpc probes are GA from 1.27, the oldest version these target; and the newest.
KUBERNETES_VERSIONS = ("1.27", kubernetes_validate.latest_version())


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
        assert set(of_kind(manifests, kind)) >= PROCESSES, kind
    assert set(of_kind(manifests, "ServiceAccount")) == PROCESSES
    for name, deployment in suite(manifests).items():
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


def test_each_orchestrator_replica_leases_as_its_pod_and_drains_within_the_pods_grace(
    manifests,
):
    orchestrator = of_kind(manifests, "Deployment")["orchestrator"]
    settings = env(server(orchestrator), manifests)
    assert settings["AIORCH_ORCHESTRATOR_NODE"] == "fieldRef:metadata.name"
    pause = float(server(orchestrator)["lifecycle"]["preStop"]["exec"]["command"][-1])
    grace = pod(orchestrator)["terminationGracePeriodSeconds"]
    assert pause + float(settings["AIORCH_GRACE_SECONDS"]) + 5 <= grace


def test_every_deployment_is_probed_for_readiness_and_liveness(manifests):
    deployments = of_kind(manifests, "Deployment")
    for name, deployment in deployments.items():
        for container in pod(deployment)["containers"]:
            assert container.get("readinessProbe") and container.get("livenessProbe"), name
    # The gRPC processes answer the standard health protocol on their own port.
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
    for deployment in suite(manifests).values():
        for container in containers(deployment):
            for key, value in env(container, manifests).items():
                # A service's address, or its metrics endpoint's.
                called = re.fullmatch(r"AIORCH_(\w+?)(?:_METRICS)?_ADDR", key)
                if not called or called[1] in ("LISTEN", "METRICS_LISTEN"):
                    continue
                host, port = value.rsplit(":", 1)
                assert host == called[1].lower().replace("_", "-"), key
                assert int(port) in ports[host], key


def test_every_caller_is_given_the_address_of_each_service_it_calls(manifests):
    deployments = of_kind(manifests, "Deployment")
    calls = {
        "orchestrator": {"classifier", "meeting_intel", "embeddings", "monitor"},
        "classifier": {"embeddings"},
        "meeting-intel": {"embeddings"},
        "monitor": {"orchestrator", "classifier", "meeting_intel", "embeddings"},
    }
    for caller, callees in calls.items():
        given = env(server(deployments[caller]), manifests)
        assert {f"AIORCH_{c.upper()}_ADDR" for c in callees} <= set(given), caller


def test_every_container_runs_as_non_root_on_a_read_only_root_without_privileges(manifests):
    (image_uid,) = re.findall(r"^USER (\d+)", DOCKERFILE, re.MULTILINE)
    for name, deployment in of_kind(manifests, "Deployment").items():
        context = pod(deployment)["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] > 0, name
        if name in PROCESSES:
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


def test_every_pod_writes_only_to_empty_dirs_and_reads_config_and_secrets(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        volumes = {v["name"]: v for v in pod(deployment)["volumes"]}
        writable = {
            m["name"]
            for c in containers(deployment)
            for m in c.get("volumeMounts", [])
            if not m.get("readOnly")
        }
        assert all("emptyDir" in volumes[v] for v in writable), name
        assert all({"emptyDir", "secret", "configMap"} & set(v) for v in volumes.values()), name
    for name, deployment in suite(manifests).items():
        mounts = {m["mountPath"] for m in server(deployment)["volumeMounts"]}
        assert "/tmp" in mounts, name


def test_the_stores_and_every_secret_come_from_secrets_never_from_the_manifests(manifests):
    deployments = suite(manifests)
    secret_keys = {}
    for name, deployment in deployments.items():
        for key, value in env(server(deployment), manifests).items():
            if re.search(r"DATABASE_URL|REDIS_URL|_KEY$", key):
                assert value.startswith("secretKeyRef:aiorch"), (name, key)
                secret_keys[key] = value.rsplit("/", 1)[1]
    orchestrator = env(server(deployments["orchestrator"]), manifests)
    monitor = env(server(deployments["monitor"]), manifests)
    for settings in (orchestrator, monitor):
        assert settings["AIORCH_DATABASE_URL"].endswith("/database-url")
    assert orchestrator["AIORCH_REDIS_URL"].endswith("/redis-url")
    classifier = env(server(deployments["classifier"]), manifests)
    assert classifier["AIORCH_REDIS_URL"].endswith("/redis-url")  # shared label sets
    assert monitor["AIORCH_ACTIVITY_KEY"].endswith("/activity-key")
    # Whatever the services keep out of their settings' repr is a secret.
    from tools.settings import SuiteSettings

    hidden = {
        f"AIORCH_{n.upper()}"
        for n, f in SuiteSettings.model_fields.items()
        if not f.repr or "SecretStr" in str(f.annotation)
    }
    hidden = {"OPENAI_API_KEY" if k == "AIORCH_OPENAI_API_KEY" else k for k in hidden}
    given = {k for d in deployments.values() for k in env(server(d), manifests)}
    assert not (hidden & given) - set(secret_keys), "a secret set outside the Secret"
    for configmap in of_kind(manifests, "ConfigMap").values():
        assert not hidden & set(configmap.get("data", {})), configmap["metadata"]["name"]


def test_every_grpc_process_drains_within_its_termination_grace_period(manifests):
    deployments = of_kind(manifests, "Deployment")
    for name in GRPC:
        drain = float(env(server(deployments[name]), manifests)["AIORCH_GRACE_SECONDS"])
        pause = float(server(deployments[name])["lifecycle"]["preStop"]["exec"]["command"][-1])
        assert 0 < pause + drain < pod(deployments[name])["terminationGracePeriodSeconds"], name


def test_a_rollout_starts_a_new_pod_before_it_stops_an_old_one(manifests):
    for name, deployment in suite(manifests).items():
        rolling = deployment["spec"]["strategy"]["rollingUpdate"]
        assert rolling == {"maxSurge": 1, "maxUnavailable": 0}, name


def test_every_process_spreads_its_pods_over_nodes_and_zones(manifests):
    for name, deployment in suite(manifests).items():
        spread = {c["topologyKey"]: c for c in pod(deployment)["topologySpreadConstraints"]}
        assert set(spread) == {"kubernetes.io/hostname", "topology.kubernetes.io/zone"}
        for constraint in spread.values():
            assert constraint["labelSelector"] == {"matchLabels": {"app": name}}, name
            assert constraint["maxSkew"] == 1
            assert constraint["matchLabelKeys"] == ["pod-template-hash"]
        # Two pods of one process never share a node while another node can take one.
        assert spread["kubernetes.io/hostname"]["whenUnsatisfiable"] == "DoNotSchedule"


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
    manifests = render("local")
    for name, deployment in suite(manifests).items():
        assert deployment["spec"]["replicas"] == 1, name
        if name != "gateway":
            for container in containers(deployment):
                assert container["image"] == "aiorch:dev", name
                assert container["imagePullPolicy"] == "IfNotPresent", name
    settings = env(server(suite(manifests)["orchestrator"]), manifests)
    assert settings["AIORCH_ORCHESTRATOR_REPLICAS"] == "1"


def test_local_overlay_brings_its_own_postgres_and_redis_to_the_urls_of_its_secret():
    manifests = render("local")
    deployments = of_kind(manifests, "Deployment")
    services = of_kind(manifests, "Service")
    for store, port in (("postgres", 5432), ("redis", 6379)):
        assert deployments[store]["spec"]["replicas"] == 1
        assert deployments[store]["spec"]["strategy"] == {"type": "Recreate"}
        assert [p["port"] for p in services[store]["spec"]["ports"]] == [port]
    import base64

    (secret,) = [s for n, s in of_kind(manifests, "Secret").items() if n.startswith("aiorch-")]
    data = {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}
    assert data["database-url"] == "postgresql://aiorch@postgres:5432/aiorch"
    assert data["redis-url"] == "redis://redis:6379/0"
    assert len(data["activity-key"]) >= 32
    postgres = env(server(deployments["postgres"]))
    assert (postgres["POSTGRES_USER"], postgres["POSTGRES_DB"]) == ("aiorch", "aiorch")


def test_production_commits_no_secret_and_names_the_two_it_needs():
    manifests = render("production")
    assert not of_kind(manifests, "Secret")
    named = set()
    for deployment in suite(manifests).values():
        for entry in server(deployment).get("env", []):
            if ref := entry.get("valueFrom", {}).get("secretKeyRef"):
                named.add(ref["name"])
        named |= {v["secret"]["secretName"] for v in pod(deployment)["volumes"] if "secret" in v}
    assert named == {"aiorch", "gateway-jwks"}


def test_reflection_is_off_in_every_grpc_process(manifests):
    for name, deployment in suite(manifests).items():
        if name != "gateway":
            assert env(server(deployment), manifests)["AIORCH_REFLECTION"] == "off", name


def test_every_grpc_port_is_one_the_settings_know():
    assert {int(a.rsplit(":", 1)[1]) for a in DEFAULT_ADDRS.values()} == set(GRPC.values())
    assert Path(ROOT / "deploy" / "k8s" / "render_gateway.py").is_file()

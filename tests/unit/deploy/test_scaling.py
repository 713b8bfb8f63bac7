"""What running as replicas asks of the manifests: in production two or more pods of every
process, each Deployment autoscaled and covered by a disruption budget that never lets
its last pod go; and in every overlay, ingress to each pod from its callers alone."""

from __future__ import annotations

import math

from tests.unit.deploy.kustomized import (
    GRPC,
    PROCESSES,
    env,
    generated,
    labels,
    of_kind,
    pod,
    render,
    server,
    suite,
)

# Who calls whom on the gRPC ports (the monitor's calls are its health checks; the gateway
# routes JSON to every service), besides trusted backends labelled aiorch.io/caller.
CALLERS = {
    "orchestrator": {"gateway", "monitor"},
    "classifier": {"gateway", "orchestrator", "monitor"},
    "meeting-intel": {"gateway", "orchestrator", "monitor"},
    "embeddings": {
        "gateway",
        "orchestrator",
        "classifier",
        "meeting-intel",
        "assistant",
        "monitor",
    },
    "monitor": {"gateway", "orchestrator"},
    "assistant": {"gateway", "orchestrator", "monitor"},
}
BACKENDS = {"aiorch.io/caller": "true"}
PROMETHEUS = {"app.kubernetes.io/name": "prometheus"}


def test_production_autoscales_every_deployment_on_cpu_from_two_pods():
    manifests = render("production")
    deployments = suite(manifests)
    autoscalers = of_kind(manifests, "HorizontalPodAutoscaler")
    assert set(autoscalers) == set(deployments) == PROCESSES
    for name, autoscaler in autoscalers.items():
        spec = autoscaler["spec"]
        target = spec["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", name)
        assert 2 <= spec["minReplicas"] < spec["maxReplicas"], name
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu"
        assert metric["resource"]["target"]["type"] == "Utilization"
        # A replica count in the manifest would undo the autoscaler on every apply.
        assert "replicas" not in deployments[name]["spec"], name
        # Utilisation is of the request: without one the autoscaler has nothing to divide.
        assert server(deployments[name])["resources"]["requests"]["cpu"], name


def test_production_tells_the_stateful_processes_how_many_replicas_they_may_be():
    manifests = render("production")
    autoscalers = of_kind(manifests, "HorizontalPodAutoscaler")
    for name in ("orchestrator", "monitor"):
        settings = env(server(suite(manifests)[name]), manifests)
        # Above 1 they refuse a SQLite store; Retry-After divides by the orchestrator's.
        expected = str(autoscalers[name]["spec"]["maxReplicas"])
        assert settings[f"AIORCH_{name.upper()}_REPLICAS"] == expected, name
    settings = generated(manifests, "ConfigMap", "aiorch-settings")["data"]
    assert settings["AIORCH_ORCHESTRATOR_REPLICAS"] != "1"


def allowed_disruptions(budget: dict, pods: int) -> int:
    """How many of `pods` healthy pods the eviction API lets go at once."""
    spec = budget["spec"]
    if "minAvailable" in spec:
        value = spec["minAvailable"]
        floor = math.ceil(pods * int(value[:-1]) / 100) if str(value).endswith("%") else value
        return max(0, pods - floor)
    value = spec["maxUnavailable"]
    return math.ceil(pods * int(value[:-1]) / 100) if str(value).endswith("%") else value


def test_production_budgets_never_evict_a_lone_pod_but_let_drains_proceed():
    manifests = render("production")
    budgets = of_kind(manifests, "PodDisruptionBudget")
    autoscalers = of_kind(manifests, "HorizontalPodAutoscaler")
    assert set(budgets) == PROCESSES
    for name, deployment in suite(manifests).items():
        budget = budgets[name]
        assert budget["spec"]["selector"] == deployment["spec"]["selector"], name
        assert allowed_disruptions(budget, 1) == 0, name
        for pods in range(2, autoscalers[name]["spec"]["maxReplicas"] + 1):
            # A drain moves pods one or more at a time, never half or more of them.
            assert 1 <= allowed_disruptions(budget, pods) <= pods // 2, (name, pods)
        # A pod that is not ready serves nothing: it must not hold up a node drain.
        assert budget["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow", name


def test_the_budget_arithmetic_is_kubernetes_own():
    # minAvailable 50% rounds up (a budget over 3 pods keeps 2); maxUnavailable 1 would
    # let a lone pod go, which is what the budgets above must not do.
    assert allowed_disruptions({"spec": {"minAvailable": "50%"}}, 3) == 1
    assert allowed_disruptions({"spec": {"minAvailable": "50%"}}, 1) == 0
    assert allowed_disruptions({"spec": {"maxUnavailable": 1}}, 1) == 1


def ingress_to(manifests, deployment: dict) -> list[dict]:
    """The ingress rules of every NetworkPolicy selecting the deployment's pods."""
    rules = []
    for policy in of_kind(manifests, "NetworkPolicy").values():
        selector = policy["spec"]["podSelector"]["matchLabels"].items()
        if selector <= labels(deployment).items():
            assert policy["spec"]["policyTypes"] == ["Ingress"]
            rules += policy["spec"]["ingress"]
    return rules


def admitted(manifests, rules: list[dict], port: int) -> tuple[set[str], list[dict]]:
    """Which of the suite's Deployments, and which other peers, the rules let in on `port`."""
    deployments = of_kind(manifests, "Deployment")
    apps, others = set(), []
    for rule in rules:
        if port not in {p["port"] for p in rule.get("ports", [])}:
            continue
        if "from" not in rule:
            others.append({"anyone": True})
            continue
        for peer in rule["from"]:
            match = peer.get("podSelector", {}).get("matchLabels")
            if "namespaceSelector" in peer or match is None:
                others.append(peer)
                continue
            apps |= {n for n, d in deployments.items() if match.items() <= labels(d).items()}
    return apps, others


def test_every_pod_is_isolated_by_a_network_policy(manifests):
    for name, deployment in of_kind(manifests, "Deployment").items():
        assert ingress_to(manifests, deployment), name


def test_each_grpc_port_admits_its_callers_and_labelled_backends_alone(manifests):
    deployments = of_kind(manifests, "Deployment")
    for name, port in GRPC.items():
        rules = ingress_to(manifests, deployments[name])
        apps, others = admitted(manifests, rules, port)
        assert apps == CALLERS[name], name
        assert others == [{"namespaceSelector": {}, "podSelector": {"matchLabels": BACKENDS}}]
        # No rule opens a port it does not name.
        assert all(rule.get("ports") for rule in rules), name


def test_metrics_ports_admit_prometheus_and_the_gateway_its_http_port_to_all(manifests):
    deployments = suite(manifests)
    prometheus = {"namespaceSelector": {}, "podSelector": {"matchLabels": PROMETHEUS}}
    for name, deployment in deployments.items():
        rules = ingress_to(manifests, deployment)
        port = int(deployment["spec"]["template"]["metadata"]["annotations"]["prometheus.io/port"])
        apps, others = admitted(manifests, rules, port)
        assert others == [prometheus], name
        # The monitor reads the services' RPC metrics (not Envoy's) for its API figures.
        assert apps == (set() if name == "gateway" else {"monitor"}), name
        ports = {p["port"] for rule in rules for p in rule["ports"]}
        assert ports == ({GRPC[name], port} if name in GRPC else {8080, port}), name
    _, others = admitted(manifests, ingress_to(manifests, deployments["gateway"]), 8080)
    assert others == [{"anyone": True}]


def test_the_local_stores_admit_only_the_processes_that_keep_state_in_them():
    manifests = render("local")
    deployments = of_kind(manifests, "Deployment")
    for store, port, users in (
        ("postgres", 5432, {"orchestrator", "monitor"}),
        ("redis", 6379, {"orchestrator", "classifier"}),
    ):
        apps, others = admitted(manifests, ingress_to(manifests, deployments[store]), port)
        assert (apps, others) == (users, []), store
    # And the processes that use them are given their URLs.
    for name in ("orchestrator", "monitor"):
        assert "AIORCH_DATABASE_URL" in env(server(deployments[name]), manifests)


def test_the_gateway_is_the_only_pod_without_the_suite_image(manifests):
    for name, deployment in suite(manifests).items():
        images = {c["image"].split(":")[0] for c in pod(deployment)["containers"]}
        assert images == ({"envoyproxy/envoy"} if name == "gateway" else {"aiorch"}), name

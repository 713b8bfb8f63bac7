"""What the gateway's JWT check and rate limits cost on the trivial RPC path.

    python -m bench.gateway_auth [--requests 3000]

One orchestrator, two Envoys in front of it rendered from the same template: the gateway
as shipped (jwt_authn verifying an ES256 token, the route's and the user's token buckets),
and the same config with those two filters taken out. GET /v1/ai-orchestration/workflows/types
(ListWorkflowTypes: no work behind it) goes to each in turn on one keep-alive connection
each, interleaved so both see the same machine; p50 and p90 of each, and what the JWT
check and rate limits add.
"""

from __future__ import annotations

import argparse
import http.client
import tempfile
import time
from pathlib import Path

import yaml

from gateway import tokens
from gateway.render import Edge
from services.common.advice import percentile
from tools.suite import behind_envoy, free_addr

PATH = "/v1/ai-orchestration/workflows/types"
ENVOY_FLAGS = ("--disable-hot-restart", "--concurrency", "1", "-l", "warn")
IDENTITY_FILTERS = ("envoy.filters.http.jwt_authn", "envoy.filters.http.local_ratelimit")


def without_identity(config: str) -> str:
    """The gateway config without jwt_authn and local_ratelimit (filters and per-route
    settings): the baseline, never a way to run the gateway."""
    bootstrap = yaml.safe_load(config)
    for listener in bootstrap["static_resources"]["listeners"]:
        for chain in listener["filter_chains"]:
            for network_filter in chain["filters"]:
                manager = network_filter["typed_config"]
                if "http_filters" not in manager:
                    continue
                manager["http_filters"] = [
                    f for f in manager["http_filters"] if f["name"] not in IDENTITY_FILTERS
                ]
                for host in manager["route_config"]["virtual_hosts"]:
                    for route in host["routes"]:
                        per_filter = route.get("typed_per_filter_config", {})
                        for name in IDENTITY_FILTERS:
                            per_filter.pop(name, None)
    return yaml.safe_dump(bootstrap)


def call(connection: http.client.HTTPConnection, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    connection.request("GET", PATH, headers=headers)
    reply = connection.getresponse()
    reply.read()
    took = time.perf_counter() - started
    if reply.status != 200:
        raise RuntimeError(f"{PATH}: {reply.status}")
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per gateway")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        keys = tokens.write_key_pair(tmp / "keys")
        env = {
            "AIORCH_ORCHESTRATOR_ADDR": free_addr(),
            "AIORCH_ORCHESTRATOR_METRICS_ADDR": "",
            "AIORCH_LOG_LEVEL": "WARNING",
        }
        # Limits far above the rate here: every request is checked, none refused.
        edge = Edge(jwks_file=keys.jwks, user_rps=1_000_000, route_rps=1_000_000)
        variants = {"with": None, "without": without_identity}
        with behind_envoy(
            tmp, "orchestrator", env, edge, variants, ENVOY_FLAGS, otlp=""
        ) as fronted:
            headers = {"authorization": f"Bearer {keys.sign(tokens.claims('bench'))}"}
            connections = {}
            for name, settings in fronted.gateways.items():
                host, port = settings.gateway_addr.rsplit(":", 1)
                connections[name] = http.client.HTTPConnection(host, int(port), timeout=30)
            took: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(200):  # warm-up: connections, caches, the token's first check
                for connection in connections.values():
                    call(connection, headers)
            for i in range(args.requests):
                # Alternate which goes first, so neither always follows the other.
                order = ("with", "without") if i % 2 else ("without", "with")
                for name in order:
                    took[name].append(call(connections[name], headers))
    ms = {name: [t * 1000 for t in values] for name, values in took.items()}
    p50 = {name: percentile(values, 50) for name, values in ms.items()}
    p90 = {name: percentile(values, 90) for name, values in ms.items()}
    print(f"\ngateway: JWT check and rate limits on {PATH}, {args.requests} requests each")
    print(f"{'gateway':<36}{'p50 ms':>10}{'p90 ms':>10}")
    print(f"{'as shipped (jwt_authn + rate limits)':<36}{p50['with']:>10.3f}{p90['with']:>10.3f}")
    print(f"{'without them (baseline)':<36}{p50['without']:>10.3f}{p90['without']:>10.3f}")
    added = p50["with"] - p50["without"]
    print(
        f"added at p50: {added:.3f} ms ({p50['with'] / p50['without']:.2f}x the baseline);"
        " goal: at most 0.3 ms"
    )


if __name__ == "__main__":
    main()

"""Renders the Envoy gateway config from `gateway/envoy.yaml.tmpl` and the AIORCH_* settings.

    python -m gateway.render --descriptor build/aiorch.pb --out build/envoy.yaml

`render(settings, descriptor)` does the same for callers that pick their own ports.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from services.common.settings import DEFAULT_ADDRS, Settings, get_settings
from services.common.telemetry import otlp_endpoint

TEMPLATE = Path(__file__).with_name("envoy.yaml.tmpl")
SANITIZE_LUA = Path(__file__).with_name("sanitize.lua")
TYPE = "type.googleapis.com/envoy."
# The issuer of the development tokens `make token` prints (gateway/tokens.py).
DEV_ISSUER = "aiorch-dev"
AUDIENCE = "aiorch"
# Routes with a rate limit of their own, and the cluster each serves.
RATE_LIMITED = (
    "orchestrator",
    "classifier",
    "meeting_intel",
    "embeddings",
    "monitor",
    "assistant",
    "watch_workflow",
    "watch_metrics",
)


def _env_list(name: str) -> tuple[str, ...]:
    return tuple(v.strip() for v in os.environ.get(name, "").split(",") if v.strip())


@dataclass(frozen=True)
class Edge:
    """What the gateway asks of outside callers: who signs their tokens, the limits, the
    browser origins it serves. `Edge.from_env()` reads the AIORCH_GATEWAY_* variables."""

    # The JWKS file with the token signers' public keys: in Kubernetes a mounted Secret;
    # unset, the development pair of `make run` (made on first use).
    jwks_file: Path | None = None
    issuer: str = DEV_ISSUER
    audiences: tuple[str, ...] = (AUDIENCE,)
    # Requests a second, sustained (bursts of twice that): per verified user and route,
    # and per route for all users together.
    user_rps: int = 50
    route_rps: int = 500
    max_body_bytes: int = 1024 * 1024
    # Envoy's heap, past which it sheds load (overload manager): below the pod's limit.
    max_heap_bytes: int = 256 * 1024 * 1024
    max_json_depth: int = 24
    cors_origins: tuple[str, ...] = ()
    # Proxies in front of the gateway whose X-Forwarded-For it believes (a cloud load
    # balancer: 1); 0 trusts none, the peer is the client.
    trusted_hops: int = 0

    @classmethod
    def from_env(cls) -> Edge:
        env = os.environ.get
        jwks = env("AIORCH_GATEWAY_JWKS_FILE", "")
        return cls(
            jwks_file=Path(jwks) if jwks else None,
            issuer=env("AIORCH_GATEWAY_JWT_ISSUER", DEV_ISSUER),
            audiences=_env_list("AIORCH_GATEWAY_JWT_AUDIENCES") or (AUDIENCE,),
            user_rps=int(env("AIORCH_GATEWAY_USER_RPS", cls.user_rps)),
            route_rps=int(env("AIORCH_GATEWAY_ROUTE_RPS", cls.route_rps)),
            max_body_bytes=int(env("AIORCH_GATEWAY_MAX_BODY_BYTES", cls.max_body_bytes)),
            max_heap_bytes=int(env("AIORCH_GATEWAY_MAX_HEAP_BYTES", cls.max_heap_bytes)),
            cors_origins=_env_list("AIORCH_GATEWAY_CORS_ORIGINS"),
            trusted_hops=int(env("AIORCH_GATEWAY_TRUSTED_HOPS", cls.trusted_hops)),
        )

    def jwks(self) -> Path:
        """The JWKS file Envoy loads; without one set, the development pair's (made now
        if missing, so a fresh checkout's gateway starts)."""
        if self.jwks_file is not None:
            if not self.jwks_file.is_file():
                raise FileNotFoundError(f"JWKS file {self.jwks_file} does not exist")
            return self.jwks_file.resolve()
        from gateway.tokens import dev_keys  # PyJWT is needed for development keys only

        return dev_keys().jwks.resolve()


def _bucket(rps: int) -> dict:
    return {"max_tokens": 2 * rps, "tokens_per_fill": rps, "fill_interval": "1s"}


def rate_limit(route: str, edge: Edge) -> dict:
    """A route's local rate limit: one token bucket for the route, and one per verified
    user (x-user-id, set by jwt_authn) made as users appear. Over either: 429 with
    Retry-After (the buckets refill every second)."""
    percent = {"numerator": 100, "denominator": "HUNDRED"}
    return {
        "envoy.filters.http.local_ratelimit": {
            "@type": f"{TYPE}extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": f"rate_limit_{route}",
            "token_bucket": _bucket(edge.route_rps),
            "filter_enabled": {
                "default_value": percent,
                "runtime_key": f"gateway.rate_limit.{route}.enabled",
            },
            "filter_enforced": {
                "default_value": percent,
                "runtime_key": f"gateway.rate_limit.{route}.enforced",
            },
            # An empty value: a bucket for each user, up to max_dynamic_descriptors (the
            # least recently used go first).
            "descriptors": [{"entries": [{"key": "user"}], "token_bucket": _bucket(edge.user_rps)}],
            "max_dynamic_descriptors": 10000,
            "rate_limits": [
                {
                    "actions": [
                        {"request_headers": {"header_name": "x-user-id", "descriptor_key": "user"}}
                    ]
                }
            ],
            "response_headers_to_add": [
                {
                    "header": {"key": "retry-after", "value": "1"},
                    "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
                }
            ],
        }
    }


def cors_policy(origins: tuple[str, ...]) -> dict:
    return {
        "@type": f"{TYPE}extensions.filters.http.cors.v3.CorsPolicy",
        "allow_origin_string_match": [{"exact": origin} for origin in origins],
        "allow_methods": "GET, POST, DELETE, OPTIONS",
        "allow_headers": "authorization, content-type, traceparent, tracestate",
        "expose_headers": "retry-after, www-authenticate, grpc-status, grpc-message",
        "max_age": "600",
        "allow_credentials": False,
    }


def split_addr(addr: str) -> tuple[str, int]:
    """`host:port` → (host, port); an IPv6 host comes as `[::1]:50051`."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {addr!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def endpoints(addr: str) -> list[dict]:
    """A cluster's endpoints: one per address of `addr`, which lists replicas as
    host:port,host:port (each a DNS name is resolved too, STRICT_DNS)."""
    found = []
    for one in addr.split(","):
        host, port = split_addr(one.strip())
        found.append(
            {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
        )
    return found


def tracing(endpoint: str) -> tuple[dict | None, dict | None]:
    """The HTTP connection manager's tracing block and the collector's cluster, for a
    plaintext OTLP/gRPC endpoint (http://host:4317); (None, None) when there is none."""
    if not endpoint:
        return None, None
    url = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    host, port = url.hostname or "127.0.0.1", url.port or 4317
    provider = {
        "name": "envoy.tracers.opentelemetry",
        "typed_config": {
            "@type": f"{TYPE}config.trace.v3.OpenTelemetryConfig",
            "grpc_service": {"envoy_grpc": {"cluster_name": "otlp"}, "timeout": "1s"},
            "service_name": os.environ.get("AIORCH_GATEWAY_SERVICE_NAME", "gateway"),
        },
    }
    cluster = _cluster("otlp", host, port, http2=True)
    block = {"provider": provider}
    # The gateway starts the traces, so the services' parent-based samplers follow its
    # decision: give it the ratio the OTEL_TRACES_SAMPLER variables ask of them.
    if os.environ.get("OTEL_TRACES_SAMPLER", "").endswith("traceidratio"):
        ratio = float(os.environ.get("OTEL_TRACES_SAMPLER_ARG") or 1.0)
        block["random_sampling"] = {"value": 100 * min(max(ratio, 0.0), 1.0)}
    return block, cluster


def stats(addr: str, admin: str) -> tuple[dict | None, dict | None]:
    """A listener on `addr` that serves the admin's /stats/prometheus and nothing else,
    and the cluster that reaches the admin; (None, None) when `addr` is empty."""
    if not addr:
        return None, None
    host, port = split_addr(addr)
    admin_host, admin_port = split_addr(admin)
    if admin_host in ("0.0.0.0", "::"):
        admin_host = "127.0.0.1"
    route = {
        "match": {"path": "/stats/prometheus"},
        "route": {"cluster": "envoy_admin", "timeout": "10s"},
    }
    listener = {
        "name": "stats",
        "address": {"socket_address": {"address": host, "port_value": port}},
        "filter_chains": [
            {
                "filters": [
                    {
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": {
                            "@type": f"{TYPE}extensions.filters.network.http_connection_manager"
                            ".v3.HttpConnectionManager",
                            "stat_prefix": "stats",
                            "route_config": {
                                "virtual_hosts": [
                                    {"name": "stats", "domains": ["*"], "routes": [route]}
                                ]
                            },
                            "http_filters": [
                                {
                                    "name": "envoy.filters.http.router",
                                    "typed_config": {
                                        "@type": f"{TYPE}extensions.filters.http.router.v3.Router"
                                    },
                                }
                            ],
                        },
                    }
                ]
            }
        ],
    }
    return listener, _cluster("envoy_admin", admin_host, admin_port, http2=False)


def _cluster(name: str, host: str, port: int, http2: bool) -> dict:
    cluster = {
        "name": name,
        "type": "STRICT_DNS",
        "dns_lookup_family": "V4_PREFERRED",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [
                {
                    "lb_endpoints": [
                        {
                            "endpoint": {
                                "address": {"socket_address": {"address": host, "port_value": port}}
                            }
                        }
                    ]
                }
            ],
        },
    }
    if http2:
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": f"{TYPE}extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return cluster


def render(
    settings: Settings, descriptor: Path, otlp: str | None = None, edge: Edge | None = None
) -> str:
    """The Envoy bootstrap YAML for `settings`, transcoding with the descriptor set at
    `descriptor`, tracing to the OTLP endpoint `otlp` (default: from the OTEL_*
    variables), with the edge rules `edge` (default: from the AIORCH_GATEWAY_*
    variables)."""
    edge = Edge.from_env() if edge is None else edge
    values: dict[str, str] = {}
    for name, addr in {
        "admin": settings.gateway_admin_addr,
        "gateway": settings.gateway_addr,
    }.items():
        host, port = split_addr(addr)
        # A JSON string is a valid YAML scalar, so hosts and paths need no escaping rules
        # of their own ("::1" would otherwise not read as a string).
        values[f"{name}_host"] = json.dumps(host)
        values[f"{name}_port"] = str(port)
    for name in DEFAULT_ADDRS:
        values[f"{name}_endpoints"] = json.dumps(endpoints(settings.addr_of(name)))
    # Envoy resolves a relative path against its own working directory, not ours.
    values["descriptor"] = json.dumps(str(Path(descriptor).resolve()))
    # GET /v1/openapi.json serves the OpenAPI document of this descriptor set, inline.
    from gateway.openapi import document

    values["openapi"] = json.dumps(json.dumps(document(Path(descriptor)), separators=(",", ":")))
    # JSON is YAML: the blocks go in as flow mappings, whatever the indentation around.
    block, cluster = tracing(otlp_endpoint() if otlp is None else otlp)
    values["tracing"] = json.dumps(block)
    values["otlp_cluster"] = f"- {json.dumps(cluster)}" if cluster else ""
    listener, admin = stats(settings.gateway_metrics_addr, settings.gateway_admin_addr)
    values["stats_listener"] = f"- {json.dumps(listener)}" if listener else ""
    values["admin_cluster"] = f"- {json.dumps(admin)}" if admin else ""
    values["jwt_issuer"] = json.dumps(edge.issuer)
    values["jwt_audiences"] = json.dumps(list(edge.audiences))
    values["jwks_file"] = json.dumps(str(edge.jwks()))
    values["cors_policy"] = json.dumps(cors_policy(edge.cors_origins))
    values["max_body_bytes"] = str(edge.max_body_bytes)
    values["max_heap_bytes"] = str(edge.max_heap_bytes)
    values["buffer_limit_bytes"] = str(edge.max_body_bytes + 64 * 1024)
    values["trusted_hops"] = str(edge.trusted_hops)
    # Lua patterns are full of $: one plain replacement, not a Template.
    lua = SANITIZE_LUA.read_text().replace("${max_json_depth}", str(edge.max_json_depth))
    values["sanitize_lua"] = json.dumps(lua)
    for route in RATE_LIMITED:
        values[f"rate_limit_{route}"] = json.dumps(rate_limit(route, edge))
    return Template(TEMPLATE.read_text()).substitute(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--descriptor", type=Path, required=True, help="descriptor set (.pb)")
    parser.add_argument("--out", type=Path, required=True, help="where to write the YAML")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(get_settings(), args.descriptor))


if __name__ == "__main__":
    main()

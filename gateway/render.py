"""Renders the Envoy gateway config from `gateway/envoy.yaml.tmpl` and the AIORCH_* settings.

    python -m gateway.render --descriptor build/aiorch.pb --out build/envoy.yaml

`render(settings, descriptor)` does the same for callers that pick their own ports.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from string import Template
from urllib.parse import urlsplit

from services.common.settings import DEFAULT_ADDRS, Settings, get_settings
from services.common.telemetry import otlp_endpoint

TEMPLATE = Path(__file__).with_name("envoy.yaml.tmpl")
TYPE = "type.googleapis.com/envoy."


def split_addr(addr: str) -> tuple[str, int]:
    """`host:port` → (host, port); an IPv6 host comes as `[::1]:50051`."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {addr!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


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


def render(settings: Settings, descriptor: Path, otlp: str | None = None) -> str:
    """The Envoy bootstrap YAML for `settings`, transcoding with the descriptor set at
    `descriptor`, tracing to the OTLP endpoint `otlp` (default: from the OTEL_*
    variables)."""
    addrs = {
        "admin": settings.gateway_admin_addr,
        "gateway": settings.gateway_addr,
        **{name: settings.addr_of(name) for name in DEFAULT_ADDRS},
    }
    values: dict[str, str] = {}
    for name, addr in addrs.items():
        host, port = split_addr(addr)
        # A JSON string is a valid YAML scalar, so hosts and paths need no escaping rules
        # of their own ("::1" would otherwise not read as a string).
        values[f"{name}_host"] = json.dumps(host)
        values[f"{name}_port"] = str(port)
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

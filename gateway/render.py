"""Renders the Envoy gateway config from `gateway/envoy.yaml.tmpl` and the AIORCH_* settings.

    python -m gateway.render --descriptor build/aiorch.pb --out build/envoy.yaml

`render(settings, descriptor)` does the same for callers that pick their own ports.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from string import Template

from services.common.settings import DEFAULT_ADDRS, Settings, get_settings

TEMPLATE = Path(__file__).with_name("envoy.yaml.tmpl")


def split_addr(addr: str) -> tuple[str, int]:
    """`host:port` → (host, port); an IPv6 host comes as `[::1]:50051`."""
    host, sep, port = addr.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"expected host:port, got {addr!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def render(settings: Settings, descriptor: Path) -> str:
    """The Envoy bootstrap YAML for `settings`, transcoding with the descriptor set at
    `descriptor`."""
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

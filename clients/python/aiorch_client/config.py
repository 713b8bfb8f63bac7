"""Where the suite is and how to call it, from arguments, the environment or a file.

Precedence: explicit arguments, then the environment (`AIORCH_ENDPOINT`, `AIORCH_TOKEN`,
`AIORCH_TIMEOUT`, and the services' own `AIORCH_<SERVICE>_ADDR`), then the config file
(`AIORCH_CONFIG`, default `~/.config/aiorch/config.toml`):

    endpoint = "aiorch.example.com:443"   # one address for every service (e.g. a gateway)
    token = "..."
    timeout = 30
    [addrs]                               # or one address per service
    classifier = "127.0.0.1:50052"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

SERVICES = (
    "orchestrator",
    "classifier",
    "meeting_intel",
    "embeddings",
    "monitor",
    "assistant",
)
# The local gateway (`make run`) for every service: it takes gRPC as well as JSON, with the
# bearer token it verifies. A service's own port trusts the caller named in metadata,
# which only a backend inside the cluster may send (see the README's "Identity").
GATEWAY = "127.0.0.1:8080"
DEFAULT_ADDRS = {service: GATEWAY for service in SERVICES}
DEFAULT_TIMEOUT = 30.0


def config_path() -> Path:
    return Path(os.environ.get("AIORCH_CONFIG", "~/.config/aiorch/config.toml")).expanduser()


@dataclass(frozen=True)
class ClientConfig:
    """Addresses of the services, a bearer token and the default deadline of a call."""

    addrs: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ADDRS))
    token: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def load(
        cls,
        endpoint: str | None = None,
        *,
        addrs: dict[str, str] | None = None,
        token: str | None = None,
        timeout: float | None = None,
        path: Path | None = None,
    ) -> ClientConfig:
        path = path or config_path()
        file = tomllib.loads(path.read_text()) if path.is_file() else {}
        env = os.environ
        env_addrs = {
            name: env[f"AIORCH_{name.upper()}_ADDR"]
            for name in SERVICES
            if env.get(f"AIORCH_{name.upper()}_ADDR")
        }
        # Each layer overrides the one before: one endpoint for all, then per service.
        found = dict(DEFAULT_ADDRS)
        for layer_endpoint, layer_addrs in (
            (file.get("endpoint"), file.get("addrs", {})),
            (env.get("AIORCH_ENDPOINT"), env_addrs),
            (endpoint, addrs or {}),
        ):
            if layer_endpoint:
                found = dict.fromkeys(SERVICES, layer_endpoint)
            found |= {k: v for k, v in layer_addrs.items() if k in SERVICES}
        timeout = timeout or float(env.get("AIORCH_TIMEOUT") or file.get("timeout") or 0)
        return cls(
            addrs=found,
            token=token or env.get("AIORCH_TOKEN") or file.get("token"),
            timeout=timeout or DEFAULT_TIMEOUT,
        )

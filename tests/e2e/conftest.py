"""The whole suite as `make run` starts it: the local Procfile under honcho, with every
address moved to a free port and Envoy on a config rendered for those ports.

Each suite has a signing key pair of its own (made in its temporary folder): Envoy trusts
its JWKS, and `suite.token(sub, roles)` signs tokens with it. `suite.request` sends one
for E2E_USER unless told otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway import tokens
from gateway.render import Edge, render
from services.common.ready import SERVICES, wait_suite
from services.common.settings import PROJECT_ROOT, Settings

BIN = Path(sys.executable).parent
E2E_USER = "e2e-user"
# The shared suites' limits are far above what the tests send, so no test is throttled by
# another's traffic; the rate-limit tests run an Envoy of their own with small ones.
TEST_EDGE = {"user_rps": 5000, "route_rps": 20000}


def free_addr() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Reply:
    status: int
    headers: dict
    body: dict | str


def edge_for(keys: tokens.KeyPair, **changes) -> Edge:
    """The gateway's rules for a test suite: its own keys, the development issuer."""
    return Edge(jwks_file=keys.jwks, **(TEST_EDGE | changes))


@dataclass
class Suite:
    settings: Settings
    honcho: subprocess.Popen
    log: Path
    # None: a gateway rendered with the development keys of `make run`.
    keys: tokens.KeyPair | None = None

    @property
    def url(self) -> str:
        return f"http://{self.settings.gateway_addr}"

    def token(self, sub: str = E2E_USER, roles: tuple[str, ...] = (), **claims) -> str:
        """A token this suite's gateway accepts; `claims` override the standard ones."""
        keys = self.keys or tokens.dev_keys()
        return keys.sign(tokens.claims(sub, roles) | claims)

    def auth(self, sub: str = E2E_USER, roles: tuple[str, ...] = ()) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token(sub, roles)}"}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict | None = None,
        *,
        user: str | None = E2E_USER,
        roles: tuple[str, ...] = (),
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One request through the gateway, with a token for `user` (None: no token)."""
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        data = data.encode() if isinstance(data, str) else data
        sent = {"content-type": "application/json"}
        if user is not None:
            sent |= self.auth(user, roles)
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers=sent | (headers or {})
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as reply:
                status, headers, raw = reply.status, dict(reply.headers), reply.read()
        except urllib.error.HTTPError as error:
            status, headers, raw = error.code, dict(error.headers), error.read()
        try:
            return Reply(status, headers, json.loads(raw))
        except ValueError:
            return Reply(status, headers, raw.decode(errors="replace"))


@contextlib.contextmanager
def running_suite(
    tmp: Path, extra_env: dict[str, str] | None = None, edge_changes: dict | None = None
):
    """The local Procfile under honcho on free ports; `extra_env` reaches every process,
    `edge_changes` change the gateway's rules (gateway.render.Edge)."""
    env = {f"AIORCH_{name.upper()}_ADDR": free_addr() for name in SERVICES}
    env |= {f"AIORCH_{name.upper()}_METRICS_ADDR": free_addr() for name in SERVICES}
    env |= {
        "AIORCH_GATEWAY_ADDR": free_addr(),
        "AIORCH_GATEWAY_ADMIN_ADDR": free_addr(),
        "AIORCH_DATABASE_URL": f"sqlite:///{tmp}/aiorch.db",
        "AIORCH_ENVOY_CONFIG": str(tmp / "envoy.yaml"),
    }
    settings = Settings(**{k.removeprefix("AIORCH_").lower(): v for k, v in env.items()})
    keys = tokens.write_key_pair(tmp / "keys")
    edge = edge_for(keys, **(edge_changes or {}))
    (tmp / "envoy.yaml").write_text(
        render(settings, PROJECT_ROOT / "build" / "aiorch.pb", edge=edge)
    )
    log = tmp / "honcho.log"
    honcho = subprocess.Popen(
        [BIN / "honcho", "--procfile", "deploy/local/Procfile", "--app-root", ".", "start"],
        cwd=PROJECT_ROOT,
        env=os.environ
        | env
        | (extra_env or {})
        | {"PATH": f"{BIN}:{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        asyncio.run(wait_suite(settings, timeout=90))
    except TimeoutError:
        honcho.send_signal(signal.SIGINT)
        honcho.wait(20)
        pytest.fail(f"the suite did not come up:\n{log.read_text()[-4000:]}")
    try:
        yield Suite(settings, honcho, log, keys)
    finally:
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)
            honcho.wait(20)


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    with running_suite(tmp_path_factory.mktemp("suite")) as running:
        yield running

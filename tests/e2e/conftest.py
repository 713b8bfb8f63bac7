"""The whole suite as `make run` starts it: the local Procfile under honcho, with every
address moved to a free port and Envoy on a config rendered for those ports.

Each suite has a signing key pair of its own (made in its temporary folder): Envoy trusts
its JWKS, and `suite.token(sub, roles)` signs tokens with it. `suite.request` sends one
for E2E_USER unless told otherwise.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway import tokens
from gateway.render import Edge
from tools import suite as suites
from tools.settings import SuiteSettings
from tools.suite import free_addr

__all__ = ["E2E_USER", "edge_for", "free_addr", "running_suite"]

BIN = Path(sys.executable).parent
E2E_USER = "e2e-user"
# The shared suites' limits are far above what the tests send, so no test is throttled by
# another's traffic; the rate-limit tests run an Envoy of their own with small ones.
TEST_EDGE = {"user_rps": 5000, "route_rps": 20000}


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
    settings: SuiteSettings
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
    """The suite on free ports (tools/suite.py) with a key pair of its own; `extra_env`
    reaches every process, `edge_changes` change the gateway's rules (gateway.render.Edge)."""
    keys = tokens.write_key_pair(tmp / "keys")
    edge = edge_for(keys, **(edge_changes or {}))
    try:
        with suites.running_suite(tmp, edge, extra_env) as running:
            yield Suite(running.settings, running.honcho, running.log, keys)
    except RuntimeError as error:  # it did not come up: the log says why
        pytest.fail(str(error))


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    with running_suite(tmp_path_factory.mktemp("suite")) as running:
        yield running

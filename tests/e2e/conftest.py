"""The whole suite as `make run` starts it: the local Procfile under honcho, with every
address moved to a free port and Envoy on a config rendered for those ports."""

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

from gateway.render import render
from services.common.ready import SERVICES, wait_suite
from services.common.settings import PROJECT_ROOT, Settings

BIN = Path(sys.executable).parent


def free_addr() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Reply:
    status: int
    headers: dict
    body: dict | str


@dataclass
class Suite:
    settings: Settings
    honcho: subprocess.Popen
    log: Path

    @property
    def url(self) -> str:
        return f"http://{self.settings.gateway_addr}"

    def request(self, method: str, path: str, body: bytes | str | dict | None = None) -> Reply:
        data = json.dumps(body).encode() if isinstance(body, dict) else body
        data = data.encode() if isinstance(data, str) else data
        request = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"content-type": "application/json"},
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
def running_suite(tmp: Path, extra_env: dict[str, str] | None = None):
    """The local Procfile under honcho on free ports; `extra_env` reaches every process."""
    env = {f"AIORCH_{name.upper()}_ADDR": free_addr() for name in SERVICES}
    env |= {f"AIORCH_{name.upper()}_METRICS_ADDR": free_addr() for name in SERVICES}
    env |= {
        "AIORCH_GATEWAY_ADDR": free_addr(),
        "AIORCH_GATEWAY_ADMIN_ADDR": free_addr(),
        "AIORCH_DATABASE_URL": f"sqlite:///{tmp}/aiorch.db",
        "AIORCH_ENVOY_CONFIG": str(tmp / "envoy.yaml"),
    }
    settings = Settings(**{k.removeprefix("AIORCH_").lower(): v for k, v in env.items()})
    (tmp / "envoy.yaml").write_text(render(settings, PROJECT_ROOT / "build" / "aiorch.pb"))
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
        yield Suite(settings, honcho, log)
    finally:
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)
            honcho.wait(20)


@pytest.fixture(scope="session")
def suite(tmp_path_factory):
    with running_suite(tmp_path_factory.mktemp("suite")) as running:
        yield running

"""The whole suite as `make run` starts it (the local Procfile under honcho), with every
address on a free port and Envoy on a config rendered for those ports: what the
end-to-end tests and the benchmarks run against."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gateway.render import Edge, render
from services.common.settings import PROJECT_ROOT, Settings
from tools.ready import SERVICES, wait_suite

BIN = Path(sys.executable).parent


def free_addr() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@dataclass
class Running:
    settings: Settings
    honcho: subprocess.Popen
    log: Path  # every process's output


@contextlib.contextmanager
def running_suite(
    tmp: Path,
    edge: Edge | None = None,
    extra_env: dict[str, str] | None = None,
    timeout: float = 90,
) -> Iterator[Running]:
    """The suite on free ports with its store in `tmp`, until the block ends; `edge` sets
    the gateway's rules, `extra_env` reaches every process. RuntimeError, with the end of
    the log, if it does not come up within `timeout` seconds."""
    env = {f"AIORCH_{name.upper()}_ADDR": free_addr() for name in SERVICES}
    env |= {f"AIORCH_{name.upper()}_METRICS_ADDR": free_addr() for name in SERVICES}
    env |= {
        "AIORCH_GATEWAY_ADDR": free_addr(),
        "AIORCH_GATEWAY_ADMIN_ADDR": free_addr(),
        "AIORCH_DATABASE_URL": f"sqlite:///{tmp}/aiorch.db",
        "AIORCH_ENVOY_CONFIG": str(tmp / "envoy.yaml"),
    }
    settings = Settings(**{k.removeprefix("AIORCH_").lower(): v for k, v in env.items()})
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
        try:
            asyncio.run(wait_suite(settings, timeout=timeout))
        except TimeoutError:
            raise RuntimeError(f"the suite did not come up:\n{log.read_text()[-4000:]}") from None
        yield Running(settings, honcho, log)
    finally:
        if honcho.poll() is None:
            honcho.send_signal(signal.SIGINT)
            honcho.wait(30)

"""The whole suite as `make run` starts it (the local Procfile under honcho), with every
address on a free port and Envoy on a config rendered for those ports: what the
end-to-end tests and the benchmarks run against. And one service alone behind Envoys of
its own (`behind_envoy`), for a test or a benchmark that needs the gateway set apart."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from gateway.render import Edge, render
from services.common.settings import PROJECT_ROOT, Settings
from tools.ready import SERVICES, wait_gateway, wait_serving, wait_suite

BIN = Path(sys.executable).parent
DESCRIPTOR = PROJECT_ROOT / "build" / "aiorch.pb"
ENVOY_FLAGS = ("--disable-hot-restart", "-l", "warn")


def free_addr() -> str:
    """A free port on 127.0.0.1 below the kernel's ephemeral range. A port the kernel picks
    (bind to 0) is from that range, and until the process meant to listen there binds it,
    the kernel may give it to an outgoing connection, such as one service calling another
    as the suite starts (CI: "Failed to bind to address"). Ports below it are never
    given out that way."""
    low = _ephemeral_low()
    for _ in range(1000):
        port = random.randrange(FIRST_PORT, low) if low > FIRST_PORT + 1000 else 0
        if port and port in _given:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            port = sock.getsockname()[1]
        _given.add(port)
        return f"127.0.0.1:{port}"
    raise RuntimeError("no free port found")


FIRST_PORT = 10000
_given: set[int] = set()  # handed out by this process: never twice


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0  # unknown: let the kernel pick


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
    (tmp / "envoy.yaml").write_text(render(settings, DESCRIPTOR, edge=edge))
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


@dataclass
class Fronted:
    process: subprocess.Popen  # the service
    log: Path  # the service's output and every Envoy's
    gateways: dict[str, Settings]  # per Envoy: the settings with its gateway's addresses

    @property
    def settings(self) -> Settings:
        """The first Envoy's."""
        return next(iter(self.gateways.values()))


@contextlib.contextmanager
def behind_envoy(
    tmp: Path,
    service: str,
    env: dict[str, str],
    edge: Edge | None = None,
    variants: dict[str, Callable[[str], str] | None] | None = None,
    envoy_flags: Sequence[str] = ENVOY_FLAGS,
    otlp: str | None = None,
    timeout: float = 60,
) -> Iterator[Fronted]:
    """`python -m services.<service>` with `env` (its address at least; the store in `tmp`
    unless `env` names one), and in front of it one Envoy per entry of `variants` (its
    name, and a change to the rendered config or None; by default one Envoy as rendered),
    each on free ports, until the block ends. `edge` and `otlp` are render's."""
    env = {"AIORCH_DATABASE_URL": f"sqlite:///{tmp}/aiorch.db", **env}
    gateways = {}
    for name, change in (variants or {"gateway": None}).items():
        addrs = {"gateway_addr": free_addr(), "gateway_admin_addr": free_addr()}
        settings = Settings(**{k.removeprefix("AIORCH_").lower(): v for k, v in env.items()})
        settings = settings.model_copy(update=addrs)
        config = render(settings, DESCRIPTOR, otlp=otlp, edge=edge)
        (tmp / f"envoy-{name}.yaml").write_text(change(config) if change else config)
        gateways[name] = settings
    log = tmp / "processes.log"
    output = log.open("w")
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", f"services.{service}"],
            cwd=PROJECT_ROOT,
            env=os.environ | env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    ]
    for name in gateways:
        processes.append(
            subprocess.Popen(
                [BIN / "envoy", "-c", tmp / f"envoy-{name}.yaml", *envoy_flags],
                cwd=PROJECT_ROOT,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        first = next(iter(gateways.values()))
        asyncio.run(wait_serving(first.addr_of(service), timeout))
        for settings in gateways.values():
            asyncio.run(wait_gateway(settings.gateway_admin_addr, timeout))
        yield Fronted(processes[0], log, gateways)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        output.close()

"""The suite as the drills run it: every service a process of its own (so one can be killed
and started again while the others run), Envoy in front, and a PostgreSQL and a Redis of
the drill's own, on free ports in a temporary folder, so that killing and restarting them
disturbs nothing else on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import glob
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gateway.render import Edge, render
from services.common.settings import PROJECT_ROOT, Settings
from tools.ready import SERVICES, wait_gateway, wait_serving
from tools.suite import free_addr

BIN = Path(sys.executable).parent


def _port(addr: str) -> int:
    return int(addr.rpartition(":")[2])


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run it as the `postgres` user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


class Postgres:
    """A PostgreSQL cluster of its own: initdb, start, stop (fast), kill -9."""

    def __init__(self, folder: Path):
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb")]
        if not found or not found[-1]:
            raise SystemExit("the drills need PostgreSQL's initdb and pg_ctl")
        self.bin = Path(found[-1]).parent
        self.folder = folder
        self.data = folder / "data"
        self.port = _port(free_addr())
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        folder.mkdir(parents=True)
        if os.geteuid() == 0:
            folder.parent.chmod(0o711)  # the postgres user must reach its folder
            shutil.chown(folder, "postgres")
        self._run(["initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres"])

    def _run(self, command: list[str]) -> None:
        done = subprocess.run(
            _as_postgres([str(self.bin / command[0]), *command[1:]]),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.strip()[-500:]}")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.folder / "postgres.log")
        self._run(["pg_ctl", "-D", str(self.data), "-o", options, "-l", log, "-w", "start"])

    def stop(self) -> None:
        self._run(["pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop"])


class Redis:
    def __init__(self):
        self.port = _port(free_addr())
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            with contextlib.suppress(subprocess.CalledProcessError):
                subprocess.run(
                    ["redis-cli", "-p", str(self.port), "ping"], check=True, capture_output=True
                )
                return
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


@dataclass(frozen=True)
class Replica:
    """One of several processes of a service, each on addresses of its own."""

    key: str  # e.g. orchestrator-1: its process's name and log
    addr: str
    metrics_addr: str

    def env(self) -> dict[str, str]:
        return {
            "AIORCH_LISTEN_ADDR": self.addr,
            "AIORCH_METRICS_LISTEN_ADDR": self.metrics_addr,
            # Each orchestrator replica holds its leases under a name of its own.
            "AIORCH_ORCHESTRATOR_NODE": self.key,
        }


@dataclass
class Suite:
    """Each service's process, started and stopped by name."""

    folder: Path
    env: dict[str, str]
    settings: Settings
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{self.settings.gateway_addr}"

    def start(self, name: str, replica: Replica | None = None) -> None:
        """Starts `name` (a service or the gateway); a `replica` of a service runs under
        its own key, on its own addresses."""
        env = self.env
        if name == "gateway":
            command = [str(BIN / "envoy"), "-c", str(self.folder / "envoy.yaml")]
            command += ["--disable-hot-restart", "--log-level", "error"]
        else:
            command = [sys.executable, "-m", f"services.{name}"]
        if replica is not None:
            env = env | replica.env()
            name = replica.key
        log = self.logs.setdefault(name, (self.folder / f"{name}.log").open("ab"))
        self.processes[name] = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    def serving(self, name: str, timeout: float = 60, addr: str = "") -> float:
        """Waits until `name` (at `addr`, default its address) answers SERVING; returns the
        monotonic time it did."""
        try:
            if name == "gateway":
                asyncio.run(wait_gateway(self.settings.gateway_admin_addr, timeout))
            else:
                asyncio.run(wait_serving(addr or self.settings.addr_of(name), timeout))
        except TimeoutError:
            log = (self.folder / f"{name}.log").read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{name} did not come up; its log ends:\n{log}") from None
        return time.monotonic()

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.kill()
        process.wait()

    def terminate(self, name: str, timeout: float = 30) -> bool:
        """SIGTERM, then SIGKILL if it has not ended within `timeout` seconds; whether it
        ended by itself."""
        process = self.processes[name]
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            return False
        return True

    def stop_all(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


@contextlib.contextmanager
def running_suite(
    folder: Path, postgres: Postgres, redis: Redis, replicas: Mapping[str, int] | None = None
):
    """Every service (`replicas[name]` processes of it, default one) and Envoy on free
    ports, on `postgres` and `redis`; stopped after. A service's replicas are listed in its
    address, so the gateway and its callers balance over them."""
    counts = {name: (replicas or {}).get(name, 1) for name in SERVICES}
    placed = {
        name: [Replica(f"{name}-{i + 1}", free_addr(), free_addr()) for i in range(count)]
        for name, count in counts.items()
    }
    env = {f"AIORCH_{n.upper()}_ADDR": ",".join(r.addr for r in placed[n]) for n in SERVICES}
    env |= {
        f"AIORCH_{n.upper()}_METRICS_ADDR": ",".join(r.metrics_addr for r in placed[n])
        for n in SERVICES
    }
    env |= {
        "AIORCH_GATEWAY_ADDR": free_addr(),
        "AIORCH_GATEWAY_ADMIN_ADDR": free_addr(),
        "AIORCH_DATABASE_URL": postgres.url,
        "AIORCH_REDIS_URL": redis.url,
        "AIORCH_ACTIVITY_KEY": secrets.token_hex(32),
        "AIORCH_ORCHESTRATOR_REPLICAS": str(counts["orchestrator"]),
        "AIORCH_MONITOR_REPLICAS": str(counts["monitor"]),
        # A restarted orchestrator takes over its earlier life's work at once.
        "AIORCH_ORCHESTRATOR_NODE": "drill-orchestrator",
        "AIORCH_LOG_LEVEL": "WARNING",
    }
    settings = Settings(**{k.removeprefix("AIORCH_").lower(): v for k, v in env.items()})
    # The drills load the suite through one user far past the gateway's per-user limit:
    # lifted here, so every 429 is the orchestrator's admission, the thing drilled.
    edge = Edge.from_env()
    edge = dataclasses.replace(edge, user_rps=1_000_000, route_rps=1_000_000)
    descriptor = PROJECT_ROOT / "build" / "aiorch.pb"
    (folder / "envoy.yaml").write_text(render(settings, descriptor, edge=edge))
    suite = Suite(folder, os.environ | env | {"PYTHONUNBUFFERED": "1"}, settings)
    try:
        # The embeddings service first: the others call it, and it takes longest to load.
        for name in ("embeddings", *(s for s in SERVICES if s != "embeddings")):
            for replica in placed[name] if counts[name] > 1 else [None]:
                suite.start(name, replica)
        suite.start("gateway")
        for name in SERVICES:
            if counts[name] == 1:
                suite.serving(name)
            for replica in placed[name] if counts[name] > 1 else []:
                suite.serving(replica.key, addr=replica.addr)
        suite.serving("gateway")
        yield suite
    finally:
        suite.stop_all()

"""SuiteProcesses: RSS and CPU of the suite's own processes, where this host shows them.

A suite process is one whose command line holds `services.<name>` (`python -m
services.orchestrator`). Finding them reads every process's command line, so that scan
runs only every `rescan_seconds` or when a process found before has gone; in between
only the processes found are read. In a container only the monitor itself is visible.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import psutil

from services.common.settings import DEFAULT_ADDRS

Metrics = dict[str, tuple[float, str]]


class SuiteProcesses:
    def __init__(
        self,
        names: Iterable[str] = tuple(DEFAULT_ADDRS),
        rescan_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.modules = {f"services.{name}": name for name in names}
        self.rescan_seconds = rescan_seconds
        self.clock = clock
        self._found: dict[int, tuple[str, psutil.Process]] = {}
        self._measured: set[int] = set()
        self._scanned_at = float("-inf")

    def sample(self) -> Metrics:
        if self.clock() - self._scanned_at >= self.rescan_seconds:
            self._scan()
        rss: dict[str, float] = {}
        cpu: dict[str, float] = {}
        gone = []
        for pid, (name, process) in self._found.items():
            try:
                with process.oneshot():
                    rss[name] = rss.get(name, 0.0) + process.memory_info().rss
                    # Percent of one core since the previous call on this same object; the
                    # first call only sets the baseline, so it counts from the next sample.
                    busy = process.cpu_percent(None)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                gone.append(pid)
                continue
            if pid in self._measured:
                cpu[name] = cpu.get(name, 0.0) + busy
            self._measured.add(pid)
        for pid in gone:
            self._found.pop(pid, None)
            self._measured.discard(pid)
            self._scanned_at = float("-inf")  # a restarted service has a new pid: look now
        metrics: Metrics = {}
        for name in sorted(rss):
            metrics[f"process.{name}.rss"] = (rss[name], "bytes")
            if name in cpu:
                metrics[f"process.{name}.cpu"] = (cpu[name], "percent")
        return metrics

    def _scan(self) -> None:
        self._scanned_at = self.clock()
        for process in psutil.process_iter(["cmdline"]):
            if process.pid in self._found:
                continue
            name = next(
                (self.modules[arg] for arg in process.info["cmdline"] or () if arg in self.modules),
                None,
            )
            if name is not None:
                self._found[process.pid] = (name, process)

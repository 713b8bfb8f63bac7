"""Sampler: one psutil reading of the host as a flat {metric name: (value, unit)}.

Counters (disk and network I/O) become rates from the difference with the previous
reading, so the sampler is created once and read at a steady interval. Every call here is
a read of /proc or a statvfs: about a millisecond in all on a small host.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psutil

from services.monitor.processes import SuiteProcesses

Metrics = dict[str, tuple[float, str]]


class Sampler:
    def __init__(
        self,
        processes: SuiteProcesses | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.processes = processes
        self.clock = clock
        self.cores = psutil.cpu_count() or 1
        # The first cpu_percent call only sets the baseline, so prime it (and the counters)
        # now and the first sample already measures something.
        psutil.cpu_percent(percpu=True)
        self._previous = (self.clock(), self._counters())

    def sample(self) -> Metrics:
        metrics: Metrics = {}
        per_core = psutil.cpu_percent(percpu=True)
        for i, busy in enumerate(per_core):
            metrics[f"cpu.{i}.percent"] = (busy, "percent")
        metrics["cpu.percent"] = (sum(per_core) / len(per_core), "percent")
        for name, value in zip(("1m", "5m", "15m"), psutil.getloadavg(), strict=True):
            metrics[f"load.{name}"] = (value, "tasks")
        memory = psutil.virtual_memory()
        metrics["memory.percent"] = (memory.percent, "percent")
        metrics["memory.used"] = (float(memory.total - memory.available), "bytes")
        metrics["memory.available"] = (float(memory.available), "bytes")
        swap = psutil.swap_memory()
        metrics["swap.percent"] = (swap.percent, "percent")
        metrics["swap.used"] = (float(swap.used), "bytes")
        metrics.update(disk_usage())
        now, counters = self.clock(), self._counters()
        metrics.update(rates(self._previous[1], counters, now - self._previous[0]))
        self._previous = (now, counters)
        metrics.update(connection_counts())
        metrics["process.count"] = (float(len(psutil.pids())), "count")
        if self.processes is not None:
            metrics.update(self.processes.sample())
        return metrics

    @staticmethod
    def _counters() -> dict[str, float]:
        counters: dict[str, float] = {}
        disk = psutil.disk_io_counters()
        if disk is not None:  # None where the kernel exposes no disk statistics
            counters |= {"disk.io.read": disk.read_bytes, "disk.io.write": disk.write_bytes}
        net = psutil.net_io_counters()
        counters |= {
            "net.io.sent": net.bytes_sent,
            "net.io.recv": net.bytes_recv,
            "net.packets": net.packets_sent + net.packets_recv,
            "net.errors": net.errin + net.errout,
        }
        return counters


def rates(previous: dict[str, float], current: dict[str, float], seconds: float) -> Metrics:
    """Byte rates of the I/O counters, and the share of network packets in error."""
    if seconds <= 0:
        return {}
    delta = {
        name: max(0.0, value - previous[name])  # a counter reset reads as no traffic
        for name, value in current.items()
        if name in previous
    }
    found: Metrics = {
        name: (delta[name] / seconds, "bytes/s")
        for name in ("disk.io.read", "disk.io.write", "net.io.sent", "net.io.recv")
        if name in delta
    }
    if "net.packets" in delta:
        packets, errors = delta["net.packets"], delta["net.errors"]
        found["net.errors.percent"] = (100.0 * errors / packets if packets else 0.0, "percent")
    return found


def disk_usage() -> Metrics:
    """Usage of each mounted device, once per device (bind mounts repeat their device)."""
    mounts: dict[str, str] = {}
    for part in psutil.disk_partitions(all=False):
        known = mounts.get(part.device)
        if known is None or len(part.mountpoint) < len(known):
            mounts[part.device] = part.mountpoint
    found: Metrics = {}
    for mount in sorted(mounts.values()):
        try:
            usage = psutil.disk_usage(mount)
        except OSError:  # unmounted or unreadable since it was listed
            continue
        found[f"disk.{mount}.percent"] = (usage.percent, "percent")
        found[f"disk.{mount}.used"] = (float(usage.used), "bytes")
        found[f"disk.{mount}.free"] = (float(usage.free), "bytes")
    return found


def connection_counts(proc_net: Path = Path("/proc/net")) -> Metrics:
    """TCP connections from the kernel's own counters (Linux; none elsewhere).

    Not from /proc/net/tcp or psutil.net_connections(): both walk every socket of the
    host, some 7 ms of kernel time a sample here (more than all the rest of a sample
    together), where these three small files cost microseconds.
    """
    try:
        snmp = (proc_net / "snmp").read_text().splitlines()
        sockstat = (proc_net / "sockstat").read_text().splitlines()
    except OSError:
        return {}
    try:
        sockstat6 = (proc_net / "sockstat6").read_text().splitlines()
    except OSError:  # IPv6 disabled
        sockstat6 = []
    header, values = (line.split()[1:] for line in snmp if line.startswith("Tcp:"))
    tcp = dict(zip(header, values, strict=True))
    v4, v6 = _fields(sockstat, "TCP:"), _fields(sockstat6, "TCP6:")
    return {
        # RFC 1213 tcpCurrEstab: ESTABLISHED or CLOSE-WAIT, over IPv4 and IPv6.
        "net.connections.established": (float(tcp["CurrEstab"]), "count"),
        "net.connections.time_wait": (float(v4.get("tw", 0)), "count"),
        # Every TCP socket: listening, connecting, open, closing and waiting.
        "net.connections.total": (
            float(v4.get("inuse", 0) + v6.get("inuse", 0) + v4.get("tw", 0)),
            "count",
        ),
    }


def _fields(lines: list[str], prefix: str) -> dict[str, int]:
    """`TCP: inuse 13 orphan 0 tw 4` -> {"inuse": 13, "orphan": 0, "tw": 4}."""
    for line in lines:
        if line.startswith(prefix):
            words = line.split()[1:]
            return {name: int(value) for name, value in zip(words[::2], words[1::2], strict=True)}
    return {}

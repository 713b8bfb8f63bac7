"""The API as its callers see it: request rate, error rate and p95 latency per service,
from the RPC metrics every service serves on its Prometheus endpoint.

Scraped rather than pushed: the endpoints exist for Prometheus anyway, so the services
need no second path to the monitor nor knowledge of it, a service that is down shows as
an endpoint that does not answer (`api.<service>.up` 0) instead of as silence, and the
monitor chooses how often to look. Figures are over the last `window` seconds, from the
difference between two readings of the counters, as Prometheus's rate() and
histogram_quantile() compute them:

- `api.<service>.requests`: RPCs that ended, per second;
- `api.<service>.errors.percent`: those that ended with a server error (the codes a
  gateway answers with 5xx), in percent;
- `api.<service>.latency.p95`: the 95th percentile of the duration of its unary calls, in
  milliseconds (0 when none ended in the window). Streams are left out: a WatchMetrics
  stream lasts as long as its watcher looks, which says nothing of the service's speed.
"""

from __future__ import annotations

import math
import re
import socket
import urllib.request
from collections import defaultdict, deque
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from services.common.access import SERVER_ERROR_NAMES
from services.common.metrics import service_name

Metrics = dict[str, tuple[float, str]]

_LINE = re.compile(
    r"^(grpc_server_handled_total|grpc_server_handling_seconds_bucket)\{([^}]*)\} (\S+)", re.M
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


@dataclass
class Reading:
    """The counters of one service at one time, summed over its methods."""

    handled: float = 0.0
    errors: float = 0.0
    buckets: dict[float, float] = field(default_factory=lambda: defaultdict(float))


def parse(text: str) -> dict[str, Reading]:
    """Per service (short name), its counters in a Prometheus text exposition."""
    readings: dict[str, Reading] = defaultdict(Reading)
    for name, labels, value in _LINE.findall(text):
        found = dict(_LABEL.findall(labels))
        reading = readings[service_name(found.get("grpc_service", ""))]
        if name == "grpc_server_handled_total":
            reading.handled += float(value)
            if found.get("grpc_code") in SERVER_ERROR_NAMES:
                reading.errors += float(value)
        elif found.get("grpc_type") == "unary":
            reading.buckets[float(found["le"])] += float(value)
    return dict(readings)


def quantile(q: float, buckets: Mapping[float, float]) -> float:
    """histogram_quantile over cumulative bucket counts {upper bound: count}, in the
    buckets' unit; linear within the bucket, the largest finite bound past the last."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return 0.0
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for bound in bounds:
        count = buckets[bound]
        if count >= rank:
            if math.isinf(bound):
                return lower
            return lower + (bound - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = bound, count
    return lower


def figures(seconds: float, new: Reading, old: Reading | None) -> tuple[float, float, float]:
    """(requests per second, error percent, p95 milliseconds) between two readings."""
    if old is None or new.handled < old.handled:  # a restarted service counts from zero
        old = Reading()
    handled = new.handled - old.handled
    errors = max(0.0, new.errors - old.errors)
    buckets = {le: max(0.0, n - old.buckets.get(le, 0.0)) for le, n in new.buckets.items()}
    rate = handled / seconds if seconds > 0 else 0.0
    percent = 100.0 * errors / handled if handled > 0 else 0.0
    return rate, percent, quantile(0.95, buckets) * 1000


def scrape(addr: str, timeout: float) -> str:
    with urllib.request.urlopen(f"http://{addr}/metrics", timeout=timeout) as reply:
        return reply.read().decode()


class ApiSampler:
    """Reads every service's endpoint (`endpoints`: service name -> host:port) at most
    every `every` seconds and gives the figures over the last `window` seconds."""

    def __init__(
        self,
        endpoints: Mapping[str, str],
        window: float,
        every: float,
        timeout: float,
        read: Callable[[str, float], str] = scrape,
    ):
        # One endpoint may serve several services (all in one process): read it once.
        self.endpoints: dict[str, list[str]] = defaultdict(list)
        for name, addr in endpoints.items():
            if addr:
                self.endpoints[addr].append(name)
        self.window, self.every, self.timeout, self.read = window, every, timeout, read
        self._pool = ThreadPoolExecutor(max(1, len(self.endpoints)), "scrape")
        self._readings: deque[tuple[float, dict[str, Reading]]] = deque()
        self._up: dict[str, bool] = {}
        self._latest: Metrics = {}

    def _read(self, addr: str) -> dict[str, Reading] | None:
        """The readings at `addr`, summed over its replicas: every address its name
        resolves to (a headless Kubernetes Service) or that it lists (host:port,host:port);
        None when none answers."""
        replicas: dict[str, None] = {}
        for one in addr.split(","):
            host, _, port = one.strip().rpartition(":")
            try:
                found = socket.getaddrinfo(host.strip("[]"), int(port), type=socket.SOCK_STREAM)
            except (OSError, ValueError):
                continue
            for info in found:
                ip = str(info[4][0])
                replicas[f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"] = None
        total: dict[str, Reading] | None = None
        for replica in replicas:
            try:
                text = self.read(replica, self.timeout)
                readings = parse(text)
            except (OSError, ValueError):  # down, refusing, or not an exposition
                continue
            total = total or {}
            for name, reading in readings.items():
                into = total.setdefault(name, Reading())
                into.handled += reading.handled
                into.errors += reading.errors
                for le, count in reading.buckets.items():
                    into.buckets[le] += count
        return total

    def sample(self, now: float) -> Metrics:
        """Called from a worker thread (it blocks on the scrapes)."""
        if self._readings and now - self._readings[-1][0] < self.every:
            return self._latest
        results = dict(zip(self.endpoints, self._pool.map(self._read, self.endpoints), strict=True))
        combined: dict[str, Reading] = {}
        for addr, names in self.endpoints.items():
            for name in names:
                self._up[name] = results[addr] is not None
            combined |= results[addr] or {}
        self._readings.append((now, combined))
        while len(self._readings) > 2 and now - self._readings[1][0] >= self.window:
            self._readings.popleft()  # keep the newest reading at least `window` old
        then, old = self._readings[0]
        metrics: Metrics = {f"api.{n}.up": (float(up), "bool") for n, up in self._up.items()}
        if len(self._readings) > 1:
            for name, reading in combined.items():
                if not name:
                    continue
                rate, percent, p95 = figures(now - then, reading, old.get(name))
                metrics[f"api.{name}.requests"] = (rate, "requests/s")
                metrics[f"api.{name}.errors.percent"] = (percent, "percent")
                metrics[f"api.{name}.latency.p95"] = (p95, "ms")
        self._latest = metrics
        return metrics

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

"""python -m services.monitor: the monitor service on AIORCH_MONITOR_ADDR."""

import contextlib

from aiorch.v1 import monitor_pb2_grpc
from services.common.database import Database, refuse_unshared
from services.common.probe import Peers
from services.common.server import Service, run
from services.common.settings import DEFAULT_ADDRS
from services.monitor.activity import ActivityStore, prune_periodically
from services.monitor.alerts import AlertBook, Threshold
from services.monitor.api import ApiSampler
from services.monitor.history import History
from services.monitor.keys import load_key
from services.monitor.processes import SuiteProcesses
from services.monitor.recorder import MetricsRecorder
from services.monitor.sampler import Sampler
from services.monitor.servicer import MonitorServicer
from services.monitor.settings import MonitorSettings

FEATURES = ("metrics", "history", "summary", "alerts", "health", "optimize", "activity", "watch")


def thresholds(s) -> list[Threshold]:
    return [
        Threshold("cpu.percent", s.alert_cpu_warning, s.alert_cpu_critical),
        Threshold("memory.percent", s.alert_memory_warning, s.alert_memory_critical),
        Threshold("disk.*.percent", s.alert_disk_warning, s.alert_disk_critical),
        Threshold("net.errors.percent", s.alert_error_rate_warning, s.alert_error_rate_critical),
        Threshold(
            "api.*.errors.percent", s.alert_api_error_rate_warning, s.alert_api_error_rate_critical
        ),
        Threshold("api.*.latency.p95", s.alert_api_latency_warning, s.alert_api_latency_critical),
        # A service whose metrics endpoint does not answer (killed, hung, partitioned) for
        # the hold: critical at once, since its callers are failing or piling up.
        Threshold("api.*.up", 0, 0, below=True),
    ]


async def build(settings: MonitorSettings, stack: contextlib.AsyncExitStack) -> list[Service]:
    database_url = settings.database_url.get_secret_value()
    refuse_unshared(database_url, settings.monitor_replicas, "monitor")
    key = load_key(
        settings.activity_key.get_secret_value(), settings.activity_key_file, database_url
    )
    db = await Database.open(database_url)
    stack.push_async_callback(db.close)
    activity = await ActivityStore.open(db, key)
    await stack.enter_async_context(
        prune_periodically(activity, settings.activity_retention_days * 86400)
    )
    interval = settings.monitor_interval_seconds
    api = ApiSampler(
        {name: settings.metrics_addr_of(name) for name in DEFAULT_ADDRS},
        settings.monitor_api_window_seconds,
        settings.monitor_scrape_interval_seconds,
        settings.monitor_scrape_timeout_seconds,
    )
    stack.callback(api.close)
    recorder = MetricsRecorder(
        Sampler(SuiteProcesses()),
        History(settings.monitor_retention_seconds, interval),
        AlertBook(thresholds(settings), settings.alert_hold_seconds, settings.alert_history_size),
        interval,
        settings.monitor_max_watchers,
        api=api,
    )
    await recorder.start()
    stack.push_async_callback(recorder.stop)
    peers = Peers({name: settings.addr_of(name) for name in DEFAULT_ADDRS if name != "monitor"})
    stack.push_async_callback(peers.close)
    features = (*FEATURES, f"activity_store:{db.dialect}")
    return [
        Service(
            "aiorch.v1.MonitorService",
            MonitorServicer(recorder, activity, settings, peers, features),
            monitor_pb2_grpc.add_MonitorServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("monitor", build, MonitorSettings)

"""The monitor's settings: the runtime's (services/common/settings.py) and its own."""

from __future__ import annotations

from pydantic import Field, SecretStr

from services.common.settings import Settings


class MonitorSettings(Settings):
    # How many monitor processes share the activity store (at most): above 1 it must be
    # PostgreSQL, as for the orchestrator's replicas.
    monitor_replicas: int = Field(default=1, gt=0)
    # Metrics sampled every interval and kept in memory for the retention.
    monitor_interval_seconds: float = Field(default=1.0, ge=0.01, le=3600)
    monitor_retention_seconds: float = Field(default=3600.0, gt=0, le=7 * 86400)
    # A peer whose health check takes longer than monitor_peer_slow_ms is DEGRADED.
    monitor_peer_timeout_seconds: float = Field(default=1.0, gt=0)
    monitor_peer_slow_ms: float = Field(default=250.0, gt=0)
    monitor_max_watchers: int = Field(default=100, gt=0)
    # Alert thresholds (warning, critical) of cpu.percent, memory.percent, every
    # disk.<mount>.percent and net.errors.percent (packets in error); a level fires, and
    # resolves, only after holding for alert_hold_seconds.
    alert_cpu_warning: float = 80.0
    alert_cpu_critical: float = 95.0
    alert_memory_warning: float = 85.0
    alert_memory_critical: float = 95.0
    alert_disk_warning: float = 90.0
    alert_disk_critical: float = 95.0
    alert_error_rate_warning: float = 5.0
    alert_error_rate_critical: float = 10.0
    # The API's own figures, per service, from the services' RPC metrics over the last
    # monitor_api_window_seconds: errors (codes a gateway answers with 5xx) in percent of
    # requests, and the p95 latency in milliseconds.
    monitor_api_window_seconds: float = Field(default=60.0, gt=0)
    monitor_scrape_interval_seconds: float = Field(default=5.0, gt=0)
    monitor_scrape_timeout_seconds: float = Field(default=0.5, gt=0)
    alert_api_error_rate_warning: float = 1.0
    alert_api_error_rate_critical: float = 5.0
    alert_api_latency_warning: float = 1000.0
    alert_api_latency_critical: float = 5000.0
    alert_hold_seconds: float = Field(default=30.0, ge=0)
    alert_history_size: int = Field(default=500, gt=0)
    # User ids are stored as HMAC-SHA256 pseudonyms under this key (services/monitor/keys.py):
    # required with PostgreSQL; with SQLite, empty means a key generated into
    # activity_key_file (empty: activity.key beside the database).
    activity_key: SecretStr = SecretStr("")
    activity_key_file: str = ""
    activity_max_metadata_bytes: int = Field(default=4096, gt=0)
    activity_retention_days: int = Field(default=365, gt=0)

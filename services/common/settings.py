"""Settings of every aiorch service, read once from AIORCH_* environment variables.

Defaults run the whole suite on one machine; each variable switches one concern to the
real thing (an address, a database, a backend).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Default address of each service; the same table tells a service where to listen and
# its clients where to call.
DEFAULT_ADDRS = {
    "orchestrator": "127.0.0.1:50051",
    "classifier": "127.0.0.1:50052",
    "meeting_intel": "127.0.0.1:50053",
    "embeddings": "127.0.0.1:50054",
    "monitor": "127.0.0.1:50055",
    "assistant": "127.0.0.1:50056",
}
# Default address of each service's Prometheus endpoint (services/common/metrics.py).
DEFAULT_METRICS_ADDRS = {
    "orchestrator": "127.0.0.1:9451",
    "classifier": "127.0.0.1:9452",
    "meeting_intel": "127.0.0.1:9453",
    "embeddings": "127.0.0.1:9454",
    "monitor": "127.0.0.1:9455",
    "assistant": "127.0.0.1:9456",
}


class Settings(BaseSettings):
    """Everything configurable, with working defaults."""

    model_config = SettingsConfigDict(env_prefix="AIORCH_", extra="ignore")

    orchestrator_addr: str = DEFAULT_ADDRS["orchestrator"]
    classifier_addr: str = DEFAULT_ADDRS["classifier"]
    meeting_intel_addr: str = DEFAULT_ADDRS["meeting_intel"]
    embeddings_addr: str = DEFAULT_ADDRS["embeddings"]
    monitor_addr: str = DEFAULT_ADDRS["monitor"]
    assistant_addr: str = DEFAULT_ADDRS["assistant"]
    # Where a service listens when it must differ from where others reach it
    # (0.0.0.0:50052 in a container); empty means the service's own address.
    listen_addr: str = ""

    gateway_addr: str = "127.0.0.1:8080"
    gateway_admin_addr: str = "127.0.0.1:9901"
    # Where the gateway serves Envoy's stats for Prometheus; empty: only on the admin port.
    gateway_metrics_addr: str = ""

    # Seconds a stopping server lets in-flight calls finish.
    grace_seconds: float = Field(default=3.0, ge=0)
    log_level: str = "INFO"
    # Callers appear in logs as HMAC pseudonyms under this key; empty means a random key
    # per process (lines of one process still group by caller, across processes not).
    log_key: SecretStr = SecretStr("")

    # Prometheus /metrics of each service, on a port of its own (empty: none). Where a
    # service listens for it when that differs (0.0.0.0:9451 in a container).
    orchestrator_metrics_addr: str = DEFAULT_METRICS_ADDRS["orchestrator"]
    classifier_metrics_addr: str = DEFAULT_METRICS_ADDRS["classifier"]
    meeting_intel_metrics_addr: str = DEFAULT_METRICS_ADDRS["meeting_intel"]
    embeddings_metrics_addr: str = DEFAULT_METRICS_ADDRS["embeddings"]
    monitor_metrics_addr: str = DEFAULT_METRICS_ADDRS["monitor"]
    assistant_metrics_addr: str = DEFAULT_METRICS_ADDRS["assistant"]
    metrics_listen_addr: str = ""

    max_text_chars: int = Field(default=100_000, gt=0)
    max_labels: int = Field(default=200, gt=0)
    max_texts: int = Field(default=256, gt=0)

    # URLs may carry passwords (see SECRETS below).
    database_url: SecretStr = SecretStr(f"sqlite:///{PROJECT_ROOT / 'var' / 'aiorch.db'}")
    redis_url: SecretStr = SecretStr("")

    embeddings_model_path: str = ""
    embeddings_tokenizer_path: str = str(
        PROJECT_ROOT / "build" / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
    )
    embeddings_max_tokens: int = Field(default=256, gt=0, le=512)
    # Inference threads; 0 means one per core of the machine, so in a container set it to
    # the CPU limit.
    embeddings_threads: int = Field(default=0, ge=0)
    # Micro-batching of concurrent requests (services/embeddings/batcher.py); defaults
    # chosen with `make bench`.
    embeddings_batching: bool = True
    embeddings_max_batch_size: int = Field(default=32, gt=0)
    embeddings_max_wait_ms: float = Field(default=5.0, ge=0)
    embeddings_max_queued: int = Field(default=2048, gt=0)
    # A call to a service that is out of reach waits for it (a restart is ridden out within
    # the call's deadline) until the service has been unreachable this long; from then on
    # calls to it fail fast with UNAVAILABLE and the reason.
    unreachable_fail_fast_seconds: float = Field(default=5.0, ge=0)
    # Time kept back from a caller's deadline for our own reply.
    deadline_margin_seconds: float = Field(default=0.05, ge=0)
    classification_timeout_seconds: float = Field(default=30.0, gt=0)

    # classifier: vectors of label prompts and examples kept between requests.
    classifier_cache_size: int = Field(default=4096, gt=0)

    # OpenAI-compatible backends (services/common/llm.py); OPENAI_* are the names the
    # openai package itself reads.
    embeddings_backend: Literal["local", "openai"] = "local"
    classifier_backend: Literal["local", "openai"] = "local"
    meeting_intel_backend: Literal["local", "openai"] = "local"
    openai_base_url: str = Field(
        default="", validation_alias=AliasChoices("OPENAI_BASE_URL", "AIORCH_OPENAI_BASE_URL")
    )
    # A secret: it prints as '**********' wherever settings are shown or logged.
    openai_api_key: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("OPENAI_API_KEY", "AIORCH_OPENAI_API_KEY"),
    )
    # Embeddings may come from another provider than chat; empty means OPENAI_BASE_URL.
    openai_embeddings_base_url: str = ""
    openai_chat_model: str = "gpt-4o-mini"
    openai_embeddings_model: str = "text-embedding-3-small"
    openai_timeout_seconds: float = Field(default=60.0, gt=0)
    # Most characters of one text sent to a chat model (its context window is finite).
    openai_max_input_chars: int = Field(default=24_000, gt=0)
    # US dollars per million tokens, by model: {"model": {"input": 0.15, "output": 0.6}}.
    # A model not listed costs 0 (a local or self-hosted one).
    prices: dict[str, dict[str, float]] = {
        "gpt-4o-mini": {"input": 0.15, "output": 0.60},
        "gpt-4o": {"input": 2.50, "output": 10.00},
        "text-embedding-3-small": {"input": 0.02, "output": 0.0},
        "text-embedding-3-large": {"input": 0.13, "output": 0.0},
    }

    # monitor: metrics sampled every interval and kept in memory for the retention.
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

    # meeting_intel: transcripts are long (an hour of talk is about 60,000 characters of
    # text, twice that as WebVTT), so they have their own limits.
    meeting_intel_max_chars: int = Field(default=300_000, gt=0)
    meeting_intel_max_segments: int = Field(default=20_000, gt=0)

    # orchestrator: time budget of a workflow that sets none, per type (classification's
    # is classification_timeout_seconds above).
    meeting_intelligence_timeout_seconds: float = Field(default=60.0, gt=0)
    hybrid_timeout_seconds: float = Field(default=60.0, gt=0)
    embedding_timeout_seconds: float = Field(default=15.0, gt=0)
    # Workflows run by this many workers, fed from one bounded queue per priority; a full
    # queue answers RESOURCE_EXHAUSTED. On PostgreSQL async work waits in a queue all
    # replicas share, and these sizes bound it across them (sync work, and a batch's items,
    # wait in the replica that took them, bounded there).
    orchestrator_workers: int = Field(default=8, gt=0)
    queue_size_high: int = Field(default=100, ge=0)
    queue_size_normal: int = Field(default=200, ge=0)
    queue_size_low: int = Field(default=200, ge=0)
    # Bytes of requests waiting in the queues (batch items included) at most: a memory bound
    # the count alone does not give, with transcripts of up to 16 MiB.
    queue_max_bytes: int = Field(default=64 * 2**20, gt=0)
    batch_max_items: int = Field(default=100, gt=0)
    batch_default_parallelism: int = Field(default=4, gt=0)
    batch_max_parallelism: int = Field(default=16, gt=0)
    # Circuit breaker per downstream service: opens after this many consecutive failures,
    # lets one probe through after breaker_reset_seconds (short: a probe is one call, and a
    # service that recovered must not wait long to be used again). A call that ran out of
    # time counts as a failure only if it had at least breaker_min_timeout_seconds (a short
    # client budget is not the service's fault).
    breaker_failures: int = Field(default=5, gt=0)
    breaker_reset_seconds: float = Field(default=2.0, gt=0)
    breaker_min_timeout_seconds: float = Field(default=1.0, ge=0)
    # Result cache: seconds a result is kept, per workflow type; entries in process (L1);
    # redis_url above adds Redis (L2) under cache_key_prefix.
    classification_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    meeting_intelligence_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    hybrid_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    embedding_cache_ttl_seconds: float = Field(default=86400.0, ge=0)
    cache_l1_size: int = Field(default=4096, ge=0)
    cache_key_prefix: str = "aiorch:cache:"
    # A replica holds a lease on the workflows it runs, renewed every quarter of it; another
    # runs them again once a lease has lapsed. Short, so a dead replica's work moves within
    # seconds; renewals are one small UPDATE a second.
    workflow_lease_seconds: float = Field(default=4.0, gt=0)
    # This orchestrator's place, stable across its restarts (the pod name in Kubernetes):
    # a restarted process takes over what its previous life left at once, without waiting
    # for the leases to lapse. Empty: leases only. Never the same for two live processes.
    orchestrator_node: str = ""
    # How many orchestrator processes share the store (at most, when an autoscaler varies
    # it). Above 1 the store must be PostgreSQL: a SQLite file is one process's, and the
    # orchestrator refuses to start on one rather than lose or repeat work.
    orchestrator_replicas: int = Field(default=1, gt=0)
    # The same for the monitor, whose activity store replicas share.
    monitor_replicas: int = Field(default=1, gt=0)
    # A workflow whose runs died with their orchestrator this often is failed, not run
    # again: it may be what kills them.
    max_interruptions: int = Field(default=3, gt=0)
    # Default time budget of asynchronous work, at least: it may wait in the queue and
    # through a takeover, and both count against its deadline.
    async_timeout_seconds: float = Field(default=300.0, gt=0)
    # Finished workflows (their requests, results and caller ids) are deleted this long
    # after they ended, by a pass every hour.
    workflow_retention_days: float = Field(default=30.0, gt=0)

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with `update` applied. pydantic applies `update` unvalidated: a secret
        given as a plain string is wrapped here as validation would, so every copy holds
        its secrets as SecretStr whoever made it."""
        if update:
            update = {
                name: SecretStr(value) if name in SECRETS and isinstance(value, str) else value
                for name, value in update.items()
            }
        return super().model_copy(update=update, deep=deep)

    def addr_of(self, service: str) -> str:
        """Address at which `service` is reached."""
        return {
            "orchestrator": self.orchestrator_addr,
            "classifier": self.classifier_addr,
            "meeting_intel": self.meeting_intel_addr,
            "embeddings": self.embeddings_addr,
            "monitor": self.monitor_addr,
            "assistant": self.assistant_addr,
        }[service]

    def listen_addr_of(self, service: str) -> str:
        """Where `service` listens: AIORCH_LISTEN_ADDR, else its own address."""
        own = self.addr_of(service)
        return _one(self.listen_addr or own, f"AIORCH_{service.upper()}_ADDR", "AIORCH_LISTEN_ADDR")

    def metrics_listen_addr_of(self, service: str) -> str:
        """Where `service` serves its metrics: AIORCH_METRICS_LISTEN_ADDR, else its own."""
        own = self.metrics_addr_of(service)
        variable = f"AIORCH_{service.upper()}_METRICS_ADDR"
        return _one(self.metrics_listen_addr or own, variable, "AIORCH_METRICS_LISTEN_ADDR")

    def metrics_addr_of(self, service: str) -> str:
        """Where `service` serves its metrics (the gateway: Envoy's stats listener)."""
        return {
            "orchestrator": self.orchestrator_metrics_addr,
            "classifier": self.classifier_metrics_addr,
            "meeting_intel": self.meeting_intel_metrics_addr,
            "embeddings": self.embeddings_metrics_addr,
            "monitor": self.monitor_metrics_addr,
            "assistant": self.assistant_metrics_addr,
            "gateway": self.gateway_metrics_addr,
        }[service]


# Settings that must never reach a log or an error (passwords in URLs, keys): SecretStr,
# which shows as '**********' in repr, str, model_dump() and validation errors alike. Code
# reads get_secret_value() only where it connects or keys an HMAC.
SECRETS = frozenset({"database_url", "redis_url", "log_key", "activity_key", "openai_api_key"})


def _one(addr: str, variable: str, listen: str) -> str:
    """`addr`, which a process binds, so one address, never a list of replicas."""
    if "," in addr:
        raise ValueError(f"{variable} lists several replicas ({addr}): set {listen} to this one's")
    return addr


@lru_cache
def get_settings() -> Settings:
    return Settings()

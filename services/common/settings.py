"""The runtime's settings, which every aiorch service shares, read from AIORCH_* variables:
where each service is, how a server listens and stops, logs, request limits, the stores,
the OpenAI-compatible connection. A service's own settings extend these beside its code
(`services/<service>/settings.py`) and are read by `server.run`.

Defaults run the whole suite on one machine; each variable switches one concern to the
real thing (an address, a database, a backend).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

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
    # Keys in Redis (the orchestrator's result cache, the classifier's label sets) start so.
    cache_key_prefix: str = "aiorch:cache:"

    # A call to a service that is out of reach waits for it (a restart is ridden out within
    # the call's deadline) until the service has been unreachable this long; from then on
    # calls to it fail fast with UNAVAILABLE and the reason.
    unreachable_fail_fast_seconds: float = Field(default=5.0, ge=0)
    # Time kept back from a caller's deadline for our own reply.
    deadline_margin_seconds: float = Field(default=0.05, ge=0)

    # OpenAI-compatible backends (services/common/llm.py); OPENAI_* are the names the
    # openai package itself reads.
    openai_base_url: str = Field(
        default="", validation_alias=AliasChoices("OPENAI_BASE_URL", "AIORCH_OPENAI_BASE_URL")
    )
    # A secret: it prints as '**********' wherever settings are shown or logged.
    openai_api_key: SecretStr = Field(
        default=SecretStr(""),
        validation_alias=AliasChoices("OPENAI_API_KEY", "AIORCH_OPENAI_API_KEY"),
    )
    openai_chat_model: str = "gpt-4o-mini"
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

    # meeting_intel: transcripts are long (an hour of talk is about 60,000 characters of
    # text, twice that as WebVTT), so they have their own limits.
    meeting_intel_max_chars: int = Field(default=300_000, gt=0)
    meeting_intel_max_segments: int = Field(default=20_000, gt=0)

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

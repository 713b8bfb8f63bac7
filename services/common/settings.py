"""Settings of every aiorch service, read once from AIORCH_* environment variables.

Defaults run the whole suite on one machine; each variable switches one concern to the
real thing (an address, a database, a backend).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
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
}


class Settings(BaseSettings):
    """Everything configurable, with working defaults."""

    model_config = SettingsConfigDict(env_prefix="AIORCH_", extra="ignore")

    orchestrator_addr: str = DEFAULT_ADDRS["orchestrator"]
    classifier_addr: str = DEFAULT_ADDRS["classifier"]
    meeting_intel_addr: str = DEFAULT_ADDRS["meeting_intel"]
    embeddings_addr: str = DEFAULT_ADDRS["embeddings"]
    monitor_addr: str = DEFAULT_ADDRS["monitor"]
    # Where a service listens when it must differ from where others reach it
    # (0.0.0.0:50052 in a container); empty means the service's own address.
    listen_addr: str = ""

    gateway_addr: str = "127.0.0.1:8080"
    gateway_admin_addr: str = "127.0.0.1:9901"

    # Seconds a stopping server lets in-flight calls finish.
    grace_seconds: float = Field(default=3.0, ge=0)
    log_level: str = "INFO"

    max_text_chars: int = Field(default=100_000, gt=0)
    max_labels: int = Field(default=200, gt=0)
    max_texts: int = Field(default=256, gt=0)

    database_url: str = f"sqlite:///{PROJECT_ROOT / 'var' / 'aiorch.db'}"
    redis_url: str = ""

    embeddings_model_path: str = ""
    embeddings_tokenizer_path: str = str(
        PROJECT_ROOT / "build" / "models" / "all-MiniLM-L6-v2" / "tokenizer.json"
    )
    embeddings_max_tokens: int = Field(default=256, gt=0, le=512)
    # Inference threads; 0 means one per core of the machine, so in a container set it to
    # the CPU limit.
    embeddings_threads: int = Field(default=0, ge=0)
    # Time kept back from a caller's deadline for our own reply.
    deadline_margin_seconds: float = Field(default=0.05, ge=0)
    classification_timeout_seconds: float = Field(default=30.0, gt=0)

    def addr_of(self, service: str) -> str:
        """Address at which `service` is reached."""
        return getattr(self, f"{service}_addr")

    def listen_addr_of(self, service: str) -> str:
        return self.listen_addr or self.addr_of(service)


@lru_cache
def get_settings() -> Settings:
    return Settings()

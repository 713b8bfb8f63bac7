"""The orchestrator's settings: the runtime's (services/common/settings.py) and its own."""

from __future__ import annotations

from pydantic import Field

from services.common.settings import Settings


class OrchestratorSettings(Settings):
    # Time budget of a workflow that sets none, per type.
    classification_timeout_seconds: float = Field(default=30.0, gt=0)
    meeting_intelligence_timeout_seconds: float = Field(default=60.0, gt=0)
    hybrid_timeout_seconds: float = Field(default=60.0, gt=0)
    embedding_timeout_seconds: float = Field(default=15.0, gt=0)
    assistant_timeout_seconds: float = Field(default=60.0, gt=0)
    # Workflows run by this many workers, fed from one bounded queue per priority; a full
    # queue answers RESOURCE_EXHAUSTED. On PostgreSQL async work waits in a queue all
    # replicas share, and these sizes bound it across them (sync work, and a batch's items,
    # wait in the replica that took them, bounded there). A worker mostly waits on the
    # services, and its call is what feeds their micro-batches: with 8, sixteen clients'
    # uncached classifications reached the embeddings batcher at most 8 at a time, and ran
    # at 0.73-0.80 of direct Classify's rate (33.6-37.4 ms of suite CPU each); with 16 at
    # 0.84-0.90 (30.5-31.1 ms), `python -m bench.orchestrator`, alternating, same machine.
    orchestrator_workers: int = Field(default=16, gt=0)
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
    # the runtime's redis_url adds Redis (L2) under its cache_key_prefix.
    classification_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    meeting_intelligence_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    hybrid_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    embedding_cache_ttl_seconds: float = Field(default=86400.0, ge=0)
    assistant_cache_ttl_seconds: float = Field(default=3600.0, ge=0)
    cache_l1_size: int = Field(default=4096, ge=0)
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
    # A workflow whose runs died with their orchestrator this often is failed, not run
    # again: it may be what kills them.
    max_interruptions: int = Field(default=3, gt=0)
    # Default time budget of asynchronous work, at least: it may wait in the queue and
    # through a takeover, and both count against its deadline.
    async_timeout_seconds: float = Field(default=300.0, gt=0)
    # Finished workflows (their requests, results and caller ids) are deleted this long
    # after they ended, by a pass every hour.
    workflow_retention_days: float = Field(default=30.0, gt=0)

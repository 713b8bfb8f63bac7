"""Registered label sets, by id.

A label set's id is a hash of its content (names, descriptions, examples, in order), not
a counter: the same labels registered on any replica, or again after a restart, get the
same id, and a set is never stale, since its id is its content. Each replica keeps the
sets it has used in memory; with Redis configured they are also kept there, so a set
registered through one replica is classified by id through any other (replicas behind
one address take calls round robin). Without Redis, a replica that does not know an id
answers NOT_FOUND, and the caller registers the labels again (getting the id it holds).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from cachetools import LRUCache

from services.classifier.zero_shot import LabelSpec, digest
from services.common.contract_checks import LABEL_SET_PREFIX, check_label_set_id
from services.common.errors import NotFound, Unavailable

log = logging.getLogger("aiorch.classifier")

# A set unused this long leaves Redis (each use starts the time again).
SHARED_TTL_SECONDS = 7 * 86400
REDIS_TIMEOUT = 1.0


class LabelSets:
    """The label sets registered on this replica, least recently used out; and, given a
    Redis client, every replica's (under `prefix`)."""

    def __init__(self, maxsize: int = 256, redis=None, prefix: str = "aiorch:labelset:"):
        self.sets: LRUCache = LRUCache(maxsize)
        self.redis = redis
        self.prefix = prefix

    @classmethod
    def open(cls, redis_url: str, prefix: str) -> LabelSets:
        if not redis_url:
            return cls()
        import redis.asyncio  # only needed when configured

        client = redis.asyncio.from_url(
            redis_url, socket_timeout=REDIS_TIMEOUT, socket_connect_timeout=REDIS_TIMEOUT
        )
        return cls(redis=client, prefix=prefix)

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.aclose()

    async def put(self, labels: Sequence[LabelSpec]) -> str:
        label_set_id = LABEL_SET_PREFIX + digest(labels)
        self.sets[label_set_id] = tuple(labels)
        if self.redis is not None:
            value = json.dumps([[x.name, x.description, list(x.examples)] for x in labels])
            try:
                await self.redis.set(self.prefix + label_set_id, value, ex=SHARED_TTL_SECONDS)
            except Exception as error:  # redis.RedisError, OSError, TimeoutError
                # The set still serves through this replica; others answer NOT_FOUND.
                log.warning("label set not shared", extra={"error": str(error)[:200]})
        return label_set_id

    async def get(self, label_set_id: str, field: str = "label_set_id") -> list[LabelSpec]:
        check_label_set_id(label_set_id, field)
        labels = self.sets.get(label_set_id)
        if labels is None and self.redis is not None:
            labels = await self._shared(label_set_id)
        if labels is None:
            raise NotFound(
                f"{field}: label set not registered; register it again "
                "(the labels give the same id)"
            )
        return list(labels)

    async def _shared(self, label_set_id: str) -> tuple[LabelSpec, ...] | None:
        try:
            value = await self.redis.getex(self.prefix + label_set_id, ex=SHARED_TTL_SECONDS)
        except Exception as error:  # redis.RedisError, OSError, TimeoutError
            raise Unavailable("the label set store is unavailable; try again") from error
        if value is None:
            return None
        labels = tuple(LabelSpec(n, d, tuple(e)) for n, d, e in json.loads(value))
        if LABEL_SET_PREFIX + digest(labels) != label_set_id:  # not what the id names
            return None
        self.sets[label_set_id] = labels
        return labels

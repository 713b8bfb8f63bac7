"""Registered label sets, by id.

A label set's id is a hash of its content (names, descriptions, examples, in order), not
a counter: the same labels registered on any replica, or again after a restart, get the
same id. So the sets can live in each replica's memory with no shared store: a replica
that does not know an id answers NOT_FOUND, and the caller registers the labels again
(getting the id it already holds) — cheaper to run than a database for what is a cache
of the caller's own request, and a set is never stale, since its id is its content.
"""

from __future__ import annotations

from collections.abc import Sequence

from cachetools import LRUCache

from services.classifier.zero_shot import LabelSpec, digest
from services.common.contract_checks import LABEL_SET_PREFIX, check_label_set_id
from services.common.errors import NotFound


class LabelSets:
    """The label sets registered on this replica, least recently used out."""

    def __init__(self, maxsize: int = 256):
        self.sets: LRUCache = LRUCache(maxsize)

    def put(self, labels: Sequence[LabelSpec]) -> str:
        label_set_id = LABEL_SET_PREFIX + digest(labels)
        self.sets[label_set_id] = tuple(labels)
        return label_set_id

    def get(self, label_set_id: str, field: str = "label_set_id") -> list[LabelSpec]:
        check_label_set_id(label_set_id, field)
        labels = self.sets.get(label_set_id)
        if labels is None:
            raise NotFound(
                f"{field}: label set not registered on this replica; register it again "
                "(the labels give the same id)"
            )
        return list(labels)

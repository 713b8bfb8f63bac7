"""ActivityStore: user activity kept in the suite's store, under pseudonyms only.

The user id (and the session id, which clients often build from it) is stored as its
keyed hash (keys.py), never as given. The same statements run on SQLite and PostgreSQL
(services/common/database.py); times are fixed-width UTC text, so they compare and
group by day alike on both.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from services.common.database import Database
from services.common.loops import Repeat
from services.monitor.keys import fingerprint, pseudonym

log = logging.getLogger("aiorch.monitor")

MIGRATIONS = (
    """CREATE TABLE activities (
        activity_id TEXT PRIMARY KEY,
        user_pseudonym TEXT NOT NULL,
        activity_type TEXT NOT NULL,
        feature TEXT NOT NULL,
        session_pseudonym TEXT NOT NULL,
        metadata TEXT NOT NULL,
        occurred_at TEXT NOT NULL
    )""",
    "CREATE INDEX activities_time ON activities (occurred_at)",
    "CREATE INDEX activities_user_time ON activities (user_pseudonym, occurred_at)",
    # One row: the fingerprint of the key the pseudonyms were made with.
    "CREATE TABLE activity_key (id INTEGER PRIMARY KEY, fingerprint TEXT NOT NULL)",
)


class KeyMismatch(RuntimeError):
    """The store was written under another key: its pseudonyms would not match ours."""


@dataclass(frozen=True)
class Activity:
    activity_type: str
    feature: str = ""
    session_id: str = ""
    metadata_json: str = "{}"


@dataclass(frozen=True)
class ActivitySummary:
    by_type: dict[str, int] = field(default_factory=dict)
    by_feature: dict[str, int] = field(default_factory=dict)
    active_days: int = 0
    sessions: int = 0
    total: int = 0


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class ActivityStore:
    def __init__(self, db: Database, key: bytes):
        self.db = db
        self.key = key

    @classmethod
    async def open(cls, db: Database, key: bytes) -> ActivityStore:
        await db.migrate("activity", MIGRATIONS)
        ours = fingerprint(key)
        await db.execute(
            "INSERT INTO activity_key (id, fingerprint) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            ours,
        )
        [(theirs,)] = await db.fetchall("SELECT fingerprint FROM activity_key WHERE id = 1")
        if theirs != ours:
            raise KeyMismatch(
                f"the activity store was written under another key (fingerprint {theirs},"
                f" ours {ours}); set AIORCH_ACTIVITY_KEY (or restore the key file) to the"
                " key it was written with"
            )
        return cls(db, key)

    def user_pseudonym(self, user_id: str) -> str:
        return pseudonym(self.key, user_id)

    async def track(self, user_id: str, activity: Activity, now: float) -> str:
        [activity_id] = await self.track_many(user_id, [activity], now)
        return activity_id

    async def track_many(self, user_id: str, activities: list[Activity], now: float) -> list[str]:
        """Stores `activities` of one user, all or none; returns their ids in order."""
        user = self.user_pseudonym(user_id)
        rows = []
        for activity in activities:
            # Keyed by user too: two users' "session 1" are two sessions.
            session = (
                pseudonym(self.key, f"{user_id}\x00{activity.session_id}")
                if activity.session_id
                else ""
            )
            row = (str(uuid.uuid4()), user, activity.activity_type, activity.feature, session)
            rows.append((*row, activity.metadata_json, timestamp(now)))
        # One statement for the lot: a batch costs the store one round trip, not one each.
        values = ", ".join(
            "(" + ", ".join(f"${i * 7 + j}" for j in range(1, 8)) + ")" for i in range(len(rows))
        )
        await self.db.execute(
            "INSERT INTO activities (activity_id, user_pseudonym, activity_type, feature,"
            f" session_pseudonym, metadata, occurred_at) VALUES {values}",
            *(value for row in rows for value in row),
        )
        return [row[0] for row in rows]

    async def summary(self, user_id: str | None, start: float, now: float) -> ActivitySummary:
        """Activity between `start` and `now`, of one user or (None) of everyone."""
        where = "occurred_at >= $1 AND occurred_at <= $2"
        args = [timestamp(start), timestamp(now)]
        if user_id is not None:
            where += " AND user_pseudonym = $3"
            args.append(self.user_pseudonym(user_id))
        by_type = await self.db.fetchall(
            f"SELECT activity_type, COUNT(*) FROM activities WHERE {where} GROUP BY activity_type",
            *args,
        )
        by_feature = await self.db.fetchall(
            f"SELECT feature, COUNT(*) FROM activities WHERE {where} AND feature <> ''"
            " GROUP BY feature",
            *args,
        )
        [(total, days, sessions)] = await self.db.fetchall(
            "SELECT COUNT(*), COUNT(DISTINCT substr(occurred_at, 1, 10)),"
            f" COUNT(DISTINCT NULLIF(session_pseudonym, '')) FROM activities WHERE {where}",
            *args,
        )
        return ActivitySummary(
            by_type=_ranked(by_type),
            by_feature=_ranked(by_feature),
            active_days=int(days),
            sessions=int(sessions),
            total=int(total),
        )

    async def prune(self, before: float) -> None:
        await self.db.execute("DELETE FROM activities WHERE occurred_at < $1", timestamp(before))


def _ranked(rows) -> dict[str, int]:
    """Most frequent first, then by name (the two databases sort text differently)."""
    counts = [(name, int(count)) for name, count in rows]
    return dict(sorted(counts, key=lambda item: (-item[1], item[0])))


def prune_periodically(store: ActivityStore, retention_seconds: float, every: float = 3600.0):
    """Deletes activities older than the retention now and every `every` seconds while the
    block (`async with`) runs: personal data is kept no longer than it is useful."""

    async def prune() -> None:
        await store.prune(time.time() - retention_seconds)

    return Repeat("activity-pruning", every, prune)

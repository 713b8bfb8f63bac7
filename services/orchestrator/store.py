"""WorkflowStore: workflows kept durably, one row each, the record as its proto bytes.

Columns hold what queries need (status, type, times); the record holds everything else,
so a new field in the contract needs no migration. Migrations are numbered and applied
once at start, in order.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import aiosqlite

from aiorch.v1 import orchestrator_pb2

MIGRATIONS = (
    """CREATE TABLE workflows (
        workflow_id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        status INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        record BLOB NOT NULL
    )""",
    "CREATE INDEX workflows_status ON workflows (status)",
)


class WorkflowStore:
    def __init__(self, db: aiosqlite.Connection):
        self.db = db

    @classmethod
    async def open(cls, url: str) -> WorkflowStore:
        parsed = urlparse(url)
        if parsed.scheme != "sqlite":
            raise ValueError(f"unsupported database URL scheme {parsed.scheme!r}; use sqlite:///")
        path = parsed.path
        if path != "/:memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = await aiosqlite.connect(":memory:" if path == "/:memory:" else path)
        # WAL with synchronous=NORMAL: a commit costs no fsync, and a crash loses no
        # committed state short of power loss.
        await db.execute("PRAGMA journal_mode=WAL")
        await db.execute("PRAGMA synchronous=NORMAL")
        store = cls(db)
        await store.migrate()
        return store

    async def migrate(self) -> None:
        await self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY)"
        )
        async with self.db.execute(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations"
        ) as cur:
            (applied,) = await cur.fetchone()
        for version, statement in enumerate(MIGRATIONS[applied:], start=applied + 1):
            await self.db.execute(statement)
            await self.db.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
        await self.db.commit()

    async def insert(self, workflow: orchestrator_pb2.Workflow) -> None:
        now = workflow.created_at.ToJsonString()
        await self.db.execute(
            "INSERT INTO workflows (workflow_id, type, status, created_at, updated_at, record)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (
                workflow.workflow_id,
                workflow.type,
                workflow.status,
                now,
                now,
                workflow.SerializeToString(),
            ),
        )
        await self.db.commit()

    async def update(self, workflow: orchestrator_pb2.Workflow, updated_at: str) -> None:
        await self.db.execute(
            "UPDATE workflows SET status = ?, updated_at = ?, record = ? WHERE workflow_id = ?",
            (workflow.status, updated_at, workflow.SerializeToString(), workflow.workflow_id),
        )
        await self.db.commit()

    async def get(self, workflow_id: str) -> orchestrator_pb2.Workflow | None:
        async with self.db.execute(
            "SELECT record FROM workflows WHERE workflow_id = ?", (workflow_id,)
        ) as cur:
            row = await cur.fetchone()
        return None if row is None else orchestrator_pb2.Workflow.FromString(row[0])

    async def close(self) -> None:
        await self.db.close()

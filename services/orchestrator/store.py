"""WorkflowStore: workflows kept durably, one row each, the record as its proto bytes.

Columns hold what queries need (status, type, times); the record holds everything else,
so a new field in the contract needs no migration. The same statements run on SQLite and
PostgreSQL (services/common/database.py).
"""

from __future__ import annotations

from aiorch.v1 import orchestrator_pb2
from services.common.database import Database

# BYTEA is PostgreSQL's binary type; SQLite stores bytes as a BLOB whatever the name.
MIGRATIONS = (
    """CREATE TABLE workflows (
        workflow_id TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        status INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        record BYTEA NOT NULL
    )""",
    "CREATE INDEX workflows_status ON workflows (status)",
)


class WorkflowStore:
    def __init__(self, db: Database):
        self.db = db

    @classmethod
    async def open(cls, db: Database) -> WorkflowStore:
        await db.migrate("workflows", MIGRATIONS)
        return cls(db)

    async def insert(self, workflow: orchestrator_pb2.Workflow) -> None:
        now = workflow.created_at.ToJsonString()
        await self.db.execute(
            "INSERT INTO workflows (workflow_id, type, status, created_at, updated_at, record)"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            workflow.workflow_id,
            workflow.type,
            workflow.status,
            now,
            now,
            workflow.SerializeToString(),
        )

    async def update(self, workflow: orchestrator_pb2.Workflow, updated_at: str) -> None:
        await self.db.execute(
            "UPDATE workflows SET status = $1, updated_at = $2, record = $3 WHERE workflow_id = $4",
            workflow.status,
            updated_at,
            workflow.SerializeToString(),
            workflow.workflow_id,
        )

    async def get(self, workflow_id: str) -> orchestrator_pb2.Workflow | None:
        row = await self.db.fetchone(
            "SELECT record FROM workflows WHERE workflow_id = $1", workflow_id
        )
        return None if row is None else orchestrator_pb2.Workflow.FromString(row[0])

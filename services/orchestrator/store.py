"""WorkflowStore: workflows kept durably, one row each, the record as its proto bytes.

Columns hold what queries need (status, type, times, idempotency, ownership); the record
holds everything else, so a new field in the contract needs no migration. The same
statements run on SQLite and PostgreSQL (services/common/database.py).

Ownership: the orchestrator that accepted a workflow holds a lease on it (owner,
lease_until in epoch milliseconds) and renews it while the workflow is unfinished. A
workflow whose lease has lapsed was left by an orchestrator that died; another claims it
(`claim_orphans`) and resumes or fails it. The request is kept so a PENDING workflow can
be run by whoever claims it.
"""

from __future__ import annotations

from aiorch.v1 import orchestrator_pb2 as pb
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
    "ALTER TABLE workflows ADD COLUMN caller TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE workflows ADD COLUMN idempotency_key TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE workflows ADD COLUMN request BYTEA",
    "ALTER TABLE workflows ADD COLUMN owner TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE workflows ADD COLUMN lease_until BIGINT NOT NULL DEFAULT 0",
    # The same key from the same caller is one workflow, whichever replica sees it first.
    "CREATE UNIQUE INDEX workflows_idempotency ON workflows (caller, idempotency_key)"
    " WHERE idempotency_key <> ''",
)

# Statuses of an unfinished workflow, as SQL; only these rows are ever updated.
_UNFINISHED = f"({pb.WORKFLOW_STATUS_PENDING}, {pb.WORKFLOW_STATUS_RUNNING})"


class WorkflowStore:
    def __init__(self, db: Database):
        self.db = db

    @classmethod
    async def open(cls, db: Database) -> WorkflowStore:
        await db.migrate("workflows", MIGRATIONS)
        return cls(db)

    async def insert(
        self,
        workflow: pb.Workflow,
        *,
        caller: str = "",
        idempotency_key: str = "",
        request: bytes | None = None,
        owner: str = "",
        lease_until: int = 0,
    ) -> bool:
        """Stores a new workflow; False when `caller` already used `idempotency_key`."""
        now = workflow.created_at.ToJsonString()
        sql = (
            "INSERT INTO workflows (workflow_id, type, status, created_at, updated_at, record,"
            " caller, idempotency_key, request, owner, lease_until)"
            " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )
        args = (
            workflow.workflow_id,
            workflow.type,
            workflow.status,
            now,
            now,
            workflow.SerializeToString(),
            caller,
            idempotency_key,
            request,
            owner,
            lease_until,
        )
        if not idempotency_key:  # a fresh UUID conflicts with nothing: the cheaper statement
            await self.db.execute(sql, *args)
            return True
        rows = await self.db.fetchall(f"{sql} ON CONFLICT DO NOTHING RETURNING workflow_id", *args)
        return bool(rows)

    async def update(self, workflow: pb.Workflow, updated_at: str) -> None:
        """Saves a workflow that is still unfinished in the store; one finished meanwhile
        (e.g. cancelled through another replica) stays as it is."""
        await self.db.execute(
            "UPDATE workflows SET status = $1, updated_at = $2, record = $3"
            f" WHERE workflow_id = $4 AND status IN {_UNFINISHED}",
            workflow.status,
            updated_at,
            workflow.SerializeToString(),
            workflow.workflow_id,
        )

    async def get(self, workflow_id: str) -> pb.Workflow | None:
        row = await self.db.fetchone(
            "SELECT record FROM workflows WHERE workflow_id = $1", workflow_id
        )
        return None if row is None else pb.Workflow.FromString(row[0])

    async def find(self, caller: str, idempotency_key: str) -> pb.Workflow | None:
        """The workflow `caller` started with `idempotency_key`."""
        row = await self.db.fetchone(
            "SELECT record FROM workflows WHERE caller = $1 AND idempotency_key = $2",
            caller,
            idempotency_key,
        )
        return None if row is None else pb.Workflow.FromString(row[0])

    async def renew(self, owner: str, lease_until: int) -> None:
        await self.db.execute(
            f"UPDATE workflows SET lease_until = $1 WHERE owner = $2 AND status IN {_UNFINISHED}",
            lease_until,
            owner,
        )

    async def release(self, owner: str) -> None:
        """Gives up `owner`'s leases at once, so the next orchestrator need not wait."""
        await self.renew(owner, 0)

    async def claim_orphans(
        self, owner: str, now: int, lease_until: int
    ) -> list[tuple[pb.Workflow, bytes | None]]:
        """Takes over the unfinished workflows whose lease lapsed before `now`: each with
        the request it was created with."""
        rows = await self.db.fetchall(
            "UPDATE workflows SET owner = $1, lease_until = $2"
            f" WHERE status IN {_UNFINISHED} AND lease_until < $3 RETURNING record, request",
            owner,
            lease_until,
            now,
        )
        return [(pb.Workflow.FromString(record), request) for record, request in rows]

    async def cancelled(self, owner: str) -> set[str]:
        """Ids of `owner`'s workflows that were cancelled in the store (by another replica)."""
        rows = await self.db.fetchall(
            "SELECT workflow_id FROM workflows WHERE owner = $1 AND status = $2",
            owner,
            pb.WORKFLOW_STATUS_CANCELLED,
        )
        return {row[0] for row in rows}

"""WorkflowStore: workflows kept durably, one row each, the record as its proto bytes.

Columns hold what queries need (status, type, times, idempotency, ownership); the record
holds everything else, so a new field in the contract needs no migration. The same
statements run on SQLite and PostgreSQL (services/common/database.py).

Ownership: the orchestrator that accepted a workflow holds a lease on it (owner,
lease_until in epoch milliseconds) and renews it while it runs the workflow. A workflow
whose lease has lapsed, or whose owner was an earlier life of the claiming process's node,
was left by an orchestrator that died; another claims it (`claim_orphans`) and runs it
again. Every write by an owner names the owner, so a process that lost its lease (stalled
past it, cut off from the store) writes nothing over the new owner's work. The request is
kept so whoever claims a workflow can run it; `interruptions` counts the runs that died
with it, to stop a workflow that kills every orchestrator running it.

The queue shared by replicas (PostgreSQL only): accepted async work waits in the store,
owned by nobody, with `queued_at` (epoch milliseconds) set, until a replica with an idle
worker takes it (`take`: highest priority first, oldest first within one; SKIP LOCKED, so
replicas taking at once take different rows). Taking it is a lease like any other, so a
replica that dies after taking work leaves it to the claims above. A queued workflow is
nobody's orphan, and any write to it (a cancel) takes it out of the queue.

On PostgreSQL the statements that change a workflow also notify (NOTIFY, in the same
statement: no extra round trip) the replicas listening: work queued (`QUEUED`), a
workflow written by its owner (`CHANGED`, for watchers elsewhere), one cancelled by a
replica that does not run it (`CANCELLED`, for the one that does). Notifications are sent
at commit and are best effort: a listener that was away falls back on polls and leases.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.database import Database
from services.common.errors import Unavailable

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
    "ALTER TABLE workflows ADD COLUMN interruptions INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE workflows ADD COLUMN priority INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE workflows ADD COLUMN queued_at BIGINT NOT NULL DEFAULT 0",
    "CREATE INDEX workflows_queue ON workflows (priority DESC, queued_at) WHERE queued_at > 0",
)

# Notification channels (payload: a workflow id, or '' for QUEUED).
QUEUED = "aiorch_queued"
CHANGED = "aiorch_workflow_changed"
CANCELLED = "aiorch_workflow_cancelled"
# STEPS payload: "<workflow id> <status> <step> <step state>", enum values by name.
STEPS = "aiorch_workflow_steps"

# Statuses of an unfinished workflow, as SQL; only these rows are ever updated.
_UNFINISHED = f"({pb.WORKFLOW_STATUS_PENDING}, {pb.WORKFLOW_STATUS_RUNNING})"
# SQLite takes at most 32,766 parameters a statement; stay far below.
_IDS_PER_STATEMENT = 500
_COLUMNS = (
    "workflow_id, type, status, created_at, updated_at, record,"
    " caller, idempotency_key, request, owner, lease_until, priority"
)
_ROWS_PER_INSERT = 200  # 12 parameters a row


def _insert_sql(rows: int) -> str:
    """INSERT of `rows` workflows in one statement."""
    width = _COLUMNS.count(",") + 1
    values = ", ".join(
        "(" + ", ".join(f"${row * width + i}" for i in range(1, width + 1)) + ")"
        for row in range(rows)
    )
    return f"INSERT INTO workflows ({_COLUMNS}) VALUES {values}"


def _settle(batch: list[tuple[tuple, asyncio.Future]], error: Exception | None = None) -> None:
    for _, done in batch:
        if done.done():
            continue
        if error is None:
            done.set_result(None)
        else:
            done.set_exception(error)


def _row(
    workflow: pb.Workflow,
    caller: str,
    idempotency_key: str = "",
    request: bytes | None = None,
    owner: str = "",
    lease_until: int = 0,
) -> tuple:
    """A new workflow's values, in the order of _COLUMNS."""
    now = workflow.created_at.ToJsonString()
    return (
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
        workflow.priority,
    )


class WorkflowStore:
    def __init__(self, db: Database):
        self.db = db
        # Finished workflows waiting for the next group write (insert_finished), each
        # with the future its caller awaits; and the task writing them, while one does.
        self._unwritten: list[tuple[tuple, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

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
        sql = _insert_sql(1)
        args = _row(workflow, caller, idempotency_key, request, owner, lease_until)
        if not idempotency_key:  # a fresh UUID conflicts with nothing: the cheaper statement
            await self.db.execute(sql, *args)
            return True
        rows = await self.db.fetchall(f"{sql} ON CONFLICT DO NOTHING RETURNING workflow_id", *args)
        return bool(rows)

    async def insert_finished(self, workflow: pb.Workflow, caller: str) -> None:
        """Stores a workflow that ended before it was ever stored: a sync workflow with
        no idempotency key, whose caller has had its reply. The ones that end while such
        a write is on its way go together in the next statement (a group commit): under
        load one round trip to the database, and one commit, serve many workflows, and
        with no load nothing waits for company. Returns when this one is written."""
        done = asyncio.get_running_loop().create_future()
        self._unwritten.append((_row(workflow, caller), done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_unwritten(), name="store-writes")
        # Shielded: a caller that stops waiting leaves its row to be written all the same.
        await asyncio.shield(done)

    async def _write_unwritten(self) -> None:
        batch: list[tuple[tuple, asyncio.Future]] = []
        try:
            while self._unwritten:
                batch = self._unwritten[:_ROWS_PER_INSERT]
                del self._unwritten[:_ROWS_PER_INSERT]
                try:
                    await self.db.execute(
                        _insert_sql(len(batch)), *(value for row, _ in batch for value in row)
                    )
                except Unavailable as error:  # each waiter's to retry (Executor.persist)
                    _settle(batch, error)
                except Exception:
                    # A row the database refuses must not cost the others theirs: one by
                    # one, each waiter hears of its own row.
                    for row, done in batch:
                        try:
                            await self.db.execute(_insert_sql(1), *row)
                        except Exception as error:
                            _settle([(row, done)], error)
                        else:
                            _settle([(row, done)])
                else:
                    _settle(batch)
                batch = []
        finally:
            self._writer = None
            for _, done in [*batch, *self._unwritten]:  # cancelled: the loop is closing
                done.cancel()
            self._unwritten.clear()

    async def update(self, workflow: pb.Workflow, updated_at: str, owner: str | None) -> bool:
        """Saves a workflow that is still unfinished in the store and, with an `owner`,
        still leased by it; one finished meanwhile (e.g. cancelled through another
        replica) stays as it is. False when nothing was written."""
        sql = (
            "UPDATE workflows SET status = $1, updated_at = $2, record = $3, queued_at = 0"
            f" WHERE workflow_id = $4 AND status IN {_UNFINISHED}"
        )
        args = [workflow.status, updated_at, workflow.SerializeToString(), workflow.workflow_id]
        if owner is not None:
            sql += " AND owner = $5"
            args.append(owner)
        sql += " RETURNING workflow_id"
        if self.db.dialect == "postgresql":
            channel = CHANGED if owner is not None else CANCELLED
            sql = (
                f"WITH changed AS ({sql})"
                f" SELECT workflow_id, pg_notify('{channel}', workflow_id) FROM changed"
            )
        return bool(await self.db.fetchall(sql, *args))

    async def get(self, workflow_id: str, caller: str | None = None) -> pb.Workflow | None:
        """The workflow, if there is one (created by `caller`, unless None)."""
        if caller is None:
            row = await self.db.fetchone(
                "SELECT record FROM workflows WHERE workflow_id = $1", workflow_id
            )
        else:
            row = await self.db.fetchone(
                "SELECT record FROM workflows WHERE workflow_id = $1 AND caller = $2",
                workflow_id,
                caller,
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

    async def prune(self, updated_before: str) -> int:
        """Deletes the finished workflows last written before `updated_before` (RFC 3339,
        as `updated_at` holds it): stored requests and caller ids are kept no longer than
        the retention. Returns how many went."""
        rows = await self.db.fetchall(
            f"DELETE FROM workflows WHERE status NOT IN {_UNFINISHED} AND updated_at < $1"
            " RETURNING workflow_id",
            updated_before,
        )
        return len(rows)

    async def renew(self, owner: str, workflow_ids: Sequence[str], lease_until: int) -> set[str]:
        """Extends `owner`'s leases on `workflow_ids` (the workflows it runs); returns the
        ids it no longer holds (finished elsewhere, cancelled, or taken over)."""
        held: set[str] = set()
        ids = list(workflow_ids)
        for start in range(0, len(ids), _IDS_PER_STATEMENT):
            chunk = ids[start : start + _IDS_PER_STATEMENT]
            marks = ", ".join(f"${n}" for n in range(3, 3 + len(chunk)))
            rows = await self.db.fetchall(
                "UPDATE workflows SET lease_until = $1 WHERE owner = $2"
                f" AND status IN {_UNFINISHED} AND workflow_id IN ({marks})"
                " RETURNING workflow_id",
                lease_until,
                owner,
                *chunk,
            )
            held.update(row[0] for row in rows)
        return set(ids) - held

    async def release(self, owner: str, now: int = 0) -> None:
        """Gives up `owner`'s leases at once, so the next orchestrator need not wait. On
        PostgreSQL its PENDING workflows (handed back by a stop) go to the shared queue,
        as queued at `now` (epoch milliseconds), for an idle replica to take at once."""
        if self.db.dialect == "postgresql":
            await self.db.execute(
                "WITH queued AS (UPDATE workflows SET lease_until = 0, owner = '',"
                f" queued_at = $1 WHERE owner = $2 AND status = {pb.WORKFLOW_STATUS_PENDING}"
                " RETURNING workflow_id),"
                " released AS (UPDATE workflows SET lease_until = 0"
                f" WHERE owner = $3 AND status = {pb.WORKFLOW_STATUS_RUNNING})"
                f" SELECT pg_notify('{QUEUED}', '') WHERE EXISTS (SELECT 1 FROM queued)",
                now or int(time.time() * 1000),
                owner,
                owner,
            )
            return
        await self.db.execute(
            f"UPDATE workflows SET lease_until = 0 WHERE owner = $1 AND status IN {_UNFINISHED}",
            owner,
        )

    async def claim_orphans(
        self, owner: str, node: str, now: int, lease_until: int
    ) -> list[tuple[pb.Workflow, bytes | None, str, int]]:
        """Takes over the unfinished workflows whose lease lapsed before `now`, and those
        an earlier life of `node` held (`node/...` owners: that process is gone, since
        this one now has its place): each with the request it was created with, its
        caller, and how many runs of it were interrupted, counting the one a RUNNING
        workflow had."""
        sql = (
            "UPDATE workflows SET owner = $1, lease_until = $2, interruptions = interruptions"
            f" + CASE WHEN status = {pb.WORKFLOW_STATUS_RUNNING} THEN 1 ELSE 0 END"
            f" WHERE status IN {_UNFINISHED} AND queued_at = 0 AND (lease_until < $3"
        )
        args: list = [owner, lease_until, now]
        if node:
            sql += " OR (owner LIKE $4 AND owner <> $5)"
            args += [f"{node}/%", owner]
        rows = await self.db.fetchall(
            f"{sql}) RETURNING record, request, caller, interruptions", *args
        )
        return [(pb.Workflow.FromString(r), request, who, n) for r, request, who, n in rows]

    async def notify_steps(self, payloads: Sequence[str]) -> None:
        """Tells the listening replicas of step changes, in order, in one statement
        (PostgreSQL): steps are not stored one by one, and their watchers may be anywhere."""
        calls = ", ".join(f"pg_notify('{STEPS}', ${n})" for n in range(1, len(payloads) + 1))
        await self.db.execute(f"SELECT {calls}", *payloads)

    async def enqueue(
        self,
        workflow: pb.Workflow,
        request: bytes,
        *,
        caller: str,
        idempotency_key: str,
        queued_at: int,
        limit: int,
    ) -> bool | None:
        """Stores a PENDING workflow in the shared queue (PostgreSQL) unless `limit`
        workflows of its priority wait there already: True when queued, None when the
        queue is full, False when `caller` already used `idempotency_key`.

        One statement, so admission costs no extra round trip; replicas admitting at the
        same moment may each see room for one more, so the bound holds within the number
        of requests admitted at once."""
        # $1: the priority counted; then the row's values; then queued_at and the limit.
        # Owned by nobody (owner '', lease_until 0) until a replica takes it.
        row = _row(workflow, caller, idempotency_key, request)
        values = ", ".join(f"${i}" for i in range(2, len(row) + 2))
        rows = await self.db.fetchall(
            "WITH waiting AS (SELECT count(*) AS n FROM workflows"
            " WHERE queued_at > 0 AND priority = $1),"
            f" added AS (INSERT INTO workflows ({_COLUMNS}, queued_at)"
            f" SELECT {values}, ${len(row) + 2} FROM waiting WHERE n < ${len(row) + 3}"
            " ON CONFLICT DO NOTHING RETURNING workflow_id)"
            " SELECT (SELECT count(*) FROM added), (SELECT n FROM waiting),"
            f" (SELECT count(*) FROM (SELECT pg_notify('{QUEUED}', '') FROM added) AS told)",
            workflow.priority,
            *row,
            queued_at,
            limit,
        )
        added, waiting, _ = rows[0]
        if added:
            return True
        return None if waiting >= limit else False

    async def queued(self) -> dict[int, int]:
        """How many workflows wait in the shared queue, by priority."""
        rows = await self.db.fetchall(
            "SELECT priority, count(*) FROM workflows WHERE queued_at > 0 GROUP BY priority"
        )
        return {priority: count for priority, count in rows}

    async def take(
        self, owner: str, lease_until: int, limit: int
    ) -> list[tuple[pb.Workflow, bytes, str, int]]:
        """Takes up to `limit` workflows from the shared queue for `owner` (highest
        priority first, oldest first within one), each with its request, caller and
        when it was queued."""
        rows = await self.db.fetchall(
            "UPDATE workflows SET owner = $1, lease_until = $2, queued_at = 0"
            " FROM (SELECT workflow_id AS id, queued_at AS was FROM workflows"
            " WHERE queued_at > 0 ORDER BY priority DESC, queued_at LIMIT $3"
            " FOR UPDATE SKIP LOCKED) AS next"
            " WHERE workflow_id = next.id RETURNING record, request, caller, next.was",
            owner,
            lease_until,
            limit,
        )
        taken = [(pb.Workflow.FromString(r), request, who, was) for r, request, who, was in rows]
        taken.sort(key=lambda row: (-row[0].priority, row[3]))  # RETURNING keeps no order
        return taken

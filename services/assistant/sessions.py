"""Chat sessions and their history, per owner, in the suite's database beside the
knowledge store.

A message and its answer are stored together, once the answer is complete: a chat that
fails or is cancelled leaves the session as it was (and a session a first message would
have started does not appear).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

from services.common.database import Database

MIGRATIONS = [
    "CREATE TABLE chat_sessions ("
    " session_id TEXT PRIMARY KEY, owner TEXT NOT NULL, title TEXT NOT NULL,"
    " turns INTEGER NOT NULL, created_at DOUBLE PRECISION NOT NULL,"
    " updated_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX chat_sessions_by_owner ON chat_sessions (owner, updated_at)",
    "CREATE TABLE chat_turns ("
    " session_id TEXT NOT NULL, turn_index INTEGER NOT NULL, role TEXT NOT NULL,"
    " text TEXT NOT NULL, citations TEXT NOT NULL, created_at DOUBLE PRECISION NOT NULL,"
    " PRIMARY KEY (session_id, turn_index))",
]

USER = "user"
ASSISTANT = "assistant"
_SESSION_COLUMNS = "session_id, title, turns, created_at, updated_at"


@dataclass(frozen=True)
class Session:
    session_id: str
    title: str
    turns: int
    created_at: float
    updated_at: float


@dataclass(frozen=True)
class Cited:
    """A passage an answer cited, as stored with the answer."""

    source_id: str
    chunk_index: int
    score: float
    passage: str
    title: str
    start: int
    end: int


@dataclass(frozen=True)
class Turn:
    role: str  # USER or ASSISTANT
    text: str
    citations: list[Cited] = field(default_factory=list)
    created_at: float = 0.0


def new_session_id() -> str:
    return uuid.uuid4().hex


class SessionStore:
    def __init__(self, db: Database):
        self.db = db

    @classmethod
    async def open(cls, db: Database) -> SessionStore:
        await db.migrate("chat", MIGRATIONS)
        return cls(db)

    async def create(self, owner: str, title: str, session_id: str = "") -> Session:
        now = time.time()
        session = Session(session_id or new_session_id(), title, 0, now, now)
        await self.db.execute(
            f"INSERT INTO chat_sessions (owner, {_SESSION_COLUMNS})"
            " VALUES ($1, $2, $3, $4, $5, $6)",
            owner,
            session.session_id,
            session.title,
            0,
            now,
            now,
        )
        return session

    async def get(self, owner: str | None, session_id: str) -> Session | None:
        """The owner's session (anyone's for None: an admin reads), or None if there is
        none of this id."""
        sql = f"SELECT {_SESSION_COLUMNS} FROM chat_sessions WHERE session_id = $1"
        if owner is None:
            row = await self.db.fetchone(sql, session_id)
        else:
            row = await self.db.fetchone(sql + " AND owner = $2", session_id, owner)
        return _session(row) if row else None

    async def recent(self, owner: str, limit: int) -> list[Session]:
        rows = await self.db.fetchall(
            f"SELECT {_SESSION_COLUMNS} FROM chat_sessions WHERE owner = $1"
            " ORDER BY updated_at DESC, session_id LIMIT $2",
            owner,
            limit,
        )
        return [_session(row) for row in rows]

    async def history(self, session_id: str, last: int | None = None) -> list[Turn]:
        """The session's turns, oldest first; only the `last` ones if given."""
        sql = "SELECT role, text, citations, created_at FROM chat_turns WHERE session_id = $1"
        if last is None:
            rows = await self.db.fetchall(sql + " ORDER BY turn_index", session_id)
        else:
            rows = await self.db.fetchall(
                sql + " ORDER BY turn_index DESC LIMIT $2", session_id, last
            )
            rows.reverse()
        return [
            Turn(role, text, [Cited(**c) for c in json.loads(citations)], float(at))
            for role, text, citations, at in rows
        ]

    async def append(
        self, owner: str, session_id: str, title: str, turns: list[Turn]
    ) -> Session | None:
        """Adds `turns` to the owner's session, starting it (named `title`) if it does not
        exist yet; None if the id belongs to another owner."""
        now = time.time()
        async with self.db.transaction() as tx:
            found = await tx.fetchval(
                "SELECT owner FROM chat_sessions WHERE session_id = $1", session_id
            )
            if found is None:
                await tx.execute(
                    f"INSERT INTO chat_sessions (owner, {_SESSION_COLUMNS})"
                    " VALUES ($1, $2, $3, 0, $4, $5)",
                    owner,
                    session_id,
                    title,
                    now,
                    now,
                )
            elif found != owner:
                return None
            # The count goes up first: on PostgreSQL that locks the session's row, so two
            # chats in one session at once number their turns one after the other.
            await tx.execute(
                "UPDATE chat_sessions SET turns = turns + $1, updated_at = $2,"
                " title = CASE WHEN title = '' THEN $3 ELSE title END WHERE session_id = $4",
                len(turns),
                now,
                title,
                session_id,
            )
            count = int(
                await tx.fetchval(
                    "SELECT turns FROM chat_sessions WHERE session_id = $1", session_id
                )
            ) - len(turns)
            for offset, turn in enumerate(turns):
                await tx.execute(
                    "INSERT INTO chat_turns (session_id, turn_index, role, text, citations,"
                    " created_at) VALUES ($1, $2, $3, $4, $5, $6)",
                    session_id,
                    count + offset,
                    turn.role,
                    turn.text,
                    json.dumps([c.__dict__ for c in turn.citations]),
                    now,
                )
        return await self.get(owner, session_id)

    async def delete(self, owner: str, session_id: str) -> int | None:
        """Deletes the owner's session; the number of its turns, or None if none."""
        async with self.db.transaction() as tx:
            turns = await tx.fetchval(
                "SELECT turns FROM chat_sessions WHERE session_id = $1 AND owner = $2",
                session_id,
                owner,
            )
            if turns is None:
                return None
            await tx.execute("DELETE FROM chat_turns WHERE session_id = $1", session_id)
            await tx.execute("DELETE FROM chat_sessions WHERE session_id = $1", session_id)
        return int(turns)


def _session(row: tuple) -> Session:
    session_id, title, turns, created_at, updated_at = row
    return Session(session_id, title, int(turns), float(created_at), float(updated_at))

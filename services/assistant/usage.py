"""What each user's chats used, per model and per day (UTC), in the suite's database beside
the sessions; and the daily token budgets checked against it before a model call.

A chat adds its answer's usage once the answer is whole (as the session keeps it): one
row per user, day and model, counted up in place, so a year of a busy user is a few
hundred rows whatever the number of chats.

Budgets count the answering model's tokens (its prompt and its answer), the currency a
model call costs; the embedding of the message is kept apart (`embedding_tokens`) and
counts against no budget: the local embeddings model is free, and a priced one is the
embeddings service's to limit. The local extractive backend reads and writes no model
tokens, so its answers are counted as requests but never spend a budget, and a user whose
budget is spent may still be answered by it.

The check reads what was spent before the call starts: chats of one user running at once
may together go past the budget by what they spend in flight, never by more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from services.common.caller import MAX_USER_ID_CHARS
from services.common.database import Database
from services.common.errors import InvalidInput, PermissionDenied, QuotaSpent

DEFAULT_DAYS = 7
MAX_DAYS = 366
MAX_MODEL_CHARS = 300

MIGRATIONS = [
    "CREATE TABLE assistant_usage ("
    " owner TEXT NOT NULL, day TEXT NOT NULL, model TEXT NOT NULL,"
    " requests BIGINT NOT NULL, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,"
    " embedding_tokens BIGINT NOT NULL, cost_usd DOUBLE PRECISION NOT NULL,"
    " PRIMARY KEY (owner, day, model))",
]
_ADD = (
    "INSERT INTO assistant_usage (owner, day, model, requests, input_tokens, output_tokens,"
    " embedding_tokens, cost_usd) VALUES ($1, $2, $3, 1, $4, $5, $6, $7)"
    " ON CONFLICT (owner, day, model) DO UPDATE SET"
    " requests = assistant_usage.requests + 1,"
    " input_tokens = assistant_usage.input_tokens + excluded.input_tokens,"
    " output_tokens = assistant_usage.output_tokens + excluded.output_tokens,"
    " embedding_tokens = assistant_usage.embedding_tokens + excluded.embedding_tokens,"
    " cost_usd = assistant_usage.cost_usd + excluded.cost_usd"
)
_COLUMNS = "owner, day, model, requests, input_tokens, output_tokens, embedding_tokens, cost_usd"


@dataclass(frozen=True)
class DayUsage:
    """One user's use of one model on one day (UTC)."""

    owner: str
    day: str  # YYYY-MM-DD
    model: str
    requests: int
    input_tokens: int  # the model's prompt
    output_tokens: int  # the model's answer
    embedding_tokens: int  # the embedded message
    cost_usd: float


@dataclass(frozen=True)
class Budget:
    """Model tokens a user may spend per day (UTC); 0 means no limit."""

    daily_tokens: int = 0
    # The same by model id ("openai/gpt-4o-mini"), on top of the overall one.
    model_daily_tokens: Mapping[str, int] = field(default_factory=dict)


class BudgetSpent(QuotaSpent):
    """The caller's daily token budget is spent: RESOURCE_EXHAUSTED, 429 through the
    gateway, with Retry-After until the budget renews at midnight UTC."""

    def __init__(self, message: str, retry_after: float, model: str = ""):
        subject = f"daily model tokens of {model}" if model else "daily model tokens"
        super().__init__(message, retry_after, subject)


def day_of(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


def until_midnight(seconds: float) -> float:
    """Seconds from `seconds` to the next midnight UTC, when a day's budget renews."""
    now = datetime.fromtimestamp(seconds, UTC)
    midnight = datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), UTC)
    return (midnight - now).total_seconds()


class UsageLedger:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time):
        self.db = db
        self.clock = clock

    @classmethod
    async def open(cls, db: Database, clock: Callable[[], float] = time.time) -> UsageLedger:
        await db.migrate("assistant_usage", MIGRATIONS)
        return cls(db, clock)

    def today(self) -> str:
        return day_of(self.clock())

    async def add(
        self,
        owner: str,
        model: str,
        input_tokens: int,
        output_tokens: int,
        embedding_tokens: int,
        cost_usd: float,
    ) -> None:
        """Counts one answered request of `owner` by `model` today."""
        await self.db.execute(
            _ADD,
            owner,
            self.today(),
            model,
            input_tokens,
            output_tokens,
            embedding_tokens,
            cost_usd,
        )

    async def spent_today(self, owner: str) -> dict[str, int]:
        """The model tokens (prompt and answer) `owner` spent today, by model."""
        rows = await self.db.fetchall(
            "SELECT model, input_tokens + output_tokens FROM assistant_usage"
            " WHERE owner = $1 AND day = $2",
            owner,
            self.today(),
        )
        return {model: int(tokens) for model, tokens in rows}

    async def days(
        self, reader: str | None, first: str, last: str, model: str = ""
    ) -> list[DayUsage]:
        """Usage from day `first` to day `last` (both included) of `reader` (None: every
        user), newest day first; only of `model` if given."""
        sql = f"SELECT {_COLUMNS} FROM assistant_usage WHERE day >= $1 AND day <= $2"
        args: list[object] = [first, last]
        if reader is not None:
            args.append(reader)
            sql += f" AND owner = ${len(args)}"
        if model:
            args.append(model)
            sql += f" AND model = ${len(args)}"
        rows = await self.db.fetchall(sql + " ORDER BY day DESC, owner, model", *args)
        return [
            DayUsage(o, d, m, int(r), int(i), int(out), int(e), float(c))
            for o, d, m, r, i, out, e, c in rows
        ]

    async def check(self, budget: Budget, owner: str, model: str) -> None:
        """Refuses a call of `model` for `owner` if a budget of theirs is spent today."""
        per_model = budget.model_daily_tokens.get(model, 0)
        if not budget.daily_tokens and not per_model:
            return
        spent = await self.spent_today(owner)
        wait = until_midnight(self.clock())
        if budget.daily_tokens and sum(spent.values()) >= budget.daily_tokens:
            raise BudgetSpent(
                f"daily token budget spent: {sum(spent.values())} of {budget.daily_tokens}"
                " model tokens used today; it renews at 00:00 UTC",
                wait,
            )
        if per_model and spent.get(model, 0) >= per_model:
            raise BudgetSpent(
                f"daily token budget for {model} spent: {spent.get(model, 0)} of {per_model}"
                " tokens used today; it renews at 00:00 UTC",
                wait,
                model,
            )


def day_range(today: str, days: int) -> tuple[str, str]:
    """The first and last day of the `days` days that end with `today`."""
    last = date.fromisoformat(today)
    return (last - timedelta(days=days - 1)).isoformat(), today


@dataclass(frozen=True)
class Report:
    """A user's usage over some days, with their budget and what they spent today."""

    user_id: str
    days: list[DayUsage]
    daily_token_budget: int
    tokens_today: int
    first_day: str
    last_day: str


async def report(
    ledger: UsageLedger,
    budget: Budget,
    asker: str,
    is_admin: bool,
    user_id: str,
    days: int,
    model: str,
) -> Report:
    """`user_id`'s usage (empty: the asker's own) over the last `days` days (0: 7), which
    only they or an admin may read."""
    if days < 0 or days > MAX_DAYS:
        raise InvalidInput("days", f"must be from 0 (meaning {DEFAULT_DAYS}) to {MAX_DAYS}")
    if len(user_id) > MAX_USER_ID_CHARS:
        raise InvalidInput("user_id", f"longer than {MAX_USER_ID_CHARS} characters")
    if len(model) > MAX_MODEL_CHARS:
        raise InvalidInput("model", f"longer than {MAX_MODEL_CHARS} characters")
    owner = user_id.strip() or asker
    if owner != asker and not is_admin:
        raise PermissionDenied("another user's usage needs the admin role")
    today = ledger.today()
    first, last = day_range(today, days or DEFAULT_DAYS)
    found = await ledger.days(owner, first, last, model)
    spent = await ledger.spent_today(owner)
    return Report(owner, found, budget.daily_tokens, sum(spent.values()), first, last)

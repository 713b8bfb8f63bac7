"""Usage per user, model and day, and the daily token budgets, over a real store (SQLite
and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import grpc
import pytest

from services.assistant.usage import (
    Budget,
    BudgetSpent,
    UsageLedger,
    day_range,
    report,
    until_midnight,
)
from services.common.database import Database
from services.common.errors import InvalidInput, PermissionDenied, status_of

NOON = datetime(2026, 11, 28, 12, 0, tzinfo=UTC).timestamp()
DAY = 86400.0


class Clock:
    def __init__(self, now: float):
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def ledger(database_url):
    db = await Database.open(database_url)
    yield await UsageLedger.open(db, Clock(NOON))
    await db.close()


async def test_chats_are_counted_per_user_model_and_day(ledger):
    await ledger.add("ann", "openai/gpt", 100, 20, 7, 0.5)
    await ledger.add("ann", "openai/gpt", 50, 10, 3, 0.25)
    await ledger.add("ann", "local/extractive", 0, 0, 5, 0.0)
    await ledger.add("bob", "openai/gpt", 1000, 1000, 1, 9.0)
    ledger.clock.now = NOON + DAY
    await ledger.add("ann", "openai/gpt", 1, 2, 3, 0.125)

    days = await ledger.days("ann", "2026-11-28", "2026-11-29")
    assert [(d.day, d.model, d.requests) for d in days] == [
        ("2026-11-29", "openai/gpt", 1),
        ("2026-11-28", "local/extractive", 1),
        ("2026-11-28", "openai/gpt", 2),
    ]
    summed = days[2]
    assert (summed.input_tokens, summed.output_tokens, summed.embedding_tokens) == (150, 30, 10)
    assert summed.cost_usd == pytest.approx(0.75)
    assert [d.day for d in await ledger.days("ann", "2026-11-29", "2026-11-29")] == ["2026-11-29"]
    only = await ledger.days("ann", "2026-11-01", "2026-11-30", "local/extractive")
    assert [d.model for d in only] == ["local/extractive"]
    everyone = await ledger.days(None, "2026-11-28", "2026-11-28")
    assert {d.owner for d in everyone} == {"ann", "bob"}
    assert await ledger.spent_today("ann") == {"openai/gpt": 3}


async def test_chats_counted_at_once_are_all_kept(ledger):
    await asyncio.gather(*(ledger.add("ann", "m", 1, 1, 0, 0.0) for _ in range(20)))
    (day,) = await ledger.days("ann", "2026-11-28", "2026-11-28")
    assert day.requests == 20 and day.input_tokens == 20


async def test_no_budget_never_refuses(ledger):
    await ledger.add("ann", "openai/gpt", 10**9, 10**9, 0, 0.0)
    await ledger.check(Budget(), "ann", "openai/gpt")


async def test_a_spent_daily_budget_refuses_until_midnight_utc(ledger):
    budget = Budget(daily_tokens=100)
    await ledger.add("ann", "openai/a", 40, 20, 500, 0.0)  # embedding tokens do not count
    await ledger.check(budget, "ann", "openai/b")
    await ledger.add("ann", "openai/b", 30, 10, 0, 0.0)
    with pytest.raises(BudgetSpent) as refused:
        await ledger.check(budget, "ann", "openai/b")
    assert "100 of 100" in str(refused.value) and "00:00 UTC" in str(refused.value)
    assert refused.value.retry_after == 12 * 3600
    status, trailers, _ = status_of(refused.value)
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    # Not retried by gRPC clients, and 43200 s for an HTTP client.
    assert dict(trailers) == {"grpc-retry-pushback-ms": "-1", "retry-after": "43200"}
    await ledger.check(budget, "bob", "openai/b")  # another user's budget is their own
    ledger.clock.now = NOON + DAY / 2  # midnight: a new day, a new budget
    await ledger.check(budget, "ann", "openai/b")


async def test_a_model_budget_limits_only_that_model(ledger):
    budget = Budget(model_daily_tokens={"openai/big": 50})
    await ledger.add("ann", "openai/small", 500, 500, 0, 0.0)
    await ledger.check(budget, "ann", "openai/big")
    await ledger.add("ann", "openai/big", 40, 10, 0, 0.0)
    with pytest.raises(BudgetSpent, match="openai/big"):
        await ledger.check(budget, "ann", "openai/big")
    await ledger.check(budget, "ann", "openai/small")


def test_midnight_is_counted_in_utc():
    assert until_midnight(NOON) == DAY / 2
    assert until_midnight(NOON + DAY / 2) == DAY
    assert day_range("2026-03-01", 2) == ("2026-02-28", "2026-03-01")


async def test_a_user_reads_their_own_usage_and_an_admin_anyones(ledger):
    await ledger.add("ann", "openai/gpt", 10, 5, 1, 0.1)
    await ledger.add("ann", "openai/gpt", 10, 5, 1, 0.1)
    budget = Budget(daily_tokens=1000)
    mine = await report(ledger, budget, "ann", False, "", 0, "")
    assert mine.user_id == "ann" and mine.tokens_today == 30 and mine.daily_token_budget == 1000
    assert (mine.first_day, mine.last_day) == ("2026-11-22", "2026-11-28")
    assert [d.requests for d in mine.days] == [2]
    with pytest.raises(PermissionDenied):
        await report(ledger, budget, "bob", False, "ann", 0, "")
    assert (await report(ledger, budget, "bob", False, "bob", 1, "")).days == []
    theirs = await report(ledger, budget, "root", True, "ann", 1, "")
    assert theirs.user_id == "ann" and theirs.tokens_today == 30


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"days": -1}, "days"),
        ({"days": 367}, "days"),
        ({"user_id": "x" * 257}, "user_id"),
        ({"model": "m" * 301}, "model"),
    ],
)
async def test_usage_asked_out_of_range_names_the_field(ledger, fields, field):
    asked = {"user_id": "", "days": 0, "model": ""} | fields
    with pytest.raises(InvalidInput) as refused:
        await report(ledger, Budget(), "ann", True, **asked)
    assert [v.field for v in refused.value.violations] == [field]

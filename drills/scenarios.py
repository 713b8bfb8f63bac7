"""The drills: real faults under real load, each returning one row of figures.

A row counts what was sent and how it ended: succeeded, failed (by reason), refused (429),
unavailable (503/504, allowed: the client may retry), other 5xx (never allowed), and lost
(accepted, but never finished). Every drill must pass the safety checks (nothing lost, no
5xx but 503/504, no second workflow for one idempotency key); `goal` says what else it
should show, and `met` whether it did (timing goals depend on the machine's load).
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg

from drills.load import FINAL, Client, Load, Outcome, reason, wait_final
from drills.processes import Postgres, Redis, Suite
from tests.meeting_samples import MEETING

LABELS = [{"name": "finance"}, {"name": "sports"}, {"name": "politics"}]


def classification(n: int, *, wait=True, cache=False, key="") -> dict:
    text = f"Bob will send invoice {n} to the finance team on Friday, after the budget review."
    body = {"type": "classification", "wait": wait, "input": {"text": text, "labels": LABELS}}
    return body | {"use_cache": cache, "idempotency_key": key}


def meeting(n: int) -> dict:
    text = MEETING + f"Ann: Item {n} closes the meeting.\n"
    return {
        "type": "meeting_intelligence",
        "wait": True,
        "use_cache": False,
        "input": {"text": text},
    }


@dataclass
class Row:
    drill: str
    goal: str
    sent: int = 0
    succeeded: int = 0
    refused: int = 0
    unavailable: int = 0
    bad_5xx: int = 0
    lost: int = 0
    recover_s: float | None = None
    failed: Counter = field(default_factory=Counter)
    note: str = ""
    passed: bool = True
    met: bool = True

    def count(self, outcomes: list[Outcome], ended: dict[str, dict] | None = None) -> Row:
        """Tallies `outcomes`; an accepted async workflow by how it `ended` (lost when it
        never did)."""
        for outcome in outcomes:
            self.sent += 1
            if outcome.http == 200 and outcome.status not in FINAL:
                workflow = (ended or {}).get(outcome.workflow_id, {})
                status = workflow.get("status", "")
                if status == "WORKFLOW_STATUS_SUCCEEDED":
                    self.succeeded += 1
                elif status in FINAL:
                    error = (workflow.get("error") or {}).get("message", "")
                    self.failed[
                        f"async {status.removeprefix('WORKFLOW_STATUS_')}: {error[:80]}"
                    ] += 1
                else:
                    self.lost += 1
            elif _ok(outcome):
                self.succeeded += 1
            elif outcome.http == 429:
                self.refused += 1
            elif outcome.http in (503, 504):
                self.unavailable += 1
                self.failed[reason(outcome)] += 1
            elif outcome.http >= 500 or outcome.http == 0:
                self.bad_5xx += 1
                self.failed[reason(outcome)] += 1
            else:
                self.failed[reason(outcome)] += 1
        return self

    def check(self, ok: bool, why: str) -> None:
        """A goal: missed is reported."""
        if not ok:
            self.met = False
            self.note = "; ".join(filter(None, (self.note, why)))

    def require(self, ok: bool, why: str) -> None:
        """A safety check: failed fails the drills."""
        if not ok:
            self.passed = False
            self.note = "; ".join(filter(None, (self.note, f"UNSAFE: {why}")))

    def safe(self) -> Row:
        """What every drill must show: nothing lost, no 5xx but 503/504."""
        self.require(self.lost == 0, f"{self.lost} accepted workflows lost")
        self.require(self.bad_5xx == 0, f"{self.bad_5xx} answers 5xx other than 503/504")
        return self


def _ok(outcome: Outcome) -> bool:
    return outcome.http == 200 and outcome.status == "WORKFLOW_STATUS_SUCCEEDED"


def recovery(outcomes: list[Outcome], serving: float) -> tuple[float | None, float]:
    """(seconds after `serving` from which >= 99% of requests sent succeeded, that share
    for requests sent from one second after `serving`)."""
    after = sorted((o for o in outcomes if o.sent >= serving), key=lambda o: o.sent)
    late = [o for o in after if o.sent >= serving + 1.0]
    share = sum(map(_ok, late)) / len(late) if late else 0.0
    for index, outcome in enumerate(after):
        rest = after[index:]
        if sum(map(_ok, rest)) >= 0.99 * len(rest):
            return max(0.0, outcome.sent - serving), share
    return None, share


def kill_capability(suite: Suite, name: str, outage: float, settle: float = 4.0) -> Row:
    body = meeting if name == "meeting_intel" else classification
    row = Row(f"kill -9 {name}, {outage:.0f} s down", ">= 99% succeed from 1 s after serving")
    load = Load(suite.settings.gateway_addr, body, clients=4).start()
    time.sleep(2)
    suite.kill(name)
    time.sleep(outage)
    suite.start(name)
    serving = suite.serving(name)
    time.sleep(settle)
    outcomes = load.stop()
    row.count(outcomes)
    row.recover_s, share = recovery(outcomes, serving)
    row.check(share >= 0.99, f"{share:.1%} succeeded from 1 s after serving")
    return row.safe()


def kill_orchestrator(suite: Suite, postgres: Postgres, workflows: int = 150) -> Row:
    row = Row(
        "kill -9 orchestrator, queued + running async",
        "every accepted workflow succeeds; a retried sync key is one workflow",
    )
    client = Client(suite.settings.gateway_addr)
    outcomes = [client.create(classification(n, wait=False)) for n in range(workflows)]
    ids = [o.workflow_id for o in outcomes if o.http == 200]
    key = uuid.uuid4().hex
    sync: list[Outcome] = []
    caller = threading.Thread(
        target=lambda: sync.append(
            Client(suite.settings.gateway_addr).create(classification(10**6, key=key))
        ),
        daemon=True,
    )
    caller.start()
    time.sleep(0.3)
    suite.kill("orchestrator")
    killed = time.monotonic()
    suite.start("orchestrator")
    serving = suite.serving("orchestrator")
    caller.join(60)
    retried = Client(suite.settings.gateway_addr).create(classification(10**6, key=key))
    ended = wait_final(suite.settings.gateway_addr, ids, timeout=120)
    row.recover_s = time.monotonic() - serving
    row.count([*outcomes, retried], ended)
    copies = asyncio.run(_count_key(postgres.url, key))
    first = reason(sync[0]) if sync else "none"
    row.note = f"restart took {serving - killed:.1f} s; the sync call in flight: {first}"
    row.check(row.succeeded == row.sent, f"{row.sent - row.succeeded} did not succeed")
    row.require(copies == 1, f"{copies} workflows for one idempotency key")
    row.check(_ok(retried), f"retried key: {reason(retried)}")
    return row.safe()


async def _count_key(url: str, key: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval("SELECT count(*) FROM workflows WHERE idempotency_key = $1", key)
    finally:
        await conn.close()


def kill_redis(suite: Suite, redis: Redis, down: float = 3.0) -> Row:
    row = Row("kill -9 Redis mid-run", "0 failed: the cache is an optimisation")
    load = Load(suite.settings.gateway_addr, lambda n: classification(n % 40, cache=True)).start()
    time.sleep(2)
    redis.kill()
    time.sleep(down)
    redis.start()
    time.sleep(3)
    row.count(load.stop())
    row.check(row.succeeded == row.sent, f"{row.sent - row.succeeded} did not succeed")
    return row.safe()


def restart_postgres(suite: Suite, postgres: Postgres) -> Row:
    row = Row(
        "PostgreSQL restarted mid-run",
        "every accepted workflow finishes; refusals are 503 only",
    )
    gateway = suite.settings.gateway_addr
    sync = Load(gateway, classification, clients=2).start()
    keyed = Load(
        gateway, lambda n: classification(n, wait=False, key=uuid.uuid4().hex), 2, pause=0.02
    ).start()
    time.sleep(2)
    started = time.monotonic()
    postgres.stop()
    postgres.start()
    row.note = f"PostgreSQL down {time.monotonic() - started:.1f} s"
    time.sleep(4)
    outcomes = sync.stop() + keyed.stop()
    ids = [o.workflow_id for o in outcomes if o.http == 200 and o.status not in FINAL]
    row.count(outcomes, wait_final(gateway, ids, timeout=120))
    return row.safe()


def rolling_restart(suite: Suite, names: tuple[str, ...]) -> Row:
    row = Row("rolling restart (SIGTERM, start) of " + ", ".join(names), "0 failed workflows")
    load = Load(suite.settings.gateway_addr, classification, clients=4).start()
    time.sleep(1)
    for name in names:
        stopped = suite.terminate(name)
        row.check(stopped, f"{name} did not stop within 30 s of SIGTERM and was killed")
        suite.start(name)
        suite.serving(name)
        time.sleep(1)
    row.count(load.stop())
    row.check(row.succeeded == row.sent, f"{row.sent - row.succeeded} did not succeed")
    return row.safe()


def _wall(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def overload(suite: Suite, seconds: float, factor: int = 4, burst: int = 150) -> Row:
    row = Row(
        f"{factor}x overload, async",
        "refusals are 429; every accepted finishes; goodput / capacity >= 0.9",
    )
    gateway = suite.settings.gateway_addr
    # Capacity: how fast the workers drain a burst that the queue holds whole.
    client = Client(gateway)
    drained = wait_final(
        gateway,
        [client.create(classification(n, wait=False)).workflow_id for n in range(burst)],
        120,
    )
    finishes = sorted(_wall(w["finished_at"]) for w in drained.values() if "finished_at" in w)
    capacity = (len(finishes) - 1) / (finishes[-1] - finishes[0])
    # Overload: `factor` times that, sent on a schedule whatever the answers.
    outcomes: list[Outcome] = []
    start = time.time()

    def send(offset: int, senders: int) -> None:
        sender = Client(gateway)
        interval = senders / (factor * capacity)
        n = offset
        while (due := start + (n // senders) * interval) < start + seconds:
            time.sleep(max(0.0, due - time.time()))
            outcomes.append(sender.create(classification(10**7 + n, wait=False)))
            n += senders

    threads = [threading.Thread(target=send, args=(i, 4), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    end = start + seconds
    accepted = [o.workflow_id for o in outcomes if o.http == 200]
    ended = wait_final(gateway, accepted, timeout=180)
    row.count(outcomes, ended)
    done_in_window = sum(
        1
        for w in ended.values()
        if w.get("status") == "WORKFLOW_STATUS_SUCCEEDED"
        and start <= _wall(w["finished_at"]) <= end
    )
    goodput = done_in_window / seconds
    row.note = (
        f"capacity {capacity:.0f}/s, offered {len(outcomes) / seconds:.0f}/s, "
        f"goodput {goodput:.0f}/s = {goodput / capacity:.2f} x capacity"
    )
    other = row.sent - row.succeeded - row.refused - row.lost
    row.require(other == 0, f"{other} neither succeeded nor refused with 429")
    row.check(goodput >= 0.9 * capacity, "goodput below 0.9 x capacity")
    return row.safe()

"""Fault drills: the real suite, each service a process of its own, on a PostgreSQL and a
Redis of the drill's own, under load through Envoy; services killed, restarted, overloaded.

    python -m drills            # the full set (about 7 minutes)
    python -m drills --short    # the CI set (under 3 minutes)

Prints one table (per drill: sent, succeeded, refused, failed by reason, lost, time to
recover, whether it met its goal) and exits 1 when anything accepted was lost, a 5xx
other than 503/504 came back, or one idempotency key made two workflows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from drills import scenarios
from drills.processes import Postgres, Redis, running_suite

CAPABILITIES = ("classifier", "embeddings", "meeting_intel")
ROLLING = ("embeddings", "classifier", "meeting_intel", "monitor", "assistant", "orchestrator")


def drills(short: bool):
    """(name, run(suite, postgres, redis)) in order."""
    outages = (3.0,) if short else (5.0, 60.0)
    killed = ("classifier",) if short else CAPABILITIES
    for name in killed:
        for outage in outages:
            yield (
                f"kill-{name}",
                lambda s, p, r, n=name, o=outage: scenarios.kill_capability(s, n, o),
            )
    yield "kill-orchestrator", lambda s, p, r: scenarios.kill_orchestrator(s, p)
    yield "kill-redis", lambda s, p, r: scenarios.kill_redis(s, r)
    yield "restart-postgres", lambda s, p, r: scenarios.restart_postgres(s, p)
    yield "overload", lambda s, p, r: scenarios.overload(s, seconds=4.0 if short else 10.0)
    yield "rolling-restart", lambda s, p, r: scenarios.rolling_restart(s, ROLLING)


def verdict(row: scenarios.Row) -> str:
    return ("pass" if row.passed else "FAIL") + ("" if row.met else ", goal missed")


def table(rows: list[scenarios.Row]) -> str:
    head = f"{'drill':<48} {'sent':>6} {'ok':>6} {'429':>5} {'503/4':>5} {'5xx':>4} {'lost':>4}"
    head += f" {'recover':>8}  result"
    lines = [head, "-" * len(head)]
    for row in rows:
        recover = "-" if row.recover_s is None else f"{row.recover_s:.2f} s"
        lines.append(
            f"{row.drill:<48} {row.sent:>6} {row.succeeded:>6} {row.refused:>5} "
            f"{row.unavailable:>5} {row.bad_5xx:>4} {row.lost:>4} {recover:>8}  {verdict(row)}"
        )
        lines.append(f"    goal: {row.goal}")
        for why, count in row.failed.most_common(4):
            lines.append(f"    failed {count:>5} x {why}")
        if row.note:
            lines.append(f"    {row.note}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", action="store_true", help="the CI set, under 3 minutes")
    parser.add_argument("--only", default="", help="run the drills whose name contains this")
    parser.add_argument("--keep", type=Path, help="keep every process's log in this folder")
    args = parser.parse_args()
    started = time.monotonic()
    rows = []
    with tempfile.TemporaryDirectory(prefix="aiorch-drills-") as tmp:
        folder = Path(tmp)
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            folder = Path(tempfile.mkdtemp(prefix="drills-", dir=args.keep.resolve()))
        postgres = Postgres(folder / "postgres")
        postgres.start()
        redis = Redis()
        redis.start()
        try:
            with running_suite(folder, postgres, redis) as suite:
                for name, drill in drills(args.short):
                    if args.only not in name:
                        continue
                    row = drill(suite, postgres, redis)
                    rows.append(row)
                    print(f"{row.drill}: {verdict(row)}", flush=True)
        finally:
            redis.kill()
            postgres.stop()
    print()
    print(table(rows))
    failed = [row.drill for row in rows if not row.passed]
    missed = [row.drill for row in rows if not row.met]
    print(
        f"\ndrills: {len(rows) - len(failed)} passed, {len(failed)} failed "
        f"({len(missed)} missed a goal) in {time.monotonic() - started:.0f} s"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

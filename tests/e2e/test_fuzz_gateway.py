"""Malformed requests over every route of the JSON API, through the real Envoy to the real
services: each must be answered 4xx (or 2xx when it happens to be valid), never 5xx, and
every service must still be serving afterwards.

The routes and their fields come from the OpenAPI document of the contracts, so a new
route is fuzzed without a change here. AIORCH_FUZZ_REQUESTS sets how many requests
(default 1500: under a minute with the suite's start); AIORCH_FUZZ_SEED repeats a run.

    AIORCH_FUZZ_REQUESTS=10000 .venv/bin/python -m pytest tests/e2e/test_fuzz_gateway.py -s
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest

from gateway.openapi import document
from services.common.settings import PROJECT_ROOT
from tools.ready import SERVICES, wait_serving

pytestmark = pytest.mark.e2e

REQUESTS = int(os.environ.get("AIORCH_FUZZ_REQUESTS", "1500"))
SEED = int(os.environ.get("AIORCH_FUZZ_SEED", str(int(time.time()))))
WORKERS = 4


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # with {placeholders}
    query: tuple[str, ...]
    fields: dict  # body field name -> JSON schema (resolved one level)


def routes() -> list[Route]:
    spec = document(PROJECT_ROOT / "build" / "aiorch.pb")
    schemas = spec["components"]["schemas"]
    found = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            params = op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {})
            ref = body.get("schema", {}).get("$ref", "")
            schema = schemas.get(ref.rsplit("/", 1)[-1], {}) if ref else {}
            found.append(
                Route(
                    method.upper(),
                    path,
                    tuple(p["name"] for p in params if p["in"] == "query"),
                    schema.get("properties", {}),
                )
            )
    return found


# --- what goes wrong ------------------------------------------------------------------

STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",  # a lone surrogate: json.dumps escapes it, the JSON parser must refuse it
    "é" * 3,
    "../../etc/passwd",
    "%ff%fe",
    "null",
    "0" * 40,
    "💥" * 50,
    "<script>",
    "' OR 1=1 --",
]
IDS = [
    "%ff%fe",
    "%ED%BF%BF",
    "%C0%AF",
    "%00",
    "..%2F..",
    "x" * 300,
    "00000000-0000-4000-8000-000000000000",
    "not-a-uuid",
    "%20",
    "a%2Fb",
    "%E2%82",
    "%F4%90%80%80",
]


def wrong_value(rng: random.Random, depth: int = 0):
    pick = rng.randrange(14)
    if pick == 0:
        return rng.choice(STRINGS)
    if pick == 1:
        return "x" * rng.choice([1_000, 70_000, 250_000])
    if pick == 2:
        return rng.choice([-1, 0, 2**31, 2**63, -(2**64), 1e308, -0.0, 3.5])
    if pick == 3:
        return rng.choice([True, False, None])
    if pick == 4:
        return [wrong_value(rng, depth + 1) for _ in range(rng.randrange(4))] if depth < 3 else []
    if pick == 5:
        return {rng.choice(STRINGS) or "k": wrong_value(rng, depth + 1)} if depth < 3 else {}
    if pick == 6:  # deep nesting, around the gateway's limit
        value: object = "leaf"
        for _ in range(rng.choice([10, 23, 25, 60, 300])):
            value = rng.choice([{"a": value}, [value]])
        return value
    if pick == 7:
        return ["x" * 10] * rng.choice([300, 5_000])
    if pick == 8:
        return rng.choice(["30s", "-1s", "1e9s", "s", "9999999999999s", "1.5", "P1D"])
    if pick == 9:
        return rng.choice(["PRIORITY_HIGH", "WORKFLOW_STATUS_NOPE", "99", 99, -1])
    if pick == 10:
        return {"name": "x" * rng.choice([100, 5_000, 100_000]), "description": "d" * 50_000}
    if pick == 11:
        return [{"name": rng.choice(STRINGS)} for _ in range(rng.randrange(1, 300))]
    if pick == 12:
        return {"text": rng.choice(STRINGS), "labels": wrong_value(rng, depth + 1)}
    return rng.random()


def body_for(route: Route, rng: random.Random) -> bytes:
    pick = rng.randrange(10)
    if pick == 0:
        return rng.choice(
            [
                b"",
                b"{",
                b"}",
                b"[]",
                b"null",
                b"42",
                b'"text"',
                b"{'single': 'quotes'}",
                b'{"a": 1,}',
                b'{"text": "\xff\xfe invalid utf-8"}',
                b'{"text": "nul \x00 raw"}',
                b"\x00\x01\x02",
                b'{"a":' * 5_000,
                b"[" * 100_000,
                b'{"text": "' + b"\\u0000" * 1000 + b'"}',
                b'{"type": "classification", "type": "embedding"}',
            ]
        )
    if pick == 1:  # unknown fields only
        return json.dumps({"wiat": True, "tpye": "x", rng.choice(STRINGS) or "k": 1}).encode()
    body = {}
    names = list(route.fields) or ["text", "type", "input"]
    for name in rng.sample(names, k=min(len(names), rng.randrange(1, 4))):
        body[name] = wrong_value(rng)
    if route.path.endswith("/workflows") and rng.random() < 0.5:
        body.setdefault("type", rng.choice(["classification", "embedding", "hybrid", "nope"]))
        body.setdefault("input", {"text": rng.choice(STRINGS)})
        body["wait"] = False
    return json.dumps(body).encode()


def query_for(route: Route, rng: random.Random) -> str:
    parts = []
    for name in route.query:
        if rng.random() < 0.6:
            parts.append(f"{name}={rng.choice([*IDS, '30s', '-5s', 'abc', 'cpu.*', '1e99s'])}")
    if rng.random() < 0.3:
        parts.append(rng.choice(["unknown=1", "a=%ff", "=", "&&", "x" * 2000 + "=1", "%zz=1"]))
    return ("?" + "&".join(parts)) if parts else ""


def request_for(route: Route, rng: random.Random, token: str) -> tuple[str, str, dict, bytes]:
    path = route.path.replace("{workflow_id}", rng.choice(IDS))
    path += query_for(route, rng)
    method = route.method
    if rng.random() < 0.12:
        method = rng.choice(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
    headers = {"authorization": f"Bearer {token}"}
    content_type = rng.choices(
        [
            "application/json",
            "text/plain",
            "application/grpc",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
            "",
        ],
        weights=[70, 6, 6, 6, 6, 6],
    )[0]
    if content_type:
        headers["content-type"] = content_type
    if rng.random() < 0.2:
        headers |= rng.choice(
            [
                {"grpc-previous-rpc-attempts": "x"},
                {"grpc-timeout": "-1S"},
                {"grpc-encoding": "gzip"},
                {"x-user-id": "mallory", "x-user-roles": "admin"},
                {"te": "trailers"},
                {"aiorch-attempt": "\x7f"},
                {"x-padding": "p" * 20_000},
                {"authorization": "Bearer " + "a.b.c"},
                {"grpc-status": "13"},
                {"content-encoding": "gzip"},
                {"accept": "application/grpc"},
            ]
        )
    body = body_for(route, rng) if method in ("POST", "PUT", "PATCH") else b""
    if method in ("GET", "DELETE") and rng.random() < 0.1:
        body = b'{"stray": "body"}'
    return method, path, headers, body


@dataclass
class Outcome:
    status: int
    method: str
    path: str
    detail: str


def send(addr: str, method: str, path: str, headers: dict, body: bytes) -> Outcome:
    host, port = addr.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=15)
    shown = f"{method} {path[:120]}"
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        if body or method in ("POST", "PUT", "PATCH"):
            connection.putheader("content-length", str(len(body)))
        connection.endheaders(body or None)
        reply = connection.getresponse()
        # A stream that took the request would go on: its status says enough.
        detail = (
            ""
            if reply.getheader("content-length") is None
            else reply.read(2000).decode(errors="replace")
        )
        return Outcome(reply.status, method, shown, detail)
    except TimeoutError:
        return Outcome(0, method, shown, "no answer within 15 s")
    except (ConnectionError, http.client.HTTPException) as error:
        # Envoy may close a connection on a request it cannot parse: that is a refusal.
        return Outcome(-1, method, shown, repr(error)[:200])
    finally:
        connection.close()


def test_malformed_requests_over_every_route_answer_4xx_and_nothing_breaks(suite):
    rng = random.Random(SEED)
    table = routes()
    assert len(table) >= 23
    tokens = [suite.token(f"fuzz-{i}") for i in range(WORKERS)]
    planned = []
    for i in range(REQUESTS):
        route = table[i % len(table)]  # every route equally often
        planned.append(request_for(route, rng, tokens[i % WORKERS]))
    started = time.monotonic()
    addr = suite.settings.gateway_addr
    with ThreadPoolExecutor(WORKERS) as pool:
        outcomes = list(pool.map(lambda r: send(addr, *r), planned))
    seconds = time.monotonic() - started
    statuses = Counter(o.status for o in outcomes)
    print(
        f"\nfuzz: seed {SEED}, {len(outcomes)} requests over {len(table)} routes in "
        f"{seconds:.1f} s: {dict(sorted(statuses.items()))}"
    )
    server_errors = [o for o in outcomes if o.status >= 500 or o.status == 0]
    assert not server_errors, (
        f"seed {SEED}: {len(server_errors)} of {len(outcomes)} answered 5xx or not at all:\n"
        + "\n".join(f"{o.status} {o.path}: {o.detail[:300]}" for o in server_errors[:15])
    )
    # Every service is still serving, and the gateway still answers a plain call.
    for name in SERVICES:
        asyncio.run(wait_serving(suite.settings.addr_of(name), 10))
    assert suite.request("GET", "/v1/ai-orchestration/workflows/types").status == 200

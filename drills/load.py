"""Load for the drills: clients in threads of their own, each on a keep-alive HTTP
connection to the gateway, sending workflows and recording what came back and when.
"""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway import tokens

FINAL = {"WORKFLOW_STATUS_SUCCEEDED", "WORKFLOW_STATUS_FAILED", "WORKFLOW_STATUS_PARTIAL"}
FINAL |= {"WORKFLOW_STATUS_CANCELLED", "WORKFLOW_STATUS_DEADLINE_EXCEEDED"}
PATH = "/v1/ai-orchestration/workflows"


@dataclass(frozen=True)
class Outcome:
    sent: float  # monotonic
    took: float
    http: int  # 0: no HTTP answer at all
    status: str = ""  # the workflow's, when there is one
    workflow_id: str = ""
    error: str = ""


def reason(outcome: Outcome) -> str:
    """A short kind of failure, numbers folded, for counting alike failures together."""
    if outcome.http == 200:
        kind = outcome.status.removeprefix("WORKFLOW_STATUS_")
        return f"{kind}: {re.sub(r'[0-9.]+', 'N', outcome.error)[:70]}"
    return f"HTTP {outcome.http}: {re.sub(r'[0-9.]+', 'N', outcome.error)[:160]}"


class Client:
    """One keep-alive connection to the gateway."""

    def __init__(self, gateway: str, timeout: float = 90):
        host, _, port = gateway.rpartition(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
        # The gateway of the drills trusts the development keys (gateway/tokens.py).
        self.token = tokens.dev_token("drills")

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json"} if data else {}
        headers["authorization"] = f"Bearer {self.token}"
        try:
            self.connection.request(method, path, body=data, headers=headers)
            reply = self.connection.getresponse()
            raw = reply.read()
        except (OSError, http.client.HTTPException) as error:
            self.connection.close()  # reconnects on the next request
            return 0, {"message": f"{type(error).__name__}: {error}"}
        try:
            return reply.status, json.loads(raw)
        except ValueError:
            return reply.status, {"message": raw[:200].decode(errors="replace")}

    def create(self, body: dict) -> Outcome:
        sent = time.monotonic()
        status, reply = self.call("POST", PATH, body)
        took = time.monotonic() - sent
        workflow = reply.get("workflow") or {}
        error = (workflow.get("error") or {}).get("message", "") or reply.get("message", "")
        return Outcome(
            sent, took, status, workflow.get("status", ""), workflow.get("workflow_id", ""), error
        )

    def workflow(self, workflow_id: str) -> dict:
        status, reply = self.call("GET", f"{PATH}/{workflow_id}/status")
        return reply.get("workflow") or {} if status == 200 else {"status": f"HTTP {status}"}


@dataclass
class Load:
    """`clients` threads sending `body(n)` one after another until stopped."""

    gateway: str
    body: Callable[[int], dict]
    clients: int = 4
    pause: float = 0.0  # between two requests of one client
    outcomes: list[Outcome] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _count: Counter = field(default_factory=Counter)

    def start(self) -> Load:
        for index in range(self.clients):
            thread = threading.Thread(target=self._run, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> list[Outcome]:
        self._stop.set()
        for thread in self._threads:
            thread.join(120)
        return self.outcomes

    def _run(self, index: int) -> None:
        client = Client(self.gateway)
        n = index
        while not self._stop.is_set():
            self.outcomes.append(client.create(self.body(n)))  # list.append is atomic
            n += self.clients
            if self.pause:
                self._stop.wait(self.pause)


def wait_final(gateway: str, ids: list[str], timeout: float) -> dict[str, dict]:
    """Each workflow as read through the gateway once all are final (or `timeout` passed)."""
    client = Client(gateway)
    found: dict[str, dict] = {workflow_id: {} for workflow_id in ids}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for workflow_id, workflow in found.items():
            if workflow.get("status") not in FINAL:
                found[workflow_id] = client.workflow(workflow_id)
        if all(w.get("status") in FINAL for w in found.values()):
            break
        time.sleep(0.5)
    return found

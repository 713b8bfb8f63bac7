"""Two live orchestrator processes on one PostgreSQL store and one Redis, calling the same
capability services: work spreads over both, a cancel through one stops a workflow the
other runs, and when one is killed (SIGKILL) under load the other finishes all its work:
nothing lost, nothing finished twice, and only what the dead one was running run again."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections import Counter

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aiorch.v1 import orchestrator_pb2 as pb
from aiorch.v1 import orchestrator_pb2_grpc
from services.common.database import Database
from services.common.settings import PROJECT_ROOT
from tests.callers import channel_as
from tools.ready import wait_serving
from tools.suite import free_addr

from .orchestrator_fakes import FakeCapabilities, finished, request, start_fakes

REDIS_URL = os.environ.get("AIORCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


class _Classifier(FakeCapabilities):
    """Records which texts it classified to the end; a text starting "slow" takes long."""

    def __init__(self):
        super().__init__(delay=0.4)
        self.completed: Counter[str] = Counter()

    async def Classify(self, request, context):
        if request.text.startswith("slow"):
            self.delay["Classify"] = 60
        try:
            reply = await super().Classify(request, context)
        finally:
            self.delay["Classify"] = 0.4
        self.completed[request.text] += 1
        return reply


@contextlib.asynccontextmanager
async def _orchestrator(tmp_path, name: str, env: dict[str, str]):
    """`python -m services.orchestrator` as node `name`; yields (process, stub, the
    address of its metrics)."""
    addr, metrics = free_addr(), free_addr()
    log = (tmp_path / f"{name}.log").open("w")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.orchestrator",
        cwd=PROJECT_ROOT,
        env=os.environ
        | env
        | {
            "AIORCH_ORCHESTRATOR_ADDR": addr,
            "AIORCH_ORCHESTRATOR_METRICS_ADDR": metrics,
            "AIORCH_ORCHESTRATOR_NODE": name,
        },
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    channel = channel_as(addr)
    try:
        await wait_serving(addr, 60)
        yield process, orchestrator_pb2_grpc.OrchestratorServiceStub(channel), metrics
    finally:
        await channel.close()
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 30)
        log.close()


async def _cancels_counted(metrics_addr: str) -> float:
    """Cancelled workflows a replica's metrics count."""

    def scrape() -> str:
        with urllib.request.urlopen(f"http://{metrics_addr}/metrics", timeout=5) as reply:
            return reply.read().decode()

    for family in text_string_to_metric_families(await asyncio.to_thread(scrape)):
        for sample in family.samples:
            if (
                sample.name == "aiorch_orchestrator_workflows_total"
                and sample.labels.get("status") == "cancelled"
            ):
                return sample.value
    return 0.0


async def _owners(db: Database, *workflow_ids: str) -> dict[str, tuple[str, int]]:
    """workflow id -> (node of the replica that holds or held it, status)."""
    rows = await db.fetchall("SELECT workflow_id, owner, status FROM workflows")
    found = {wid: (owner.partition("/")[0], status) for wid, owner, status in rows}
    return {wid: found[wid] for wid in workflow_ids} if workflow_ids else found


async def _until(condition, timeout: float = 10) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not within {timeout} s")


@pytest.fixture
async def redis_prefix():
    import redis.asyncio

    prefix = f"aiorch-test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.asyncio.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_replicas_share_work_cancel_across_and_survive_one_killed(
    tmp_path, postgres_url, redis_prefix
):
    fake = _Classifier()
    async with contextlib.AsyncExitStack() as stack:
        fakes = await start_fakes(stack, fake)
        env = {
            "AIORCH_DATABASE_URL": postgres_url,
            "AIORCH_REDIS_URL": REDIS_URL,
            "AIORCH_CACHE_KEY_PREFIX": redis_prefix,
            "AIORCH_CLASSIFIER_ADDR": fakes,
            "AIORCH_MEETING_INTEL_ADDR": fakes,
            "AIORCH_EMBEDDINGS_ADDR": fakes,
            "AIORCH_MONITOR_ADDR": "127.0.0.1:1",
            "AIORCH_ORCHESTRATOR_REPLICAS": "2",
            "AIORCH_ORCHESTRATOR_WORKERS": "4",
            "AIORCH_WORKFLOW_LEASE_SECONDS": "2",
        }
        a, stub_a, metrics_a = await stack.enter_async_context(_orchestrator(tmp_path, "a", env))
        _, stub_b, metrics_b = await stack.enter_async_context(_orchestrator(tmp_path, "b", env))
        stubs = {"a": stub_a, "b": stub_b}
        db = await Database.open(postgres_url)
        stack.push_async_callback(db.close)

        # A cancel through the replica that does not run a workflow stops it at once.
        slow = (await stub_a.CreateWorkflow(request("slow one", wait=False))).workflow
        await _until(lambda: fake.active["Classify"] == 1)
        [(runner, _)] = (await _owners(db, slow.workflow_id)).values()
        other = stubs["b" if runner == "a" else "a"]
        started = time.perf_counter()
        cancel = pb.CancelWorkflowRequest(workflow_id=slow.workflow_id)
        cancelled = (await other.CancelWorkflow(cancel)).workflow
        await _until(lambda: fake.cancelled["Classify"] == 1, timeout=5)
        cancel_took = time.perf_counter() - started
        await asyncio.sleep(0.5)  # the runner records the end
        cancels_counted = sum([await _cancels_counted(m) for m in (metrics_a, metrics_b)])

        # Load on both, then one dies mid-run.
        texts = [f"document {n}" for n in range(60)]
        accepted = []
        for n, text in enumerate(texts):
            stub = stub_a if n % 2 else stub_b
            created = await stub.CreateWorkflow(request(text, wait=False, use_cache=False))
            accepted.append(created.workflow.workflow_id)
        await _until(lambda: sum(fake.completed.values()) >= 10)
        before = await _owners(db, *accepted)
        a.send_signal(signal.SIGKILL)
        await asyncio.wait_for(a.wait(), 10)
        # Taken by a and unfinished (RUNNING, or PENDING with its start not written yet).
        unfinished = (pb.WORKFLOW_STATUS_PENDING, pb.WORKFLOW_STATUS_RUNNING)
        running_on_a = [
            wid for wid, (node, status) in before.items() if node == "a" and status in unfinished
        ]
        ended = [await finished(stub_b, wid, timeout=60) for wid in accepted]
        after = await _owners(db, *accepted)
        print(
            f"killed a with {len(running_on_a)} running;"
            f" finished by a {sum(n == 'a' for n, _ in after.values())},"
            f" by b {sum(n == 'b' for n, _ in after.values())};"
            f" classified again {sum(fake.completed[t] for t in texts) - len(texts)};"
            f" cancel across took {cancel_took:.3f} s"
        )

    assert cancelled.status == pb.WORKFLOW_STATUS_CANCELLED
    assert cancel_took < 1.0
    assert cancels_counted == 1  # by the runner only, though both heard of it
    assert fake.completed["slow one"] == 0
    # Nothing lost: every workflow ended, and well.
    assert [w.status for w in ended] == [pb.WORKFLOW_STATUS_SUCCEEDED] * len(texts)
    assert all(w.result.classification.label == "finance" for w in ended)
    # Work spread: both ran some to the end.
    finishers = Counter(node for node, _ in after.values())
    assert finishers["a"] > 0 and finishers["b"] > 0
    # Each text classified to the end once, but for what the dead one was running when it
    # died: those the survivor took over ran again (a step reads its input, so a second
    # run is safe; a call the dead one had in flight may have ended at the service).
    assert running_on_a  # it died under load
    taken_over = {wid for wid in running_on_a if after[wid][0] == "b"}
    for text, workflow_id in zip(texts, accepted, strict=True):
        assert fake.completed[text] == 1 or (
            fake.completed[text] == 2 and workflow_id in taken_over
        ), text

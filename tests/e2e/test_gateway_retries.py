"""What the real Envoy retries: a refusal a service marks safe to retry is sent again, any
other refusal reaches the client as it is. The service here is a scripted orchestrator on
the runtime's own server (so its refusal leaves through the runtime's error mapping)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import urllib.error
import urllib.request

import pytest

from aiorch.v1 import orchestrator_pb2 as pb
from aiorch.v1 import orchestrator_pb2_grpc as pb_grpc
from gateway import tokens
from gateway.render import render
from services.common.errors import Unavailable
from services.common.server import Service, create_server
from services.common.settings import Settings
from tests.e2e.conftest import BIN, edge_for
from tools.ready import wait_gateway
from tools.suite import DESCRIPTOR, ENVOY_FLAGS, free_addr

pytestmark = pytest.mark.e2e

WORKFLOWS = "/v1/ai-orchestration/workflows"
BODY = {"type": "classification", "wait": True, "input": {"text": "hi", "labels": [{"name": "a"}]}}


class Scripted(pb_grpc.OrchestratorServiceServicer):
    """Refuses the first CreateWorkflow with `refusal`, then answers."""

    def __init__(self, refusal: Exception):
        self.refusal = refusal
        self.calls = 0

    async def CreateWorkflow(self, request, context):
        self.calls += 1
        if self.calls == 1:
            raise self.refusal
        return pb.CreateWorkflowResponse(
            workflow=pb.Workflow(workflow_id="w-1", status=pb.WORKFLOW_STATUS_SUCCEEDED)
        )


async def post_through_envoy(tmp_path, servicer) -> tuple[int, dict]:
    server = create_server(
        [
            Service(
                "aiorch.v1.OrchestratorService",
                servicer,
                pb_grpc.add_OrchestratorServiceServicer_to_server,
            )
        ],
        "127.0.0.1:0",
    )
    await server.start()
    keys = tokens.write_key_pair(tmp_path / "keys")
    settings = Settings(
        orchestrator_addr=f"127.0.0.1:{server.port}",
        gateway_addr=free_addr(),
        gateway_admin_addr=free_addr(),
    )
    config = tmp_path / "envoy.yaml"
    config.write_text(render(settings, DESCRIPTOR, edge=edge_for(keys)))
    log = (tmp_path / "envoy.log").open("w")
    envoy = await asyncio.create_subprocess_exec(
        BIN / "envoy", "-c", config, *ENVOY_FLAGS, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        await wait_gateway(settings.gateway_admin_addr, 30)
        request = urllib.request.Request(
            f"http://{settings.gateway_addr}{WORKFLOWS}",
            data=json.dumps(BODY).encode(),
            method="POST",
            headers={
                "content-type": "application/json",
                "authorization": f"Bearer {keys.sign(tokens.claims('retry-user', ()))}",
            },
        )
        try:
            reply = await asyncio.to_thread(urllib.request.urlopen, request, timeout=30)
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())
        with reply:
            return reply.status, json.loads(reply.read())
    finally:
        envoy.terminate()
        await asyncio.wait_for(envoy.wait(), 20)
        log.close()
        await server.server.stop(0)


async def test_a_refusal_marked_safe_to_retry_is_sent_again_and_the_client_sees_only_the_answer(
    tmp_path,
):
    servicer = Scripted(Unavailable("the orchestrator is stopping", retry_safe=True))
    status, body = await post_through_envoy(tmp_path, servicer)
    assert status == 200, body
    assert body["workflow"]["workflow_id"] == "w-1"
    assert servicer.calls == 2


async def test_an_unavailable_answer_not_marked_safe_is_not_retried(tmp_path):
    servicer = Scripted(Unavailable("a service this call needs is unavailable"))
    status, body = await post_through_envoy(tmp_path, servicer)
    assert status == 503
    assert "unavailable" in body["message"]
    assert servicer.calls == 1


async def test_a_refusal_after_work_began_reaches_the_client_as_503_with_its_message(tmp_path):
    """Its server commits the call before answering (headers first, the status in the
    trailers): the transcoder still makes the status the HTTP code and the body."""
    message = "the orchestrator stopped before this workflow finished; retry it"
    servicer = Scripted(Unavailable(message, began=True))
    status, body = await post_through_envoy(tmp_path, servicer)
    assert status == 503, body
    assert body["message"] == message
    assert servicer.calls == 1

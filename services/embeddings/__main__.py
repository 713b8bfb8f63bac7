"""python -m services.embeddings: the embeddings service on AIORCH_EMBEDDINGS_ADDR."""

import contextlib

from aiorch.v1 import embeddings_pb2_grpc
from services.common.server import Service, run
from services.embeddings.backends import open_backend
from services.embeddings.servicer import EmbeddingsServicer
from services.embeddings.settings import EmbeddingsSettings


async def build(settings: EmbeddingsSettings, stack: contextlib.AsyncExitStack) -> list[Service]:
    backend = open_backend(settings)
    stack.push_async_callback(backend.close)
    return [
        Service(
            "aiorch.v1.EmbeddingsService",
            EmbeddingsServicer(backend, settings),
            embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("embeddings", build, EmbeddingsSettings)

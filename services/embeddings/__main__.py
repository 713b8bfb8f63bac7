"""python -m services.embeddings: the embeddings service on AIORCH_EMBEDDINGS_ADDR."""

from aiorch.v1 import embeddings_pb2_grpc
from services.common.server import Service, run
from services.embeddings.backends import LocalBackend, OpenAIBackend
from services.embeddings.model import SentenceEncoder
from services.embeddings.servicer import EmbeddingsServicer


def make_backend(settings):
    if settings.embeddings_backend == "openai":
        return OpenAIBackend(settings)
    encoder = SentenceEncoder(
        settings.embeddings_tokenizer_path,
        settings.embeddings_model_path or None,
        settings.embeddings_max_tokens,
        threads=settings.embeddings_threads,
    )
    return LocalBackend(encoder, settings)


async def build(settings, stack):
    backend = make_backend(settings)
    stack.push_async_callback(backend.close)
    return [
        Service(
            "aiorch.v1.EmbeddingsService",
            EmbeddingsServicer(backend, settings),
            embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("embeddings", build)

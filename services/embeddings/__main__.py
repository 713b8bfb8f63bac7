"""python -m services.embeddings: the embeddings service on AIORCH_EMBEDDINGS_ADDR."""

from aiorch.v1 import embeddings_pb2_grpc
from services.common.server import Service, run
from services.embeddings.model import SentenceEncoder
from services.embeddings.servicer import EmbeddingsServicer


async def build(settings, stack):
    encoder = SentenceEncoder(
        settings.embeddings_tokenizer_path,
        settings.embeddings_model_path or None,
        settings.embeddings_max_tokens,
        threads=settings.embeddings_threads,
    )
    return [
        Service(
            "aiorch.v1.EmbeddingsService",
            EmbeddingsServicer(encoder, settings),
            embeddings_pb2_grpc.add_EmbeddingsServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("embeddings", build)

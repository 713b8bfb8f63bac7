"""python -m services.classifier: the classifier service on AIORCH_CLASSIFIER_ADDR."""

from aiorch.v1 import classifier_pb2_grpc
from services.classifier.backends import LocalBackend, OpenAIBackend
from services.classifier.servicer import ClassifierServicer
from services.common.channels import Link
from services.common.server import Service, run
from services.embeddings.client import EmbeddingsClient


async def build(settings, stack):
    if settings.classifier_backend == "openai":
        backend = OpenAIBackend(settings)
        stack.push_async_callback(backend.api.close)
    else:
        link = Link("embeddings", settings.embeddings_addr, settings.unreachable_fail_fast_seconds)
        stack.push_async_callback(link.close)
        backend = LocalBackend(EmbeddingsClient(link), settings)
    return [
        Service(
            "aiorch.v1.ClassifierService",
            ClassifierServicer(backend, settings),
            classifier_pb2_grpc.add_ClassifierServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("classifier", build)

"""python -m services.classifier: the classifier service on AIORCH_CLASSIFIER_ADDR."""

from aiorch.v1 import classifier_pb2_grpc
from services.classifier.backends import open_backend
from services.classifier.servicer import ClassifierServicer
from services.common.server import Service, run


async def build(settings, stack):
    backend = open_backend(settings)
    stack.push_async_callback(backend.close)
    return [
        Service(
            "aiorch.v1.ClassifierService",
            ClassifierServicer(backend, settings),
            classifier_pb2_grpc.add_ClassifierServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("classifier", build)

"""python -m services.classifier: the classifier service on AIORCH_CLASSIFIER_ADDR."""

import contextlib

from aiorch.v1 import classifier_pb2_grpc
from services.classifier.backends import open_backend
from services.classifier.label_sets import LabelSets
from services.classifier.servicer import ClassifierServicer
from services.classifier.settings import ClassifierSettings
from services.common.server import Service, run


async def build(settings: ClassifierSettings, stack: contextlib.AsyncExitStack) -> list[Service]:
    backend = open_backend(settings)
    stack.push_async_callback(backend.close)
    # With Redis, label sets registered through one replica are known to every other.
    label_sets = LabelSets.open(
        settings.redis_url.get_secret_value(), f"{settings.cache_key_prefix}labelset:"
    )
    stack.push_async_callback(label_sets.close)
    return [
        Service(
            "aiorch.v1.ClassifierService",
            ClassifierServicer(backend, settings, label_sets),
            classifier_pb2_grpc.add_ClassifierServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("classifier", build, ClassifierSettings)

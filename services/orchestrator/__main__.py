"""python -m services.orchestrator: the orchestrator on AIORCH_ORCHESTRATOR_ADDR."""

from aiorch.v1 import classifier_pb2_grpc, embeddings_pb2_grpc, orchestrator_pb2_grpc
from services.common.channels import open_channel
from services.common.database import Database
from services.common.server import Service, run
from services.orchestrator.executor import Executor
from services.orchestrator.servicer import OrchestratorServicer
from services.orchestrator.store import WorkflowStore


async def build(settings, stack):
    db = await Database.open(settings.database_url)
    stack.push_async_callback(db.close)
    store = await WorkflowStore.open(db)
    classifier = open_channel(settings.classifier_addr)
    embeddings = open_channel(settings.embeddings_addr)
    for channel in (classifier, embeddings):
        stack.push_async_callback(channel.close)
    executor = Executor(
        store,
        classifier_pb2_grpc.ClassifierServiceStub(classifier),
        embeddings_pb2_grpc.EmbeddingsServiceStub(embeddings),
        settings.deadline_margin_seconds,
    )
    return [
        Service(
            "aiorch.v1.OrchestratorService",
            OrchestratorServicer(store, executor, settings),
            orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("orchestrator", build)

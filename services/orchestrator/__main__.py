"""python -m services.orchestrator: the orchestrator on AIORCH_ORCHESTRATOR_ADDR."""

from aiorch.v1 import orchestrator_pb2_grpc
from services.common.server import Service, run
from services.orchestrator.wiring import open_orchestrator


async def build(settings, stack):
    servicer, orchestrator = await open_orchestrator(settings, stack)
    return [
        Service(
            "aiorch.v1.OrchestratorService",
            servicer,
            orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server,
            drain=orchestrator.drain,
        )
    ]


if __name__ == "__main__":
    run("orchestrator", build)

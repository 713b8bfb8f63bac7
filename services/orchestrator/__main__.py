"""python -m services.orchestrator: the orchestrator on AIORCH_ORCHESTRATOR_ADDR."""

import contextlib

from aiorch.v1 import orchestrator_pb2_grpc
from services.common.server import Service, run
from services.orchestrator.settings import OrchestratorSettings
from services.orchestrator.wiring import open_orchestrator


async def build(settings: OrchestratorSettings, stack: contextlib.AsyncExitStack) -> list[Service]:
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
    run("orchestrator", build, OrchestratorSettings)

"""python -m services.monitor: the monitor service on AIORCH_MONITOR_ADDR.

Its RPCs are declared in the contract and answer UNIMPLEMENTED until they are built;
the server, health and reflection are real so the suite and its probes are complete.
"""

from aiorch.v1 import monitor_pb2_grpc
from services.common.server import Service, run


async def build(settings, stack):
    return [
        Service(
            "aiorch.v1.MonitorService",
            monitor_pb2_grpc.MonitorServiceServicer(),
            monitor_pb2_grpc.add_MonitorServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("monitor", build)

"""python -m services.meeting_intel: the meeting_intel service on AIORCH_MEETING_INTEL_ADDR.

Its RPCs are declared in the contract and answer UNIMPLEMENTED until they are built;
the server, health and reflection are real so the suite and its probes are complete.
"""

from aiorch.v1 import meeting_intel_pb2_grpc
from services.common.server import Service, run


async def build(settings, stack):
    return [
        Service(
            "aiorch.v1.MeetingIntelService",
            meeting_intel_pb2_grpc.MeetingIntelServiceServicer(),
            meeting_intel_pb2_grpc.add_MeetingIntelServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("meeting_intel", build)

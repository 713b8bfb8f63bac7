"""python -m services.meeting_intel: the meeting_intel service on AIORCH_MEETING_INTEL_ADDR."""

import contextlib

from aiorch.v1 import meeting_intel_pb2_grpc
from services.common.server import Service, run
from services.meeting_intel.backends import open_backend
from services.meeting_intel.servicer import MeetingIntelServicer
from services.meeting_intel.settings import MeetingIntelSettings


async def build(settings: MeetingIntelSettings, stack: contextlib.AsyncExitStack) -> list[Service]:
    backend = open_backend(settings)
    stack.push_async_callback(backend.close)
    return [
        Service(
            "aiorch.v1.MeetingIntelService",
            MeetingIntelServicer(backend, settings),
            meeting_intel_pb2_grpc.add_MeetingIntelServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("meeting_intel", build, MeetingIntelSettings)

"""python -m services.meeting_intel: the meeting_intel service on AIORCH_MEETING_INTEL_ADDR."""

from aiorch.v1 import meeting_intel_pb2_grpc
from services.common.channels import Link
from services.common.server import Service, run
from services.embeddings.client import EmbeddingsClient
from services.meeting_intel.openai_backend import OpenAIBackend
from services.meeting_intel.servicer import LocalBackend, MeetingIntelServicer


async def build(settings, stack):
    if settings.meeting_intel_backend == "openai":
        backend = OpenAIBackend(settings)
        stack.push_async_callback(backend.api.close)
    else:
        link = Link("embeddings", settings.embeddings_addr, settings.unreachable_fail_fast_seconds)
        stack.push_async_callback(link.close)
        backend = LocalBackend(EmbeddingsClient(link))
    return [
        Service(
            "aiorch.v1.MeetingIntelService",
            MeetingIntelServicer(backend, settings),
            meeting_intel_pb2_grpc.add_MeetingIntelServiceServicer_to_server,
        )
    ]


if __name__ == "__main__":
    run("meeting_intel", build)

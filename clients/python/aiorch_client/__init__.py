"""Python client of the aiorch suite: typed, sync and asyncio, over gRPC.

    from aiorch_client import Client

    with Client() as aiorch:  # the local gateway, AIORCH_TOKEN; or Client("host:port", token=...)
        reply = aiorch.classify("Bob will send the invoice", ["finance", "sports"])
        print(reply.label, reply.score)
        workflow = aiorch.run("meeting_intelligence", transcript_file="standup.vtt")
        for event in aiorch.stream_chat("What did we decide?"):  # from indexed documents
            print(event.delta, end="", flush=True)
        print("\n", [c.source_id for c in event.answer.citations], event.answer.session_id)

`AsyncClient` has the same methods as coroutines and async iterators. Failures raise
`aiorch_client.errors.AiorchError` subclasses that carry the status details. Replies are
the generated protobuf messages of `aiorch_client.types`.
"""

from aiorch_client._proto.contracts import CONTRACTS_SHA256
from aiorch_client.aio import AsyncClient, BatchResult, ChatEvent
from aiorch_client.config import ClientConfig
from aiorch_client.errors import (
    AiorchError,
    DeadlineExceeded,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
    Unavailable,
    WorkflowFailed,
)
from aiorch_client.messages import workflow_request
from aiorch_client.sync import Client

__all__ = [
    "CONTRACTS_SHA256",
    "AiorchError",
    "AsyncClient",
    "BatchResult",
    "ChatEvent",
    "Client",
    "ClientConfig",
    "DeadlineExceeded",
    "InvalidArgument",
    "NotFound",
    "ResourceExhausted",
    "Unavailable",
    "WorkflowFailed",
    "workflow_request",
]

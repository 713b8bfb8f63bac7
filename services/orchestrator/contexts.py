"""What a workflow's result depends on beyond its request, for the types whose answers
read what a service keeps per user: an assistant answer reads the caller's knowledge
store and the session it continues. The service names that state with an opaque context
version (the assistant's GetContextVersion), which goes into the result's cache key: a
document indexed or a turn added since an answer was cached makes a new key, and a new
answer."""

from __future__ import annotations

import grpc

from aiorch.v1 import assistant_pb2
from aiorch.v1 import orchestrator_pb2 as pb
from services.common.caller import USER_HEADER
from services.common.deadlines import Deadline
from services.common.errors import Unavailable
from services.orchestrator.executor import Downstream
from services.orchestrator.workflows import WorkflowSpec

# A version is one indexed read; past this, the workflow runs uncached rather than wait.
TIMEOUT_SECONDS = 1.0


class Contexts:
    def __init__(self, services: dict[str, Downstream]):
        self.services = services

    async def of(
        self,
        spec: WorkflowSpec,
        request: pb.CreateWorkflowRequest,
        caller: str,
        deadline: Deadline,
    ):
        """ "" for a type whose result the request alone decides; the context version of
        the caller's state otherwise, or None when it cannot be had now (the workflow
        then neither uses nor fills the cache: an answer keyed without it could be
        stale). It takes at most a second, and never past the workflow's `deadline`."""
        if not spec.context:
            return ""
        timeout = min(TIMEOUT_SECONDS, deadline.remaining())
        if timeout <= 0:
            return None
        service = self.services[spec.context]
        ask = assistant_pb2.GetContextVersionRequest(session_id=request.input.session_id)
        try:
            call = service.stub.GetContextVersion(  # type: ignore[attr-defined]
                ask, timeout=timeout, metadata=((USER_HEADER, caller),)
            )
            reply = await service.link.call(call)
        except (grpc.aio.AioRpcError, Unavailable):
            return None
        return reply.version or None

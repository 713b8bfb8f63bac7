"""The cache key of a workflow request: who asks, what they ask, and what would compute it.

SHA-256 over the caller, the type, the normalised input, the sorted outputs, the aiorch
release, the context version of what the type reads beyond the request (an assistant
answer: the caller's knowledge and session, see contexts.py), and the model each called
RPC reported in its last reply (`model`), so a new model or a new release never
serves a result computed by the old one. The models come from the
services themselves, never from the orchestrator's settings: a service reconfigured on its
own (a new backend, a new model) says so in its next reply.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata

from aiorch.v1 import orchestrator_pb2 as pb
from services.common.release import release
from services.orchestrator.workflows import WORKFLOWS, WorkflowSpec


class Keys:
    """Cache keys of requests, under the model each downstream service last reported, for
    as long as its connection lasts. A service that reconnected (restarted, perhaps
    reconfigured) is unknown again until it replies: a key through an unknown service
    finds nothing in the cache (nothing is ever stored under it) but still lets identical
    requests in flight share one computation, which goes to the service as it is now.
    Results are stored under the models their replies named (`known`).

    `ready_at(service)` is when the service's current connection became ready, None while
    it has none (Link.connected_at).
    """

    UNKNOWN = "?"  # the model of a service that has not replied since it (re)connected

    def __init__(self, ready_at):
        self._ready_at = ready_at
        self._known: dict[str, tuple[str, float | None]] = {}

    def learn(self, service: str, rpc: str, model: str) -> None:
        """`model` computed `service`'s last reply to `rpc`: per RPC, since one service
        answers its RPCs with different models (the assistant indexes with the embedding
        model and answers with a chat model)."""
        self._known[f"{service}.{rpc}"] = (model, self._ready_at(service))

    def of(
        self,
        workflow: pb.Workflow,
        request: pb.CreateWorkflowRequest,
        caller: str,
        known: bool = False,
        context: str | None = "",
    ) -> str | None:
        """The key of `workflow` (made from `request` by `caller`, with the `context`
        version of what its type reads beyond the request, see contexts.py); None when the
        request must not be cached (asked so, a step that writes runs, the context version
        of a type that needs one is missing), or, with `known`, when a model is unknown."""
        if request.HasField("use_cache") and not request.use_cache:
            return None
        spec = WORKFLOWS[workflow.type]
        if spec.context and not context:
            return None
        if any(s.name in spec.writers for s in workflow.steps if s.state != pb.STEP_STATE_SKIPPED):
            return None
        models = {}
        for service, rpc in called_rpcs(workflow):
            name = f"{service}.{rpc}"
            model, since = self._known.get(name, (self.UNKNOWN, None))
            now = self._ready_at(service)
            if since is None or now is None or since != now:
                if known:
                    return None
                model = self.UNKNOWN
            models[name] = model
        outputs = list(workflow.expected_outputs)
        return cache_key(spec, request.input, outputs, models, caller, context or "")


def called_rpcs(workflow: pb.Workflow) -> list[tuple[str, str]]:
    """The (service, RPC) each of a workflow's asked steps calls."""
    return sorted({(s.service, s.rpc) for s in workflow.steps if s.state != pb.STEP_STATE_SKIPPED})


def cache_key(
    spec: WorkflowSpec,
    given: pb.WorkflowInput,
    outputs: list[str],
    models: dict[str, str],
    caller: str,
    context: str = "",
) -> str:
    """`<type>:<sha256 hex>`: the type stays readable for invalidation by pattern.

    Results are cached per caller: a shared entry would tell one user, by its `cached`
    flag and its speed, that another sent the same text."""
    normal = pb.WorkflowInput()
    normal.CopyFrom(given)
    normal.text = unicodedata.normalize("NFC", given.text).strip()
    for segment in normal.segments:
        segment.text = unicodedata.normalize("NFC", segment.text).strip()
    digest = hashlib.sha256()
    digest.update(
        json.dumps(
            [caller, spec.name, sorted(outputs), sorted(models.items()), release(), context],
            separators=(",", ":"),
        ).encode()
    )
    digest.update(b"\0")
    digest.update(normal.SerializeToString(deterministic=True))
    return f"{spec.name}:{digest.hexdigest()}"

"""What an audit line quotes of a call: bounded, whatever the caller sent."""

from __future__ import annotations

import logging

import grpc
import pytest
from google.protobuf import descriptor_pool, message_factory

# Imported for their descriptors too: _messages finds every audited RPC in the pool.
from aiorch.v1 import assistant_pb2, classifier_pb2, monitor_pb2, orchestrator_pb2  # noqa: F401
from services.common.access import AUDITED, MAX_TARGET_CHARS, _Call

LONG = "x" * 100_000


def _fill(message, depth: int = 2):
    """`message` with every string in it (to `depth` levels of messages) far too long."""
    for field in message.DESCRIPTOR.fields:
        if field.type == field.TYPE_STRING:
            if field.is_repeated:
                getattr(message, field.name).extend([LONG] * 3)
            else:
                setattr(message, field.name, LONG)
        elif field.type == field.TYPE_MESSAGE and not field.is_repeated and depth:
            _fill(getattr(message, field.name), depth - 1)
    return message


def _messages(method: str):
    """A request and a reply of `method` ("/package.Service/Method"), filled."""
    service, name = method.strip("/").split("/")
    rpc = descriptor_pool.Default().FindServiceByName(service).FindMethodByName(name)
    request = message_factory.GetMessageClass(rpc.input_type)()
    reply = message_factory.GetMessageClass(rpc.output_type)()
    return _fill(request), _fill(reply)


class Context:
    """What the access log reads of a finished call's context."""

    def code(self):
        return grpc.StatusCode.OK


def audited(method: str, request, reply, caplog) -> dict:
    """The audit line written when `method` ends with `request` and `reply`."""
    caplog.clear()
    service, name = method.strip("/").split("/")
    _Call(method, (service, name, "unary"), "", False).end(Context(), None, request, reply, dict)
    [line] = [r for r in caplog.records if r.name == "aiorch.audit"]
    return {"target": line.target, "action": line.action}


@pytest.mark.parametrize("method", sorted(AUDITED))
def test_an_audit_line_quotes_a_bounded_target_whatever_the_call_held(method, caplog):
    caplog.set_level(logging.INFO, logger="aiorch.audit")
    request, reply = _messages(method)
    line = audited(method, request, reply, caplog)
    assert line["action"] == method
    assert 0 < len(line["target"]) <= MAX_TARGET_CHARS
    # A call that failed has no reply; the line still names what the request did.
    assert len(audited(method, request, None, caplog)["target"]) <= MAX_TARGET_CHARS


def test_a_cancel_is_audited_with_the_id_it_named_cut_to_the_bound(caplog):
    caplog.set_level(logging.INFO, logger="aiorch.audit")
    method = "/aiorch.v1.OrchestratorService/CancelWorkflow"
    short = orchestrator_pb2.CancelWorkflowRequest(workflow_id="wf-1")
    assert audited(method, short, None, caplog)["target"] == "wf-1"
    long = orchestrator_pb2.CancelWorkflowRequest(workflow_id="w" * 10_000)
    assert audited(method, long, None, caplog)["target"] == "w" * MAX_TARGET_CHARS

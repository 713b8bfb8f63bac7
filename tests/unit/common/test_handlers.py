"""Registrar: every handler a servicer registers is wrapped, once per method."""

from __future__ import annotations

from collections import namedtuple

import grpc

from services.common.handlers import Registrar

Details = namedtuple("Details", "method invocation_metadata")


class RecordingServer:
    def __init__(self):
        self.generic = []
        self.registered = {}

    def add_generic_rpc_handlers(self, handlers):
        self.generic.extend(handlers)

    def add_registered_method_handlers(self, service, handlers):
        self.registered[service] = handlers


async def _echo(request, context):
    return request


def _registered():
    server, wrapped = RecordingServer(), []

    def wrap(method, handler):
        wrapped.append(method)
        return handler._replace(request_streaming=False, response_streaming=False)

    registrar = Registrar(server, wrap)
    handlers = {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    registrar.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("t.S", handlers),))
    registrar.add_registered_method_handlers("t.S", handlers)
    return server, wrapped


def test_a_method_is_wrapped_on_its_first_call_and_kept():
    server, wrapped = _registered()
    generic = server.generic[0]
    first = generic.service(Details("/t.S/Echo", ()))
    again = generic.service(Details("/t.S/Echo", (("x-user-id", "u"),)))
    assert first is again and first.unary_unary is _echo
    assert wrapped == ["/t.S/Echo", "/t.S/Echo"]  # once here, once for the registered table


def test_unknown_methods_are_not_kept():
    server, _ = _registered()
    generic = server.generic[0]
    for i in range(100):
        assert generic.service(Details(f"/t.S/Nope{i}", ())) is None
    assert list(generic._by_method) == []


def test_registered_method_handlers_go_in_wrapped_under_their_full_name():
    server, wrapped = _registered()
    assert list(server.registered["t.S"]) == ["Echo"]
    assert "/t.S/Echo" in wrapped

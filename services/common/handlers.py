"""What every method handler of every server is wrapped in: error mapping and the caller
(and, beside them, the access log and metrics of services.common.access). `Registrar`
wraps each handler once, when a servicer is registered (see create_server).

Wrapped at registration, not intercepted: grpc.aio runs a server interceptor chain as a
coroutine per interceptor on every call, on top of the wrapping each interceptor then does
for that call. A trivial call's server CPU (16 concurrent clients, medians of 7 and 9
interleaved rounds): bare 200 and 190 µs, these three as interceptors 280 and 280,
wrapped here 252 and 240. Tracing stays an interceptor, the OpenTelemetry library's, and
only when it is on.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError
from grpc_status import rpc_status

from services.common import caller
from services.common.errors import InvalidInput, Unavailable, status_of

log = logging.getLogger("aiorch.rpc")


# gRPC's retry policy marks each retry with the attempts before it; a server that echoes
# the count back lets the client record how many calls a result took.
PREVIOUS_ATTEMPTS = "grpc-previous-rpc-attempts"
ATTEMPT = "aiorch-attempt"


def _attempt(context: grpc.aio.ServicerContext) -> tuple[tuple[str, str], ...]:
    for key, value in context.invocation_metadata() or ():
        if key == PREVIOUS_ATTEMPTS and value.isdigit():
            return ((ATTEMPT, str(int(value) + 1)),)
    return ()


async def _abort(context: grpc.aio.ServicerContext, error: Exception) -> None:
    if isinstance(error, Unavailable) and error.began:
        # A client's retry policy sends a call again only until it has the server's
        # headers (gRFC A6); sent before the status, they keep it from repeating work.
        # The gateway's transcoder still answers 503: it holds a unary reply's headers
        # until the status comes. (A stream that sent a message has sent them already.)
        with contextlib.suppress(grpc.aio.UsageError):
            await context.send_initial_metadata(())
    found, extra, expected = status_of(error)
    if not expected:
        log.exception("unhandled error")
    trailing = _attempt(context) + extra
    status = rpc_status.to_status(found)
    if trailing:
        status = _Status(status.code, status.details, (*status.trailing_metadata, *trailing))
    await context.abort_with_status(status)


@dataclass(frozen=True)
class _Status(grpc.Status):
    code: grpc.StatusCode
    details: str
    trailing_metadata: tuple


# Set, in the call's own task, when its request could not be decoded (see _decoding).
_UNDECODABLE: contextvars.ContextVar[bool] = contextvars.ContextVar("undecodable", default=False)


def _decoding(deserializer):
    """`deserializer` that answers a request it cannot decode with an empty one, marked.
    gRPC's own answer to a decoding error is UNKNOWN with the library's text, which the
    gateway makes a 500: protobuf's decoder refuses, for one, a message nested deeper than
    its limit, which a JSON body at the gateway (a Struct of lists of lists ...) is
    enough to give. Marked, it is the caller's mistake: INVALID_ARGUMENT."""
    if deserializer is None:
        return None

    def decode(raw: bytes):
        try:
            return deserializer(raw)
        except DecodeError:
            _UNDECODABLE.set(True)
            return deserializer(b"")

    return decode


def _check_decoded() -> None:
    if _UNDECODABLE.get():
        raise InvalidInput("request", "could not be decoded: malformed, or nested too deeply")


def _wrap_unary(behavior):
    async def handle(request, context):
        try:
            _check_decoded()
            reply = await behavior(request, context)
            if attempt := _attempt(context):
                context.set_trailing_metadata(attempt)
            return reply
        except grpc.aio.AbortError:
            raise
        except Exception as error:  # every error leaves as a status, never a trace
            await _abort(context, error)

    return handle


def _wrap_stream(behavior):
    async def handle(request, context):
        try:
            _check_decoded()
            async for reply in behavior(request, context):
                yield reply
        except grpc.aio.AbortError:
            raise
        except Exception as error:
            await _abort(context, error)

    return handle


def errors(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` turning domain errors into statuses with details, hiding unexpected ones,
    and answering a request it cannot decode with INVALID_ARGUMENT."""
    decode = _decoding(handler.request_deserializer)
    if handler.unary_unary:
        return handler._replace(
            unary_unary=_wrap_unary(handler.unary_unary), request_deserializer=decode
        )
    if handler.unary_stream:
        return handler._replace(
            unary_stream=_wrap_stream(handler.unary_stream), request_deserializer=decode
        )
    return handler


def reading_caller(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """`handler` reading who is calling from the metadata once, for services.common.caller."""
    if handler.unary_unary:
        behavior = handler.unary_unary

        async def unary(request, context):
            caller.set_from_metadata(context.invocation_metadata())
            return await behavior(request, context)

        return handler._replace(unary_unary=unary)
    if handler.unary_stream:
        stream_behavior = handler.unary_stream

        async def stream(request, context):
            caller.set_from_metadata(context.invocation_metadata())
            async for reply in stream_behavior(request, context):
                yield reply

        return handler._replace(unary_stream=stream)
    return handler


# A method's full name ("/aiorch.v1.ClassifierService/Classify") and its handler, to the
# handler that serves it.
Wrap = Callable[[str, grpc.RpcMethodHandler], grpc.RpcMethodHandler]


class _Wrapped(grpc.GenericRpcHandler):
    """A generic handler whose method handlers come wrapped, each once: on its method's
    first call. grpcio 1.85 serves the generated code's methods from their registered
    table (wrapped as they are registered, below) and asks generic handlers only for
    others. Ours give a method the same handler whatever the call's metadata."""

    def __init__(self, inner: grpc.GenericRpcHandler, wrap: Wrap):
        self._inner = inner
        self._wrap = wrap
        self._by_method: dict[str, grpc.RpcMethodHandler] = {}

    def service(self, handler_call_details):
        method = handler_call_details.method
        wrapped = self._by_method.get(method)
        if wrapped is None:
            handler = self._inner.service(handler_call_details)
            if handler is None:  # not kept: a caller may send any number of unknown names
                return None
            wrapped = self._by_method[method] = self._wrap(method, handler)
        return wrapped


class Registrar:
    """A server as the generated `add_*_to_server` functions see it: every handler they
    register goes in wrapped by `wrap`."""

    def __init__(self, server: grpc.aio.Server, wrap: Wrap):
        self._server = server
        self._wrap = wrap

    def add_generic_rpc_handlers(self, handlers) -> None:
        self._server.add_generic_rpc_handlers(tuple(_Wrapped(h, self._wrap) for h in handlers))

    def add_registered_method_handlers(self, service: str, handlers: dict) -> None:
        wrapped = {name: self._wrap(f"/{service}/{name}", h) for name, h in handlers.items()}
        self._server.add_registered_method_handlers(service, wrapped)

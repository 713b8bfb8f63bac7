"""Server interceptors installed on every server: error mapping and the caller.

The access log, metrics and tracing attach beside them (services.common.access and
services.common.telemetry), so servicers never handle any of it themselves.
"""

from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass

import grpc
from google.protobuf.message import DecodeError
from grpc_status import rpc_status

from services.common import caller
from services.common.errors import InvalidInput, status_of

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


class ErrorInterceptor(grpc.aio.ServerInterceptor):
    """Turns domain errors into statuses with details and hides unexpected ones."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
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


class CallerInterceptor(grpc.aio.ServerInterceptor):
    """Reads who is calling from the metadata once, for services.common.caller."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None:
            return None
        metadata = handler_call_details.invocation_metadata
        if handler.unary_unary:
            behavior = handler.unary_unary

            async def unary(request, context):
                caller.set_from_metadata(metadata)
                return await behavior(request, context)

            return handler._replace(unary_unary=unary)
        if handler.unary_stream:
            stream_behavior = handler.unary_stream

            async def stream(request, context):
                caller.set_from_metadata(metadata)
                async for reply in stream_behavior(request, context):
                    yield reply

            return handler._replace(unary_stream=stream)
        return handler

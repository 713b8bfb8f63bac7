"""Channels that call as a verified user, the way the gateway (or a backend inside the
mesh) does: x-user-id and x-user-roles on every call (services/common/caller.py)."""

from __future__ import annotations

import grpc

TESTER = "tester"


class _As:
    def __init__(self, user: str, roles: tuple[str, ...]):
        self.metadata = [("x-user-id", user)]
        if roles:
            self.metadata.append(("x-user-roles", ",".join(roles)))

    def _details(self, details):
        given = list(details.metadata or ())
        if not any(key == "x-user-id" for key, _ in given):  # a test may call as someone else
            given += self.metadata
        return details._replace(metadata=given)


# grpc.aio files an interceptor under the first kind it is (unary-unary, then
# unary-stream, ...), so each kind needs an interceptor of its own.
class _AsUnary(_As, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, details, request):
        return await continuation(self._details(details), request)


class _AsStream(_As, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, details, request):
        return await continuation(self._details(details), request)


def channel_as(
    addr: str, user: str = TESTER, roles: tuple[str, ...] = (), options=()
) -> grpc.aio.Channel:
    interceptors = [_AsUnary(user, roles), _AsStream(user, roles)]
    return grpc.aio.insecure_channel(addr, options=options, interceptors=interceptors)

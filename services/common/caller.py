"""Who is calling: the user id and admin token a trusted front (the gateway) puts in the
call metadata.

The runtime's CallerInterceptor reads the headers once per call; servicers ask here and
never parse metadata themselves.
"""

from __future__ import annotations

import hmac
from contextvars import ContextVar

from services.common.errors import InvalidInput, PermissionDenied, Unauthenticated

USER_HEADER = "x-user-id"
ADMIN_HEADER = "x-admin-token"
MAX_USER_ID_CHARS = 256

_user: ContextVar[str] = ContextVar("aiorch_user", default="")
_admin_token: ContextVar[str] = ContextVar("aiorch_admin_token", default="")


def _header(metadata, name: str) -> str:
    value = next((v for k, v in metadata or () if k == name), "")
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def set_from_metadata(metadata) -> None:
    _user.set(_header(metadata, USER_HEADER).strip())
    _admin_token.set(_header(metadata, ADMIN_HEADER))


def user_id(default: str | None = None) -> str:
    """The calling user's id; without one, `default`, or the call is refused."""
    value = _user.get()
    if len(value) > MAX_USER_ID_CHARS:
        raise InvalidInput(USER_HEADER, f"longer than {MAX_USER_ID_CHARS} characters")
    if value:
        return value
    if default is None:
        raise Unauthenticated(f"no user id: send it in the {USER_HEADER} header")
    return default


def require_admin(token: str) -> None:
    """Admin RPCs need the configured token; with none configured nobody is an admin, so
    a forgotten setting cannot leave them open."""
    if not token:
        raise PermissionDenied("admin RPCs are disabled: no admin token is configured")
    if not hmac.compare_digest(_admin_token.get().encode(), token.encode()):
        raise PermissionDenied(f"admin RPC: send the admin token in {ADMIN_HEADER}")

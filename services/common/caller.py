"""Who is calling: the verified user and roles that the trusted front puts in the call
metadata.

Outside clients reach the services only through the gateway. Envoy verifies their JWT
(jwt_authn), removes whatever the client sent under the names below, and sets them from
the verified token:

    x-user-id     the token's `sub`
    x-user-roles  the token's `roles` claim (a list; Envoy joins it with commas)

Inside the cluster, other backends call the services over gRPC directly and set the same
two entries for the user they act for: the services trust them from whoever can reach
them, and the NetworkPolicy (deploy/k8s/base/network-policy.yaml) lets in only the gateway,
the suite's own pods and pods labelled `aiorch.io/caller: "true"`.

The runtime (services.common.handlers) reads the metadata once per call; servicers ask
here and never parse metadata themselves:

    caller.user_id()        the verified caller's id; UNAUTHENTICATED without one
    caller.is_admin()       the caller has the `admin` role
    caller.require_admin()  PERMISSION_DENIED unless it has
    caller.reader()         whose records the caller may read: its id, or None for an admin
    caller.may_read(owner)  the caller is `owner` or an admin
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass

from services.common.errors import InvalidInput, PermissionDenied, Unauthenticated

USER_HEADER = "x-user-id"
ROLES_HEADER = "x-user-roles"
ADMIN_ROLE = "admin"
MAX_USER_ID_CHARS = 256
MAX_ROLES = 32
_ROLE_SEPARATORS = re.compile(r"[,\s]+")


@dataclass(frozen=True)
class Caller:
    """The verified caller of the current call; `user_id` is empty when nobody said."""

    user_id: str = ""
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN_ROLE in self.roles


NOBODY = Caller()
_caller: ContextVar[Caller | None] = ContextVar("aiorch_caller", default=None)


def _values(metadata, name: str) -> list[str]:
    found = []
    for key, value in metadata or ():
        if key == name:
            found.append(value.decode(errors="replace") if isinstance(value, bytes) else value)
    return found


def from_metadata(metadata) -> Caller:
    """The caller a call's metadata names (several x-user-id entries name nobody: a
    front that sets one never sends two)."""
    users = [u.strip() for u in _values(metadata, USER_HEADER)]
    user = users[0] if len(users) == 1 else ""
    roles = frozenset(
        role
        for value in _values(metadata, ROLES_HEADER)
        for role in _ROLE_SEPARATORS.split(value)
        if role
    )
    return Caller(user, roles)


def set_from_metadata(metadata) -> None:
    _caller.set(from_metadata(metadata))


def current() -> Caller:
    return _caller.get() or NOBODY


def user_id(default: str | None = None) -> str:
    """The verified caller's id. Without one: `default` if given, else the call is refused.
    Never pass a shared default for anything keyed by caller (idempotency keys, ownership):
    callers nobody vouched for would share it."""
    value = current().user_id
    if len(value) > MAX_USER_ID_CHARS:
        raise InvalidInput(USER_HEADER, f"longer than {MAX_USER_ID_CHARS} characters")
    if value:
        return value
    if default is None:
        raise Unauthenticated(
            f"no verified caller: a bearer token through the gateway, or {USER_HEADER} from"
            " a backend inside the cluster"
        )
    return default


def roles() -> frozenset[str]:
    found = current().roles
    if len(found) > MAX_ROLES:
        raise InvalidInput(ROLES_HEADER, f"more than {MAX_ROLES} roles")
    return found


def is_admin() -> bool:
    return ADMIN_ROLE in roles()


def require_admin() -> None:
    """Admin RPCs need the `admin` role in the caller's verified token."""
    if not is_admin():
        raise PermissionDenied("this call needs the admin role")


def reader() -> str | None:
    """Whose records the caller may read: its own (its id), or anyone's (None) for an
    admin. Without a verified caller: UNAUTHENTICATED."""
    return None if is_admin() else user_id()


def may_read(owner: str) -> bool:
    """Whether the caller may see a record that belongs to `owner`."""
    return is_admin() or (bool(owner) and owner == user_id())

import contextvars

import grpc
import pytest

from services.common import caller
from services.common.errors import InvalidInput, PermissionDenied, Unauthenticated


def _in_call(metadata, ask):
    """As in a call: a fresh context, set from the metadata, then asked."""

    def run():
        caller.set_from_metadata(metadata)
        return ask()

    return contextvars.copy_context().run(run)


def test_the_user_id_comes_from_the_x_user_id_header():
    assert _in_call([("user-agent", "x"), ("x-user-id", " alice ")], caller.user_id) == "alice"


@pytest.mark.parametrize(
    "metadata",
    [None, [], [("x-user-id", "  ")], [("authorization", "t")], [("x-user-roles", "admin")]],
)
def test_no_user_id_is_unauthenticated(metadata):
    with pytest.raises(Unauthenticated) as caught:
        _in_call(metadata, caller.user_id)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_two_user_ids_name_nobody():
    with pytest.raises(Unauthenticated):
        _in_call([("x-user-id", "alice"), ("x-user-id", "bob")], caller.user_id)


def test_an_overlong_user_id_is_invalid_naming_the_header():
    with pytest.raises(InvalidInput) as caught:
        _in_call([("x-user-id", "u" * 257)], caller.user_id)
    assert caught.value.violations[0].field == "x-user-id"


@pytest.mark.parametrize("roles", ["admin", "user,admin", "user admin", " admin , x"])
def test_the_admin_role_in_the_roles_header_makes_an_admin(roles):
    metadata = [("x-user-id", "alice"), ("x-user-roles", roles)]
    assert _in_call(metadata, caller.is_admin)
    assert _in_call(metadata, caller.reader) is None
    assert _in_call(metadata, lambda: caller.may_read("bob"))
    _in_call(metadata, caller.require_admin)


@pytest.mark.parametrize("roles", [None, "", "user", "administrator", "Admin", "user,admins"])
def test_without_the_admin_role_admin_calls_are_denied(roles):
    metadata = [("x-user-id", "alice")] + ([("x-user-roles", roles)] if roles is not None else [])
    assert not _in_call(metadata, caller.is_admin)
    with pytest.raises(PermissionDenied) as caught:
        _in_call(metadata, caller.require_admin)
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED


def test_a_user_reads_only_their_own_records():
    metadata = [("x-user-id", "alice"), ("x-user-roles", "user")]
    assert _in_call(metadata, caller.reader) == "alice"
    assert _in_call(metadata, lambda: caller.may_read("alice"))
    assert not _in_call(metadata, lambda: caller.may_read("bob"))
    assert not _in_call(metadata, lambda: caller.may_read(""))


def test_reading_without_a_caller_is_unauthenticated():
    with pytest.raises(Unauthenticated):
        _in_call([], caller.reader)


def test_too_many_roles_are_invalid():
    roles = ",".join(f"r{i}" for i in range(caller.MAX_ROLES + 1))
    with pytest.raises(InvalidInput) as caught:
        _in_call([("x-user-id", "a"), ("x-user-roles", roles)], caller.is_admin)
    assert caught.value.violations[0].field == "x-user-roles"


def test_calls_do_not_see_each_others_caller():
    _in_call([("x-user-id", "alice"), ("x-user-roles", "admin")], caller.user_id)
    assert caller.current() == caller.Caller()

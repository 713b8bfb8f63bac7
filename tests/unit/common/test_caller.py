import contextvars

import grpc
import pytest

from services.common import caller
from services.common.errors import InvalidInput, PermissionDenied, Unauthenticated


def _user_id(metadata):
    """As in a call: a fresh context, set from the metadata, then asked."""

    def run():
        caller.set_from_metadata(metadata)
        return caller.user_id()

    return contextvars.copy_context().run(run)


def test_the_user_id_comes_from_the_x_user_id_header():
    assert _user_id([("user-agent", "x"), ("x-user-id", " alice ")]) == "alice"


@pytest.mark.parametrize("metadata", [None, [], [("x-user-id", "  ")], [("authorization", "t")]])
def test_no_user_id_is_unauthenticated(metadata):
    with pytest.raises(Unauthenticated) as caught:
        _user_id(metadata)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED


def test_an_overlong_user_id_is_invalid_naming_the_header():
    with pytest.raises(InvalidInput) as caught:
        _user_id([("x-user-id", "u" * 257)])
    assert caught.value.violations[0].field == "x-user-id"


def test_a_default_stands_in_for_a_missing_user_id():
    def run():
        caller.set_from_metadata([])
        return caller.user_id(default="anonymous")

    assert contextvars.copy_context().run(run) == "anonymous"


@pytest.mark.parametrize(("configured", "sent"), [("", ""), ("", "x"), ("secret", "wrong")])
def test_admin_rpcs_need_the_configured_token_and_none_configured_refuses_all(configured, sent):
    def run():
        caller.set_from_metadata([("x-admin-token", sent)])
        caller.require_admin(configured)

    with pytest.raises(PermissionDenied):
        contextvars.copy_context().run(run)


def test_the_right_admin_token_is_accepted():
    def run():
        caller.set_from_metadata([("x-admin-token", "secret")])
        caller.require_admin("secret")

    contextvars.copy_context().run(run)

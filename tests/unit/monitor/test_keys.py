import os
import stat
from concurrent.futures import ThreadPoolExecutor

import pytest

from services.monitor.keys import fingerprint, load_key, pseudonym, read_or_create

KEY = b"k" * 32


def test_a_pseudonym_is_stable_keyed_and_not_the_id():
    assert pseudonym(KEY, "alice") == pseudonym(KEY, "alice")
    assert pseudonym(KEY, "alice") != pseudonym(KEY, "bob")
    assert pseudonym(KEY, "alice") != pseudonym(b"j" * 32, "alice")
    assert "alice" not in pseudonym(KEY, "alice") and len(pseudonym(KEY, "alice")) == 64


def test_a_configured_key_is_used_as_given_and_a_short_one_refused():
    assert load_key("s" * 32, "", "postgresql://db/x") == b"s" * 32
    with pytest.raises(ValueError, match="at least 32"):
        load_key("short", "", "sqlite:///x.db")


def test_a_shared_store_requires_a_configured_key():
    with pytest.raises(ValueError, match="AIORCH_ACTIVITY_KEY is required"):
        load_key("", "", "postgresql://postgres@127.0.0.1/test")


def test_with_sqlite_a_key_is_generated_beside_the_database_readable_by_its_owner_only(tmp_path):
    key = load_key("", "", f"sqlite:///{tmp_path}/aiorch.db")
    path = tmp_path / "activity.key"
    assert path.read_text().strip().encode() == key and len(key) == 64
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key("", "", f"sqlite:///{tmp_path}/aiorch.db") == key
    assert [p.name for p in tmp_path.iterdir()] == ["activity.key"]  # no draft left behind


def test_processes_creating_the_key_file_at_once_all_get_the_same_key(tmp_path):
    path = tmp_path / "var" / "activity.key"
    with ThreadPoolExecutor(8) as pool:
        keys = set(pool.map(lambda _: read_or_create(path), range(8)))
    assert len(keys) == 1


def test_a_fingerprint_names_a_key_without_revealing_it():
    assert fingerprint(KEY) == fingerprint(KEY) != fingerprint(b"j" * 32)
    assert KEY.decode() not in fingerprint(KEY)

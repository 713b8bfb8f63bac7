"""The activity store on both backends (the `database_url` fixture)."""

import zlib

import pytest

from services.common.database import Database
from services.monitor.activity import Activity, ActivityStore, KeyMismatch

KEY = b"test-activity-key-0123456789abcdef"
DAY = 86400.0


@pytest.fixture
async def store(database_url):
    db = await Database.open(database_url)
    yield await ActivityStore.open(db, KEY)
    await db.close()


@pytest.fixture
def t0(request) -> float:
    """A day of the 2000s of this test's own: the PostgreSQL schema is shared by the
    session's tests, and windows around different days never overlap."""
    return 946_684_800.0 + (zlib.crc32(request.node.nodeid.encode()) % 3000) * 10 * DAY


async def test_a_summary_counts_types_features_days_and_sessions(store, t0):
    user = f"alice-{t0}"
    for offset, kind, feature, session in [
        (0, "workflow_created", "classification", "s1"),
        (60, "workflow_created", "classification", "s1"),
        (120, "result_viewed", "", "s1"),
        (DAY + 5, "workflow_created", "meeting_intel", "s2"),
        (DAY + 9, "workflow_created", "meeting_intel", ""),
    ]:
        await store.track(user, Activity(kind, feature, session), t0 + offset)
    summary = await store.summary(user, t0 - 1, t0 + 2 * DAY)
    assert summary.by_type == {"workflow_created": 4, "result_viewed": 1}
    assert summary.by_feature == {"classification": 2, "meeting_intel": 2}
    assert (summary.total, summary.active_days, summary.sessions) == (5, 2, 2)


async def test_a_summary_of_everyone_counts_every_user_and_each_users_sessions_apart(store, t0):
    await store.track(f"a-{t0}", Activity("login", session_id="s1"), t0)
    await store.track(f"b-{t0}", Activity("login", session_id="s1"), t0 + 1)
    everyone = await store.summary(None, t0 - 1, t0 + 10)
    assert (everyone.total, everyone.sessions) == (2, 2)
    one = await store.summary(f"a-{t0}", t0 - 1, t0 + 10)
    assert (one.total, one.sessions) == (1, 1)
    assert (await store.summary(f"nobody-{t0}", t0 - 1, t0 + 10)).total == 0


async def test_the_window_leaves_out_older_and_later_activity(store, t0):
    user = f"u-{t0}"
    for offset in (-3 * DAY, -1, 0, DAY):
        await store.track(user, Activity("ping"), t0 + offset)
    assert (await store.summary(user, t0 - 60, t0)).total == 2


async def test_the_raw_user_and_session_ids_are_never_stored(store, t0):
    user, session = f"carol.raw-{t0}@example.com", f"session-of-carol-{t0}"
    activity_id = await store.track(user, Activity("login", "auth", session, '{"n":1}'), t0)
    row = await store.db.fetchone("SELECT * FROM activities WHERE activity_id = $1", activity_id)
    stored = " ".join(str(value) for value in row)
    assert user not in stored and "carol" not in stored and session not in stored
    assert store.user_pseudonym(user) in stored
    assert '{"n":1}' in stored


async def test_pruning_deletes_activity_older_than_the_cutoff(store, t0):
    user = f"p-{t0}"
    await store.track(user, Activity("old"), t0)
    await store.track(user, Activity("new"), t0 + DAY)
    await store.prune(t0 + 1)
    assert (await store.summary(user, t0 - DAY, t0 + 2 * DAY)).by_type == {"new": 1}


async def test_a_store_written_under_another_key_refuses_to_open(database_url, store):
    db = await Database.open(database_url)
    with pytest.raises(KeyMismatch, match="written under another key"):
        await ActivityStore.open(db, b"another-key-0123456789abcdef-0123")
    await ActivityStore.open(db, KEY)  # the original key still opens it
    await db.close()

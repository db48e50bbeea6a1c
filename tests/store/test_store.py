"""The store protocol, the same tests against SQLite and Redis: keys, the version counter, usage sums."""

from __future__ import annotations

import asyncio

import pytest

from worker.store import Store, StoreUnavailable, open_store
from worker.store.base import USAGE_COUNTERS, KeyRecord, UsageQuery, summarize

HOUR = 3600
T0 = 1_800_000_000 - 1_800_000_000 % 86400  # a midnight, UTC


def record(key_id: str = "0123456789ab", **fields: object) -> KeyRecord:
    return KeyRecord(id=key_id, name="ci", role="user", secret_digest="00" * 32, created_at=T0, **fields)  # type: ignore[arg-type]


def sums(requests: int = 1, prompt: int = 10, completion: int = 20, cost: float = 0.001) -> list[float]:
    values = dict.fromkeys(USAGE_COUNTERS, 0.0)
    values.update(requests=requests, prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)
    return [values[name] for name in USAGE_COUNTERS]


async def test_a_key_is_stored_read_listed_and_changed(store: Store) -> None:
    before = await store.keys_version()
    await store.create_key(record(models=["qwq-32b"], metadata={"team": "ml"}, rpm=60))
    assert await store.keys_version() == before + 1
    got = await store.get_key("0123456789ab")
    assert got is not None and got.models == ["qwq-32b"] and got.metadata == {"team": "ml"} and got.rpm == 60
    assert await store.get_key("ffffffffffff") is None
    got.revoked_at = T0 + 5
    await store.put_key(got)
    assert await store.keys_version() == before + 2
    listed = await store.list_keys()
    assert [k.id for k in listed] == ["0123456789ab"] and listed[0].revoked_at == T0 + 5


async def test_usage_sums_add_up_across_batches_and_group_as_asked(store: Store) -> None:
    await store.create_key(record("aaaaaaaaaaaa"))
    group_a = (T0, "aaaaaaaaaaaa", "qwq-32b", "qwq-32b#1", "openai")
    group_b = (T0 + HOUR, "aaaaaaaaaaaa", "qwq-32b", "qwq-32b#1", "workers")
    group_c = (T0 + HOUR, "static-1", "other", "other#1", "workers")
    await store.add_usage({group_a: sums(), group_b: sums(2, 5, 5, 0.5)}, {"aaaaaaaaaaaa": T0 + 10})
    await store.add_usage({group_a: sums(3, 1, 1, 0.25), group_c: sums()}, {})
    by_hour = summarize(await store.usage_sums(UsageQuery()), UsageQuery())
    assert [(r["key_id"], r["model"], r["period"], r["requests"]) for r in by_hour] == [
        ("aaaaaaaaaaaa", "qwq-32b", "2027-01-15T00:00:00Z", 4),
        ("aaaaaaaaaaaa", "qwq-32b", "2027-01-15T01:00:00Z", 2),
        ("static-1", "other", "2027-01-15T01:00:00Z", 1),
    ]
    assert by_hour[0]["prompt_tokens"] == 11 and by_hour[0]["cost_usd"] == 0.251
    day = UsageQuery(key_id="aaaaaaaaaaaa", group_by="day")
    assert [(r["period"], r["requests"]) for r in summarize(await store.usage_sums(day), day)] == [
        ("2027-01-15T00:00:00Z", 6)
    ]
    late = UsageQuery(since=T0 + HOUR, group_by="model")
    assert [(r["model"], r["requests"]) for r in summarize(await store.usage_sums(late), late)] == [
        ("other", 1),
        ("qwq-32b", 2),
    ]
    key = await store.get_key("aaaaaaaaaaaa")
    assert key is not None and key.last_used_at == T0 + 10


async def test_concurrent_writers_lose_nothing(state_url: str) -> None:
    """Two stores on the same file or server (two processes, in effect) adding at once: every count."""
    first, second = open_store(state_url), open_store(state_url)
    group = (T0, "k", "m", "m#1", "workers")
    try:
        await asyncio.gather(*(s.add_usage({group: sums()}, {}) for _ in range(20) for s in (first, second)))
        rows = summarize(await first.usage_sums(UsageQuery()), UsageQuery())
        assert rows[0]["requests"] == 40
    finally:
        await first.aclose()
        await second.aclose()


def test_a_store_that_cannot_be_reached_says_so(tmp_path: object) -> None:
    with pytest.raises(
        StoreUnavailable, match=r"cannot reach the Redis state store redis://127\.0\.0\.1:1/0"
    ) as e:
        open_store("redis://:secret@127.0.0.1:1/0")
    assert "secret" not in str(e.value)
    with pytest.raises(StoreUnavailable, match="STATE_URL must start with"):
        open_store("postgres://db")
    with pytest.raises(StoreUnavailable, match="cannot open the SQLite state store"):
        open_store("sqlite:////proc/no/such/dir/state.db")

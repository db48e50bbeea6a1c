"""Stored Responses API responses in both stores: owner only, time to live, no takeover of another's id."""

from __future__ import annotations

import asyncio

from worker.store import Store


async def test_a_response_is_kept_for_its_key_only_and_deleted_once(store: Store) -> None:
    assert await store.put_response("resp_a", "key-1", b'{"doc": 1}', 60)
    assert await store.get_response("resp_a", "key-1") == b'{"doc": 1}'
    assert await store.get_response("resp_a", "key-2") is None
    assert await store.get_response("resp_b", "key-1") is None
    assert not await store.delete_response("resp_a", "key-2")
    assert await store.get_response("resp_a", "key-1") == b'{"doc": 1}'
    assert await store.delete_response("resp_a", "key-1")
    assert not await store.delete_response("resp_a", "key-1")
    assert await store.get_response("resp_a", "key-1") is None


async def test_an_id_held_by_another_key_is_not_taken_over(store: Store) -> None:
    assert await store.put_response("resp_x", "key-1", b"first", 60)
    assert not await store.put_response("resp_x", "key-2", b"second", 60)
    assert await store.get_response("resp_x", "key-1") == b"first"
    assert await store.put_response("resp_x", "key-1", b"again", 60)  # the owner may replace its own
    assert await store.get_response("resp_x", "key-1") == b"again"


async def test_a_response_expires_after_its_time_to_live(store: Store) -> None:
    assert await store.put_response("resp_short", "key-1", b"brief", 0.3)
    assert await store.get_response("resp_short", "key-1") == b"brief"
    await asyncio.sleep(0.5)
    assert await store.get_response("resp_short", "key-1") is None
    assert not await store.delete_response("resp_short", "key-1")
    # Once expired, the id is free again, for any key.
    assert await store.put_response("resp_short", "key-2", b"new", 60)
    assert await store.get_response("resp_short", "key-2") == b"new"

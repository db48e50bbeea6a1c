"""Managed keys in memory: valid, revoked, expired, rotated keys, and changes seen through the version."""

from __future__ import annotations

import time

import pytest

from worker.core.errors import Unauthorized
from worker.store import Store, manage
from worker.store.keycache import KeyCache
from worker.web.auth import KeyRing, UnknownKey


def refusal(cache: KeyCache, key: str) -> str:
    """Why `key` is refused (the detail a client is told)."""
    with pytest.raises(Unauthorized) as caught:
        cache.identify(key)
    return str(caught.value.detail)


async def test_a_created_key_authenticates_to_its_identity_and_nothing_else_does(store: Store) -> None:
    issued = await manage.create(store, {"name": "ci", "models": ["qwq-32b"], "rpm": 5})
    cache = KeyCache(store)
    assert await cache.refresh()
    identity = cache.identify(issued.key)
    assert identity.key_id == issued.record.id and identity.models == ("qwq-32b",)
    assert identity.limits.rpm == 5 and not identity.is_admin
    assert refusal(cache, issued.key[:-2] + "xx") == "The API key is not valid"
    with pytest.raises(UnknownKey):
        cache.identify("qwq_ffffffffffff_" + "a" * 43)
    with pytest.raises(Unauthorized):
        cache.identify("qwq_nothex_abc")
    assert not await cache.refresh()  # nothing changed: no reload


async def test_revocation_and_expiry_are_seen_through_the_version(store: Store) -> None:
    issued = await manage.create(store, {"name": "ci"})
    other = KeyCache(store)  # another process's cache
    await other.refresh()
    other.identify(issued.key)
    await manage.revoke(store, issued.record)
    assert await other.refresh()
    assert refusal(other, issued.key) == "The API key has been revoked"
    expiring = await manage.create(store, {"name": "short", "expires_at": time.time() - 1})
    await other.refresh()
    assert refusal(other, expiring.key) == "The API key has expired"


async def test_rotation_keeps_the_old_secret_only_for_the_overlap(store: Store) -> None:
    first = await manage.create(store, {"name": "ci"})
    second = await manage.rotate(store, first.record, overlap=60)
    cache = KeyCache(store)
    await cache.refresh()
    assert cache.identify(first.key).key_id == cache.identify(second.key).key_id == first.record.id
    third = await manage.rotate(store, second.record, overlap=0)
    await cache.refresh()
    cache.identify(third.key)
    for old in (first.key, second.key):
        with pytest.raises(Unauthorized):
            cache.identify(old)


async def test_a_key_made_elsewhere_is_fetched_once_on_first_use(store: Store) -> None:
    cache = KeyCache(store)
    await cache.refresh()
    issued = await manage.create(store, {"name": "new"})
    ring = KeyRing(["static"], managed=cache)
    with pytest.raises(UnknownKey):
        ring.identify(issued.key)
    await cache.fetch(issued.record.id)
    assert ring.identify(issued.key) is not None
    assert ring.identify("static") is not None and ring.identify("static").key_id == "static-1"  # type: ignore[union-attr]

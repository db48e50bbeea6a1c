"""Managed keys in each process's memory: authentication without a store round trip, revocation in < 1 s.

Every process holds every managed key (its digests, expiry, revocation and identity) and polls the
store's key version every `KEYS_POLL_INTERVAL` seconds (0.5 by default): when it has changed, the whole
set is read again, so a key revoked, rotated or changed on any process or replica is seen everywhere
within that interval plus one read. A key created on another process moments ago is not cached yet:
the first request with it triggers one read of that key (`fetch`), at most a few at a time and once per
id per interval, so random ids cannot turn into a flood of store reads. While the store is unreachable
the cache keeps serving what it knows.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from dataclasses import dataclass

from worker.core.errors import Unauthorized
from worker.core.identity import Identity
from worker.store import keyformat
from worker.store.base import KeyRecord, Store, StoreUnavailable
from worker.web.auth import UnknownKey

log = logging.getLogger("worker.keys")
MAX_CONCURRENT_MISSES = 4


@dataclass(frozen=True, slots=True)
class CachedKey:
    digest: bytes
    previous_digest: bytes | None
    previous_until: float
    expires_at: float | None
    revoked: bool
    identity: Identity

    @classmethod
    def of(cls, record: KeyRecord) -> CachedKey:
        previous = bytes.fromhex(record.previous_digest) if record.previous_digest else None
        return cls(
            bytes.fromhex(record.secret_digest),
            previous,
            record.previous_until or 0.0,
            record.expires_at,
            record.revoked_at is not None,
            record.identity(),
        )


class KeyCache:
    """Implements `worker.web.auth.ManagedKeys` over a `Store`."""

    def __init__(self, store: Store, poll_interval: float = 0.5) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.keys: dict[str, CachedKey] = {}
        self.version: int | None = None
        self._recent_misses: dict[str, float] = {}
        self._misses = asyncio.Semaphore(MAX_CONCURRENT_MISSES)
        self._store_down = False

    def identify(self, token: str) -> Identity:
        parts = keyformat.split(token)
        if parts is None:
            raise Unauthorized(detail="The API key is not valid")
        key_id, secret = parts
        cached = self.keys.get(key_id)
        if cached is None:
            raise UnknownKey(key_id)
        presented = bytes.fromhex(keyformat.digest(secret))
        valid = hmac.compare_digest(presented, cached.digest) or (
            cached.previous_digest is not None
            and time.time() < cached.previous_until
            and hmac.compare_digest(presented, cached.previous_digest)
        )
        if not valid:
            raise Unauthorized(detail="The API key is not valid")
        # Said plainly only to a caller who holds the secret: the key was real, and is no longer usable.
        if cached.revoked:
            raise Unauthorized(detail="The API key has been revoked")
        if cached.expires_at is not None and time.time() >= cached.expires_at:
            raise Unauthorized(detail="The API key has expired")
        return cached.identity

    def put(self, record: KeyRecord) -> None:
        """Take a record this process has just written (admin API): effective here at once."""
        self.keys[record.id] = CachedKey.of(record)

    async def fetch(self, key_id: str) -> None:
        """Read one key that is not cached yet (created elsewhere since the last poll)."""
        now = time.monotonic()
        if now - self._recent_misses.get(key_id, -1e9) < self.poll_interval or self._misses.locked():
            return
        if len(self._recent_misses) > 10_000:
            self._recent_misses.clear()
        self._recent_misses[key_id] = now
        async with self._misses:
            with contextlib.suppress(StoreUnavailable):
                record = await self.store.get_key(key_id)
                if record is not None:
                    self.put(record)

    async def refresh(self) -> bool:
        """Read every key again if the store's version has moved; True when it did."""
        version = await self.store.keys_version()
        if version == self.version:
            return False
        records = await self.store.list_keys()
        self.keys = {record.id: CachedKey.of(record) for record in records}
        self.version = version
        return True

    async def run(self) -> None:
        """Poll for changes for the life of the process (a task of the app's lifespan)."""
        while True:
            try:
                await self.refresh()
                if self._store_down:
                    log.warning("state store reachable again: managed keys are current")
                self._store_down = False
            except StoreUnavailable as exc:
                if not self._store_down:
                    log.warning("state store unreachable, serving the cached keys: %s", exc)
                self._store_down = True
            await asyncio.sleep(self.poll_interval)

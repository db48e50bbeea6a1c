"""The state store (managed keys, usage sums) and what runs on it: the key cache and the usage recorder."""

from __future__ import annotations

from worker.store.base import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable", "open_store"]


def open_store(url: str) -> Store:
    """The store a `STATE_URL` names (`sqlite:///path` or `redis://...`); raises `StoreUnavailable`."""
    if url.startswith("sqlite:///"):
        from worker.store.sqlite_store import SQLiteStore

        return SQLiteStore(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        from worker.store.redis_store import (
            RedisStore,  # imported only when used (the Worker bundle has no redis)
        )

        return RedisStore(url)
    raise StoreUnavailable(
        f"STATE_URL must start with 'sqlite:///', 'redis://' or 'rediss://', not {url.split(':')[0]!r}"
    )

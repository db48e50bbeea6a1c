"""Rate limits, concurrency and budgets per key, admitted in one store round trip and exact across processes.

`policy` decides (pure), `memory`, `sqlite_limits` and `redis_limits` keep the state where every
process sees it, `gate` is what the endpoint calls and `answers` turns a decision into headers and errors.
"""

from __future__ import annotations

from worker.limits.base import Limiter


def open_limiter(url: str) -> Limiter:
    """The limiter that keeps its state where the store at `url` keeps keys (the same file or server)."""
    if url.startswith(("redis://", "rediss://", "unix://")):
        from worker.limits.redis_limits import RedisLimiter  # only when used (the Worker bundle has no redis)

        return RedisLimiter(url)
    from worker.limits.sqlite_limits import SQLiteLimiter

    return SQLiteLimiter(url)

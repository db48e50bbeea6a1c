"""The Redis store: shared by gateway replicas on many machines (`STATE_URL=redis://...`).

Layout (all names under `qwq:`): `key:<id>` holds a key's JSON document, the sorted set `keys` their
ids by creation time, the hash `keys:last_used` last-used times, and `keys:version` the counter every
process polls. Usage sums live in one hash per group, `usage:<group as JSON>`, indexed by hour in the
sorted set `usage`. A stored response is the hash `response:<id>` (owner, document) that Redis
expires by itself. A batch is one MULTI/EXEC transaction of HINCRBY/HINCRBYFLOAT, so concurrent
replicas add up correctly and a batch is either wholly counted or not at all.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlsplit

import orjson
import redis
import redis.asyncio as aredis

from worker.store.base import (
    FLOAT_COUNTERS,
    HOUR,
    USAGE_COUNTERS,
    Group,
    KeyRecord,
    StoreUnavailable,
    UsageQuery,
)

T = TypeVar("T")
NS = "qwq:"
VERSION = NS + "keys:version"
KEY_IDS = NS + "keys"
LAST_USED = NS + "keys:last_used"
USAGE_INDEX = NS + "usage"
TIMEOUTS: dict[str, Any] = {"socket_connect_timeout": 2.0, "socket_timeout": 5.0}
MAX_CONNECTIONS = 64
"""Connections a process opens to Redis at most, per client (the store's, the limiter's). A request that
finds them all busy waits for one (up to `POOL_WAIT` s) instead of failing: redis-py's default pool
raises "Too many connections" past 100 requests in flight."""
POOL_WAIT = 5.0


def async_client(url: str) -> aredis.Redis:
    """An asyncio client whose connection pool is bounded and waits when full."""
    pool = aredis.BlockingConnectionPool.from_url(
        url, max_connections=MAX_CONNECTIONS, timeout=POOL_WAIT, **TIMEOUTS
    )
    return aredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


def shown(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _key(key_id: str) -> str:
    return f"{NS}key:{key_id}"


def _response(response_id: str) -> str:
    return f"{NS}response:{response_id}"


# Written only if absent or already the same key's; Redis expires it (PEXPIRE), so nothing sweeps.
PUT_RESPONSE = """
local owner = redis.call('HGET', KEYS[1], 'key_id')
if owner and owner ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'key_id', ARGV[1], 'data', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""
DELETE_RESPONSE = """
if redis.call('HGET', KEYS[1], 'key_id') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
"""


class RedisStore:
    def __init__(self, url: str) -> None:
        self.url = url
        try:  # a clear message at start-up, not a failure on the first request
            redis.Redis.from_url(url, **TIMEOUTS).ping()
        except (redis.RedisError, ValueError) as exc:
            raise StoreUnavailable(f"cannot reach the Redis state store {shown(url)}: {exc}") from exc
        self._client: aredis.Redis | None = None

    @property
    def client(self) -> aredis.Redis:
        # Made on first use, inside the event loop that will use it (its connections belong to that loop).
        if self._client is None:
            self._client = async_client(self.url)
        return self._client

    async def _run(self, work: Callable[[aredis.Redis], Awaitable[T]]) -> T:
        try:
            return await work(self.client)
        except redis.RedisError as exc:
            raise StoreUnavailable(f"Redis state store {shown(self.url)}: {exc}") from exc

    async def create_key(self, record: KeyRecord) -> None:
        async def write(r: aredis.Redis) -> None:
            async with r.pipeline(transaction=True) as pipe:
                pipe.set(_key(record.id), record.to_json(), nx=True)
                pipe.zadd(KEY_IDS, {record.id: record.created_at})
                pipe.incr(VERSION)
                await pipe.execute()

        await self._run(write)

    async def put_key(self, record: KeyRecord) -> None:
        async def write(r: aredis.Redis) -> None:
            async with r.pipeline(transaction=True) as pipe:
                pipe.set(_key(record.id), record.to_json(), xx=True)
                pipe.incr(VERSION)
                await pipe.execute()

        await self._run(write)

    async def get_key(self, key_id: str) -> KeyRecord | None:
        async def read(r: aredis.Redis) -> KeyRecord | None:
            data, used = await r.get(_key(key_id)), await r.hget(LAST_USED, key_id)
            return None if data is None else KeyRecord.from_json(data, float(used) if used else None)

        return await self._run(read)

    async def list_keys(self) -> list[KeyRecord]:
        async def read(r: aredis.Redis) -> list[KeyRecord]:
            ids = [_text(i) for i in await r.zrange(KEY_IDS, 0, -1)]
            if not ids:
                return []
            docs = await r.mget([_key(i) for i in ids])
            used = await r.hmget(LAST_USED, ids)
            return [
                KeyRecord.from_json(doc, float(u) if u else None)
                for doc, u in zip(docs, used, strict=True)
                if doc is not None
            ]

        return await self._run(read)

    async def keys_version(self) -> int:
        async def read(r: aredis.Redis) -> int:
            value = await r.get(VERSION)
            return int(value or 0)

        return await self._run(read)

    async def add_usage(self, sums: Mapping[Group, Sequence[float]], last_used: Mapping[str, float]) -> None:
        async def write(r: aredis.Redis) -> None:
            async with r.pipeline(transaction=True) as pipe:
                for group, values in sums.items():
                    member = orjson.dumps(group)
                    name = NS.encode() + b"usage:" + member
                    for counter, value in zip(USAGE_COUNTERS, values, strict=True):
                        if not value:
                            continue
                        if counter in FLOAT_COUNTERS:
                            pipe.hincrbyfloat(name, counter, value)
                        else:
                            pipe.hincrby(name, counter, int(value))
                    pipe.zadd(USAGE_INDEX, {member: group[0]})
                if last_used:
                    pipe.hset(LAST_USED, mapping=dict(last_used))  # type: ignore[arg-type]
                await pipe.execute()

        await self._run(write)

    async def usage_sums(self, query: UsageQuery) -> list[tuple[Group, dict[str, float]]]:
        low = "-inf" if query.since is None else f"({query.since - HOUR}"
        high = "+inf" if query.until is None else f"({query.until}"

        async def read(r: aredis.Redis) -> list[tuple[Group, dict[str, float]]]:
            members = [_text(m).encode() for m in await r.zrangebyscore(USAGE_INDEX, low, high)]
            groups = [tuple(orjson.loads(m)) for m in members]
            if query.key_id is not None:
                picked = [(m, g) for m, g in zip(members, groups, strict=True) if g[1] == query.key_id]
            else:
                picked = list(zip(members, groups, strict=True))
            async with r.pipeline(transaction=False) as pipe:
                for member, _ in picked:
                    pipe.hgetall(NS.encode() + b"usage:" + member)
                hashes = await pipe.execute()
            return [
                ((int(g[0]), g[1], g[2], g[3], g[4]), {k.decode(): float(v) for k, v in h.items()})
                for (_, g), h in zip(picked, hashes, strict=True)
            ]

        return await self._run(read)

    async def put_response(self, response_id: str, key_id: str, document: bytes, ttl: float) -> bool:
        async def write(r: aredis.Redis) -> bool:
            done = await r.eval(PUT_RESPONSE, 1, _response(response_id), key_id, document, int(ttl * 1000))
            return bool(done)

        return await self._run(write)

    async def get_response(self, response_id: str, key_id: str) -> bytes | None:
        async def read(r: aredis.Redis) -> bytes | None:
            owner, data = await r.hmget(_response(response_id), ["key_id", "data"])
            if data is None or owner is None or _text(owner) != key_id:
                return None
            return data if isinstance(data, bytes) else str(data).encode()

        return await self._run(read)

    async def delete_response(self, response_id: str, key_id: str) -> bool:
        async def write(r: aredis.Redis) -> bool:
            return bool(await r.eval(DELETE_RESPONSE, 1, _response(response_id), key_id))

        return await self._run(write)

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

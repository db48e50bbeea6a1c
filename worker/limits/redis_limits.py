"""Limit state in Redis: exact across replicas on many machines, one Lua script per batch of admissions.

Admissions that arrive together go to one run of the script (`batching.Batched`), which decides them
one after another, atomically: one round trip and one command's client work for the whole batch.

The script is `policy.admit_all` written again in Lua, run atomically by Redis against the key's state
and, when the model has limits of its own, the model's, with Redis's own clock, so replicas with
drifting clocks still agree. A state is a hash of four numbers and strings, `qwq:limit:<state id>`
(fields `t` and `k`: the requests' and the tokens' theoretical arrival times; `p` and `s`: the budget's
period and the money spent in it), read with one HMGET and written with one HSET per batch, whatever
the number of admissions in it: no JSON is decoded or encoded per request on the server. Concurrency
leases live in a hash of their own, `qwq:limit:<state id>:leases` (lease id to expiry), touched only
when the limits have a `max_concurrency`. A state kept by an earlier version as one JSON document is
turned into the hashes the first time a script meets it. (On a Redis Cluster the states of a key and
its model may live on different shards; the gateway expects one Redis, or a primary with replicas.)

The client side is kept as small: batches are decided one at a time, so they go over one connection
the limiter keeps for itself (no pool checkout per batch), the batch is one JSON argument and its
verdicts come back as one string (one line each), which costs redis-py one read instead of parsing a
nested reply. The scripts are loaded once, before the first batch (and again after a server restart
has emptied its script cache), then run by their SHA-1. Finished requests are settled in the same
batches: a batch with settlements sends a settle script run ahead of its admit script run, in one
write (a pipeline), so freeing leases adds no round trip of its own.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
import redis
import redis.asyncio as aredis
from redis.asyncio.connection import AbstractConnection

from worker.core.identity import Limits
from worker.limits.batching import Batched
from worker.limits.policy import Ask, Settle, Verdict, budget_period, until_next
from worker.store.base import StoreUnavailable
from worker.store.redis_store import NS, async_client, shown

log = logging.getLogger("worker.limits")

STATES = """
local states = {}
-- A state kept by an earlier version as one JSON document: turned into the hashes once.
local function migrate(k)
  local old = cjson.decode(redis.call('GET', k))
  redis.call('DEL', k)
  for id, untl in pairs(old.leases or {}) do redis.call('HSET', k .. ':leases', id, untl) end
  local v = {old.tat or 0, old.ttat or 0, old.period or '', old.spent or 0}
  redis.call('HSET', k, 't', v[1], 'k', v[2], 'p', v[3], 's', v[4])
  return v
end
local function state(k)
  local s = states[k]
  if s then return s end
  local v = redis.pcall('HMGET', k, 't', 'k', 'p', 's')
  if v.err then v = migrate(k) end
  s = {tat = tonumber(v[1]) or 0, ttat = tonumber(v[2]) or 0, period = v[3] or '',
       spent = tonumber(v[4]) or 0, absent = not (v[1] or v[2] or v[3] or v[4])}
  states[k] = s
  return s
end
local function save()
  for k, s in pairs(states) do
    if s.dirty then redis.call('HSET', k, 't', s.tat, 'k', s.ttat, 'p', s.period, 's', s.spent) end
  end
end
"""

ADMIT = (
    STATES
    + """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local W, E, S = 60.0, 1e-9, 1e-3  -- S: policy.SLACK, seconds
-- The live leases of a state (expired ones deleted), read once per script run.
local function leases(k, s)
  if s.leases then return s.leases end
  local live, count, soonest, gone = {}, 0, nil, {}
  local flat = redis.call('HGETALL', k .. ':leases')
  for j = 1, #flat, 2 do
    local untl = tonumber(flat[j + 1])
    if untl > now then
      live[flat[j]] = untl; count = count + 1
    else
      gone[#gone + 1] = flat[j]
    end
  end
  if #gone > 0 then redis.call('HDEL', k .. ':leases', unpack(gone)) end
  s.leases, s.count = live, count
  return live
end
local function soonest(live)
  local first = nil
  for _, untl in pairs(live) do
    if first == nil or untl < first then first = untl end
  end
  return first or now
end
local function admit(K, lims, tokens, worst, lease, ttl, period, until_next)
  local plans = {}
  for i = 1, #K do
    local s = state(K[i])
    local lim = lims[i]
    if lim.max_concurrency then
      local live = leases(K[i], s)
      if s.count >= lim.max_concurrency then
        return '0 concurrency ' .. tostring(math.max(soonest(live) - now, 1)) .. ' ' .. (i - 1)
      end
    end
    local spent = 0
    if s.period == period then spent = s.spent end
    if lim.budget_usd and spent >= lim.budget_usd - E then
      return '0 budget ' .. until_next .. ' ' .. (i - 1)
    end
    local new_tat, new_ttat = 0, 0
    if lim.rpm then
      new_tat = math.max(s.tat, now) + W / math.max(lim.rpm, 1)
      if lim.rpm <= 0 then return '0 requests ' .. tostring(W) .. ' ' .. (i - 1) end
      if new_tat - now > W + S then
        return '0 requests ' .. tostring(math.max(new_tat - now - W, 0)) .. ' ' .. (i - 1)
      end
    end
    if lim.tpm then
      new_ttat = math.max(s.ttat, now) + tokens * W / math.max(lim.tpm, 1)
      if lim.tpm <= 0 or new_ttat - now > W + S then
        local wait = W
        if tokens <= lim.tpm then wait = math.max(new_ttat - now - W, 0) end
        return '0 tokens ' .. tostring(wait) .. ' ' .. (i - 1)
      end
    end
    plans[i] = {s, spent, new_tat, new_ttat}
  end
  local reply = nil
  for i = 1, #K do
    local s, spent, new_tat, new_ttat = unpack(plans[i])
    local lim = lims[i]
    local rr, rsr, rt, rst = -1, '0', -1, '0'
    if lim.rpm then
      s.tat = new_tat
      rr = math.max(math.floor((W - (new_tat - now) + S) / (W / lim.rpm)), 0)
      rsr = tostring(new_tat - now)
    end
    if lim.tpm then
      s.ttat = new_ttat
      rt = math.max(math.floor((W - (new_ttat - now) + S) * lim.tpm / W), 0)
      rst = tostring(new_ttat - now)
    end
    if lim.max_concurrency then
      s.leases[lease] = now + ttl; s.count = s.count + 1
      redis.call('HSET', K[i] .. ':leases', lease, now + ttl)
    end
    if lim.budget_usd then s.period = period; s.spent = spent + worst end
    s.dirty = true
    if reply == nil then
      reply = string.format('1 %.0f %s %.0f %s', rr, rsr, rt, rst)
    end
  end
  return reply
end
local out = {}
for j, a in ipairs(cjson.decode(ARGV[1])) do
  local K = {}
  for n, index in ipairs(a[1]) do K[n] = KEYS[index] end
  out[j] = admit(K, a[2], a[3], a[4], a[5], a[6], a[7], a[8])
end
save()
return table.concat(out, '\\n')
"""
)

SETTLE = (
    STATES
    + """
for _, a in ipairs(cjson.decode(ARGV[1])) do
  local k, lease, delta, tpm, cost, period = KEYS[a[1]], a[2], a[3], a[4], a[5], a[6]
  if lease ~= '' then redis.call('HDEL', k .. ':leases', lease) end
  local s = state(k)
  if not s.absent then
    if tpm > 0 and delta ~= 0 then s.ttat = s.ttat + delta * 60.0 / tpm; s.dirty = true end
    if period ~= '' and s.period == period then s.spent = math.max(s.spent + cost, 0); s.dirty = true end
  end
end
save()
return 1
"""
)


class _Script:
    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()


ADMIT_SCRIPT = _Script(ADMIT)
SETTLE_SCRIPT = _Script(SETTLE)


def _key(key_id: str) -> str:
    return f"{NS}limit:{key_id}"


@functools.lru_cache(maxsize=1024)
def _wanted(limits: Limits) -> bytes:
    """The limits the script reads, as JSON without the absent ones (cjson has no null that reads as
    nil); kept per distinct `Limits` (a key's limits are the same object request after request)."""
    wanted = {
        "rpm": limits.rpm,
        "tpm": limits.tpm,
        "max_concurrency": limits.max_concurrency,
        "budget_usd": limits.budget_usd,
    }
    return orjson.dumps({k: v for k, v in wanted.items() if v is not None})


def _batch(asks: Sequence[Ask], now: float) -> tuple[list[str], bytes]:
    """The script's KEYS (each state once) and its one argument: per admission, the 1-based indexes of
    its states in KEYS, their limits, and its reservation. The budget's period and the time to its
    next start are worked out only for a key with a budget, once per kind of period in the batch."""
    keys: dict[str, int] = {}
    periods: dict[str | None, tuple[str, str]] = {}
    entries = []
    for ask in asks:
        held = ask.held()
        indexes = [keys.setdefault(_key(name), len(keys) + 1) for name, _ in held]
        period, until = "", "0"
        if ask.limits.budget_usd is not None:
            kind = ask.limits.budget_period
            known = periods.get(kind)
            if known is None:
                known = periods[kind] = (budget_period(kind, now), repr(until_next(kind, now)))
            period, until = known
        limits = orjson.Fragment(b"[" + b",".join([_wanted(limits) for _, limits in held]) + b"]")
        entries.append([indexes, limits, ask.tokens, ask.worst_cost, ask.lease, ask.lease_ttl, period, until])
    return list(keys), orjson.dumps(entries)


def _settlements(batch: Sequence[Settle]) -> tuple[list[str], bytes]:
    keys: dict[str, int] = {}
    entries = [
        [
            keys.setdefault(_key(s.key_id), len(keys) + 1),
            s.lease,
            s.token_delta,
            s.tpm or 0,
            s.cost_delta,
            s.period,
        ]
        for s in batch
    ]
    return list(keys), orjson.dumps(entries)


def _verdict(ask: Ask, line: bytes, now: float) -> Verdict:
    """One line of the script's reply: `1 remaining-requests reset remaining-tokens reset` (-1: no such
    limit) or `0 refusal retry-after by`."""
    fields = line.split(b" ")
    if fields[0] != b"1":
        refused = fields[1].decode()
        return Verdict(False, refused, float(fields[2]), by=int(fields[3]))  # type: ignore[arg-type]
    rr, rt = int(fields[1]), int(fields[3])
    return Verdict(
        True,
        None,
        0.0,
        None if rr < 0 else rr,
        float(fields[2]),
        None if rt < 0 else rt,
        float(fields[4]),
        budget_period(ask.limits.budget_period, now) if ask.limits.budget_usd is not None else "",
    )


Call = tuple["_Script", list[str], bytes]
"""One script run: the script, its KEYS and its one argument."""


async def _run(connection: AbstractConnection, calls: Sequence[Call]) -> list[Any]:
    """Run the scripts by their SHA-1 in one write and one read (a pipeline: the server runs them in
    order), loading and running again any the server does not have (yet, or any more: a restarted
    server has an empty script cache). A script that fails has its error as its reply: every reply is
    read before anything is raised, so none is left on the connection for the next batch to read."""
    packed = [
        part
        for script, keys, argument in calls
        for part in connection.pack_command("EVALSHA", script.sha, len(keys), *keys, argument)
    ]
    await connection.send_packed_command(packed, check_health=False)
    replies: list[Any] = []
    missing: list[int] = []
    for index in range(len(calls)):
        try:
            replies.append(await connection.read_response())
        except redis.exceptions.NoScriptError:
            replies.append(None)
            missing.append(index)
        except redis.exceptions.ResponseError as error:  # the script failed; the line is still in step
            replies.append(error)
    for index in missing:  # rare (after a restart): one at a time, in the pipeline's order
        script, keys, argument = calls[index]
        await _load(connection, script)
        await connection.send_packed_command(
            connection.pack_command("EVALSHA", script.sha, len(keys), *keys, argument), check_health=False
        )
        try:
            replies[index] = await connection.read_response()
        except redis.exceptions.ResponseError as error:
            replies[index] = error
    return replies


async def _load(connection: AbstractConnection, script: _Script) -> None:
    await connection.send_command("SCRIPT", "LOAD", script.source, check_health=False)
    await connection.read_response()


class RedisLimiter:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client: aredis.Redis | None = None
        self._line: AbstractConnection | None = None
        self._batched = Batched(self._decide)

    @property
    def client(self) -> aredis.Redis:
        # Made on first use, inside the event loop that will use it.
        if self._client is None:
            self._client = async_client(self.url)
        return self._client

    async def _admissions_line(self) -> AbstractConnection:
        """The connection admissions use, taken from the pool once and kept (one batch at a time uses
        it); the scripts are loaded when it is first taken. A connection that broke reconnects on its
        next command."""
        if self._line is None:
            line = await self.client.connection_pool.get_connection()  # type: ignore[no-untyped-call]
            try:
                await _load(line, ADMIT_SCRIPT)
                await _load(line, SETTLE_SCRIPT)
            except BaseException:
                await self.client.connection_pool.release(line)
                raise
            self._line = line
        return self._line

    async def admit(self, ask: Ask) -> Verdict:
        return await self._batched.admit(ask)

    def settle_soon(self, settles: Iterable[Settle]) -> None:
        self._batched.settle_soon(settles)

    async def settle(self, settles: Iterable[Settle]) -> None:
        await self._batched.settle(settles)

    async def _decide(self, asks: Sequence[Ask], settles: Sequence[Settle]) -> list[Verdict]:
        """The batch in one round trip: a settle script run for its finished requests, then an admit
        script run deciding its admissions in order, atomically."""
        now = time.time()
        calls: list[Call] = []
        if settles:
            keys, argument = _settlements(settles)
            calls.append((SETTLE_SCRIPT, keys, argument))
        if asks:
            keys, argument = _batch(asks, now)
            calls.append((ADMIT_SCRIPT, keys, argument))
        try:
            line = await self._admissions_line()
            replies = await _run(line, calls)
        except (redis.RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis state store {shown(self.url)}: {exc}") from exc
        if settles and isinstance(replies[0], Exception):
            # The admissions do not depend on it: they are still decided (leases expire by their TTL).
            log.warning("could not settle %d finished requests: %s", len(settles), replies[0])
        if not asks:
            return []
        if isinstance(replies[-1], Exception):
            raise StoreUnavailable(f"Redis state store {shown(self.url)}: {replies[-1]}") from replies[-1]
        lines = bytes(replies[-1]).split(b"\n")
        return [_verdict(ask, one, now) for ask, one in zip(asks, lines, strict=True)]

    async def aclose(self) -> None:
        await self._batched.flush()
        if self._client is not None:
            if self._line is not None:
                await self._client.connection_pool.release(self._line)
                self._line = None
            await self._client.aclose()
            self._client = None

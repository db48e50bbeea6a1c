"""Limit state in Redis: exact across replicas on many machines, one Lua script per admission.

Admissions that arrive together go to one run of the script (`batching.Batched`), which decides them
one after another, atomically: one round trip and one command's client work for the whole batch.

The script is `policy.admit_all` written again in Lua, run atomically by Redis against the key's state
(one JSON document at `qwq:limit:<key id>`) and, when the model has limits of its own, the model's
(`qwq:limit:model:<slug>`), with Redis's own clock, so replicas with drifting clocks still agree. Both
documents are read and written by the one script: all of a request's limits in one round trip. (On a
Redis Cluster the two keys may live on different shards; the gateway expects one Redis, or a primary
with replicas.) Finished requests are settled in batches: one pipeline of the settle script per flush.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson
import redis
import redis.asyncio as aredis

from worker.core.identity import Limits
from worker.limits.batching import Batched
from worker.limits.policy import Ask, Settle, Verdict, budget_period, until_next
from worker.store.base import StoreUnavailable
from worker.store.redis_store import NS, async_client, shown

ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local W, E, S = 60.0, 1e-9, 1e-3  -- S: policy.SLACK, seconds
local function admit(K, lims, tokens, worst, lease, ttl, period, until_next)
  local plans = {}
  for i = 1, #K do
    local raw = redis.call('GET', K[i])
    local s = raw and cjson.decode(raw) or {}
    local lim = lims[i]
    local leases, count, soonest = {}, 0, nil
    for id, untl in pairs(s.leases or {}) do
      if untl > now then
        leases[id] = untl; count = count + 1
        if soonest == nil or untl < soonest then soonest = untl end
      end
    end
    local spent = 0
    if s.period == period then spent = s.spent or 0 end
    if lim.max_concurrency and count >= lim.max_concurrency then
      return {0, 'concurrency', tostring(math.max((soonest or now) - now, 1)), i - 1}
    end
    if lim.budget_usd and spent >= lim.budget_usd - E then
      return {0, 'budget', until_next, i - 1}
    end
    local new_tat, new_ttat = 0, 0
    if lim.rpm then
      new_tat = math.max(s.tat or 0, now) + W / math.max(lim.rpm, 1)
      if lim.rpm <= 0 then return {0, 'requests', tostring(W), i - 1} end
      if new_tat - now > W + S then
        return {0, 'requests', tostring(math.max(new_tat - now - W, 0)), i - 1}
      end
    end
    if lim.tpm then
      new_ttat = math.max(s.ttat or 0, now) + tokens * W / math.max(lim.tpm, 1)
      if lim.tpm <= 0 or new_ttat - now > W + S then
        local wait = W
        if tokens <= lim.tpm then wait = math.max(new_ttat - now - W, 0) end
        return {0, 'tokens', tostring(wait), i - 1}
      end
    end
    plans[i] = {s, leases, spent, new_tat, new_ttat}
  end
  local reply = nil
  for i = 1, #K do
    local s, leases, spent, new_tat, new_ttat = unpack(plans[i])
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
    if lim.max_concurrency then leases[lease] = now + ttl end
    s.leases = leases
    if lim.budget_usd then s.period = period; s.spent = spent + worst end
    redis.call('SET', K[i], cjson.encode(s))
    if reply == nil then reply = {1, '', '0', rr, rsr, rt, rst} end
  end
  return reply
end
local out = {}
for j, a in ipairs(cjson.decode(ARGV[1])) do
  local K = {}
  for n, index in ipairs(a[1]) do K[n] = KEYS[index] end
  out[j] = admit(K, a[2], a[3], a[4], a[5], a[6], a[7], a[8])
end
return out
"""

SETTLE = """
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local s = cjson.decode(raw)
local delta, tpm, cost, period = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5]
if s.leases then s.leases[ARGV[1]] = nil end
if tpm > 0 and delta ~= 0 then s.ttat = (s.ttat or 0) + delta * 60.0 / tpm end
if period ~= '' and s.period == period then s.spent = math.max((s.spent or 0) + cost, 0) end
redis.call('SET', KEYS[1], cjson.encode(s))
return 1
"""


def _key(key_id: str) -> str:
    return f"{NS}limit:{key_id}"


def _wanted(limits: Limits) -> dict[str, float]:
    """The limits the script reads, without the absent ones (cjson has no null that reads as nil)."""
    wanted = {
        "rpm": limits.rpm,
        "tpm": limits.tpm,
        "max_concurrency": limits.max_concurrency,
        "budget_usd": limits.budget_usd,
    }
    return {k: v for k, v in wanted.items() if v is not None}


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _batch(asks: Sequence[Ask], now: float) -> tuple[list[str], bytes]:
    """The script's KEYS (each state once) and its one argument: per admission, the 1-based indexes of
    its states in KEYS, their limits, and its reservation."""
    keys: dict[str, int] = {}
    entries = []
    for ask in asks:
        held = ask.held()
        indexes = [keys.setdefault(_key(name), len(keys) + 1) for name, _ in held]
        entries.append(
            [
                indexes,
                [_wanted(limits) for _, limits in held],
                ask.tokens,
                ask.worst_cost,
                ask.lease,
                ask.lease_ttl,
                budget_period(ask.limits.budget_period, now),
                repr(until_next(ask.limits.budget_period, now)),
            ]
        )
    return list(keys), orjson.dumps(entries)


def _verdict(ask: Ask, reply: list[Any], now: float) -> Verdict:
    if int(reply[0]) != 1:
        refused = _text(reply[1])
        return Verdict(False, refused, float(_text(reply[2])), by=int(reply[3]))  # type: ignore[arg-type]
    rr, rt = int(reply[3]), int(reply[5])
    return Verdict(
        True,
        None,
        0.0,
        None if rr < 0 else rr,
        float(_text(reply[4])),
        None if rt < 0 else rt,
        float(_text(reply[6])),
        budget_period(ask.limits.budget_period, now) if ask.limits.budget_usd is not None else "",
    )


class RedisLimiter:
    def __init__(self, url: str) -> None:
        self.url = url
        self._client: aredis.Redis | None = None
        self._batched = Batched(self._decide)

    @property
    def client(self) -> aredis.Redis:
        # Made on first use, inside the event loop that will use it.
        if self._client is None:
            self._client = async_client(self.url)
            self._admit = self._client.register_script(ADMIT)
            self._settle = self._client.register_script(SETTLE)
        return self._client

    async def admit(self, ask: Ask) -> Verdict:
        return await self._batched.admit(ask)

    async def _decide(self, asks: Sequence[Ask]) -> list[Verdict]:
        """The batch's admissions in one script run: decided in order, atomically, in one round trip."""
        client = self.client
        now = time.time()
        keys, argument = _batch(asks, now)
        try:
            replies = await self._admit(keys=keys, args=[argument], client=client)
        except redis.RedisError as exc:
            raise StoreUnavailable(f"Redis state store {shown(self.url)}: {exc}") from exc
        return [_verdict(ask, reply, now) for ask, reply in zip(asks, replies, strict=True)]

    async def settle(self, batch: Sequence[Settle]) -> None:
        client = self.client
        try:
            async with client.pipeline(transaction=False) as pipe:
                for s in batch:
                    args: list[str | int] = [s.lease, s.token_delta, s.tpm or 0, repr(s.cost_delta), s.period]
                    await self._settle(keys=[_key(s.key_id)], args=args, client=pipe)
                await pipe.execute()
        except redis.RedisError as exc:
            raise StoreUnavailable(f"Redis state store {shown(self.url)}: {exc}") from exc

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

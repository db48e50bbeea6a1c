"""The state store: managed keys, usage sums, stored responses; in SQLite or Redis (one protocol, two homes).

A key is one JSON document (`KeyRecord.to_json`), the same in both stores, plus its last-used time kept
apart so that accounting never rewrites the document. Every change to a key bumps a store-wide version
number that each gateway process polls (`worker.store.keycache`): that is how a revocation reaches every
process and replica within a second. Usage is kept as sums per hour, key, model, target, surface
(`UsageDelta`), added to in batches by `worker.store.recorder`; queries add those sums up further.
A stored Responses API response is one opaque document with its owner's key id and an expiry time
(`worker.surfaces.stored`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

import orjson

from worker.core.identity import Identity, Limits

GroupBy = Literal["hour", "day", "key", "model"]
GROUP_BYS: tuple[GroupBy, ...] = ("hour", "day", "key", "model")
HOUR = 3600
DAY = 86400


class StoreUnavailable(RuntimeError):
    """The store cannot be reached (or opened); the message says which and why, without credentials."""


@dataclass(slots=True)
class KeyRecord:
    id: str
    name: str
    role: str
    secret_digest: str
    created_at: float
    models: list[str] = field(default_factory=list)
    expires_at: float | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    budget_usd: float | None = None
    budget_period: str | None = None
    revoked_at: float | None = None
    previous_digest: str | None = None
    """The secret before the last rotation, accepted until `previous_until` (the overlap)."""
    previous_until: float | None = None
    last_used_at: float | None = None

    def to_json(self) -> bytes:
        data = asdict(self)
        data.pop("last_used_at")
        return orjson.dumps(data)

    @classmethod
    def from_json(cls, raw: bytes | str, last_used_at: float | None = None) -> KeyRecord:
        data = orjson.loads(raw)
        data["last_used_at"] = last_used_at
        return cls(**data)

    def identity(self) -> Identity:
        limits = Limits(self.rpm, self.tpm, self.max_concurrency, self.budget_usd, self.budget_period)  # type: ignore[arg-type]
        return Identity(self.id, "admin" if self.role == "admin" else "user", tuple(self.models), limits)


USAGE_COUNTERS = (
    "requests",
    "errors",
    "client_left",
    "streamed",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cost_usd",
    "duration_s",
    "ttft_s",
    "ttft_count",
)
"""The sums kept per group; `cost_usd`, `duration_s` and `ttft_s` are floats, the others counts."""
FLOAT_COUNTERS = frozenset({"cost_usd", "duration_s", "ttft_s"})

Group = tuple[int, str, str, str, str]
"""(hour start in epoch seconds, key id, model, target, surface)."""


@dataclass(frozen=True, slots=True)
class UsageQuery:
    key_id: str | None = None
    model: str | None = None
    since: float | None = None
    until: float | None = None
    group_by: GroupBy = "hour"


ROW_FIELDS = (
    "key_id",
    "model",
    "period",
    "requests",
    "errors",
    "prompt_tokens",
    "completion_tokens",
    "reasoning_tokens",
    "cost_usd",
)


def summarize(sums: Sequence[tuple[Group, Mapping[str, float]]], query: UsageQuery) -> list[dict[str, Any]]:
    """Stored sums → answer rows, grouped as the query asks; the same code for both stores.

    `hour`/`day`: one row per key, model, period; `key`: one row per key (model and period null);
    `model`: one row per model (key and period null). Periods are the start of the hour or day in UTC.
    """
    rows: dict[tuple[Any, ...], dict[str, Any]] = {}
    for (hour, key_id, model, _target, _surface), counters in sums:
        if query.key_id is not None and key_id != query.key_id:
            continue
        if query.model is not None and model != query.model:
            continue
        if query.since is not None and hour + HOUR <= query.since:
            continue
        if query.until is not None and hour >= query.until:
            continue
        if query.group_by == "hour":
            ident: tuple[Any, ...] = (key_id, model, hour)
        elif query.group_by == "day":
            ident = (key_id, model, hour - hour % DAY)
        elif query.group_by == "key":
            ident = (key_id, None, None)
        else:
            ident = (None, model, None)
        row = rows.get(ident)
        if row is None:
            row = rows[ident] = dict.fromkeys(ROW_FIELDS[3:], 0)
            row.update(key_id=ident[0], model=ident[1], period=ident[2])
        for name in ROW_FIELDS[3:]:
            row[name] += counters.get(name, 0)
    out = []
    for ident in sorted(rows, key=lambda k: (k[2] or 0, k[0] or "", k[1] or "")):
        row = rows[ident]
        if ident[2] is not None:
            row["period"] = iso(ident[2])
        for name in ROW_FIELDS[3:]:
            row[name] = round(row[name], 10) if name == "cost_usd" else int(row[name])
        out.append({name: row[name] for name in ROW_FIELDS})
    return out


def iso(moment: float) -> str:
    """`2026-12-01T16:00:00Z`: times as the admin API and the CLI show them (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(moment))


class Store(Protocol):
    """Both stores; every method may raise `StoreUnavailable`."""

    url: str

    async def create_key(self, record: KeyRecord) -> None: ...

    async def put_key(self, record: KeyRecord) -> None:
        """Replace an existing key's document (update, rotate, revoke) and bump the version."""
        ...

    async def get_key(self, key_id: str) -> KeyRecord | None: ...

    async def list_keys(self) -> list[KeyRecord]: ...

    async def keys_version(self) -> int: ...

    async def add_usage(self, sums: Mapping[Group, Sequence[float]], last_used: Mapping[str, float]) -> None:
        """Add batched sums (values in `USAGE_COUNTERS` order) and last-used times, atomically."""
        ...

    async def usage_sums(self, query: UsageQuery) -> list[tuple[Group, dict[str, float]]]:
        """The stored sums the query may need (filtered at least by time), for `summarize`."""
        ...

    async def put_response(self, response_id: str, key_id: str, document: bytes, ttl: float) -> bool:
        """Keep a stored Responses API response for `ttl` seconds; False (nothing written) when that id
        is already held, unexpired, by another key (ids follow client-chosen `X-Request-Id`s)."""
        ...

    async def get_response(self, response_id: str, key_id: str) -> bytes | None:
        """The document, or None when it is absent, expired or another key's."""
        ...

    async def delete_response(self, response_id: str, key_id: str) -> bool:
        """Delete the key's own response; False when there was none to delete."""
        ...

    async def aclose(self) -> None: ...

"""Creating, changing, rotating and revoking managed keys: the rules shared by the admin API and the CLI.

Every field is validated here with a message for a person (`Invalid`); the secret exists in clear only in
the return value of `create` and `rotate` (shown once) and is kept as a SHA-256 digest.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from worker.core.identity import BUDGET_PERIODS, ROLES
from worker.store import keyformat
from worker.store.base import KeyRecord, Store, iso

FIELDS = frozenset(
    {
        "name",
        "role",
        "models",
        "expires_at",
        "metadata",
        "rpm",
        "tpm",
        "max_concurrency",
        "budget_usd",
        "budget_period",
    }
)
MAX_NAME = 200
MAX_METADATA_BYTES = 8192
MAX_OVERLAP = 7 * 86400
LATEST = 253402300799.0  # 9999-12-31T23:59:59Z: later times cannot be shown


class Invalid(ValueError):
    """A field of a key request is wrong; the message names it and says what is expected."""


class Conflict(ValueError):
    """The key is in a state that forbids the change (revoked)."""


@dataclass(frozen=True, slots=True)
class Issued:
    record: KeyRecord
    key: str
    """The whole key, `qwq_<id>_<secret>`: returned once, never stored."""


def parse_time(name: str, value: object) -> float | None:
    """Epoch seconds from a number or an ISO 8601 string (`2027-01-31`, `2027-01-31T12:00:00Z`)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Invalid(f"'{name}' must be an ISO 8601 time or seconds since the epoch")
    if isinstance(value, int | float):
        if not 0 <= value <= LATEST:  # also refuses NaN
            raise Invalid(f"'{name}' must be between 0 and {LATEST:.0f} seconds since the epoch")
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.datetime.fromisoformat(value.strip().upper().replace("Z", "+00:00"))
        except ValueError:
            raise Invalid(f"'{name}' must be an ISO 8601 time such as 2027-01-31T00:00:00Z") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=datetime.UTC)
        return parse_time(name, moment.timestamp())
    raise Invalid(f"'{name}' must be an ISO 8601 time or seconds since the epoch")


def _positive_int(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise Invalid(f"'{name}' must be a whole number of at least 1, or null")
    return value


def check_fields(body: object, models: Collection[str], *, creating: bool) -> dict[str, Any]:
    """The validated fields of a create or update body (only those present when updating)."""
    if not isinstance(body, Mapping):
        raise Invalid("The body must be a JSON object")
    unknown = sorted(set(body) - FIELDS)
    if unknown:
        raise Invalid(f"Unknown field(s): {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}")
    out: dict[str, Any] = {}
    if "name" in body:
        name = body["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise Invalid(f"'name' must be a non-empty string of at most {MAX_NAME} characters")
        out["name"] = name.strip()
    elif creating:
        raise Invalid("'name' is required: say whom or what the key is for")
    if "role" in body:
        if body["role"] not in ROLES:
            raise Invalid("'role' must be 'admin' or 'user'")
        out["role"] = body["role"]
    if "models" in body:
        wanted = body["models"]
        if not isinstance(wanted, list) or not all(isinstance(m, str) for m in wanted):
            raise Invalid("'models' must be a list of model slugs (empty: every model)")
        unknown_models = sorted(set(wanted) - set(models))
        if unknown_models:
            known = ", ".join(sorted(models))
            raise Invalid(f"Unknown model(s) in 'models': {', '.join(unknown_models)}; known: {known}")
        out["models"] = list(dict.fromkeys(wanted))
    if "expires_at" in body:
        out["expires_at"] = parse_time("expires_at", body["expires_at"])
    if "metadata" in body:
        metadata = body["metadata"]
        if not isinstance(metadata, dict):
            raise Invalid("'metadata' must be a JSON object")
        if len(orjson.dumps(metadata)) > MAX_METADATA_BYTES:
            raise Invalid(f"'metadata' must be at most {MAX_METADATA_BYTES} bytes as JSON")
        out["metadata"] = metadata
    for name in ("rpm", "tpm", "max_concurrency"):
        if name in body:
            out[name] = _positive_int(name, body[name])
    if "budget_usd" in body:
        budget = body["budget_usd"]
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int | float) or budget < 0
        ):
            raise Invalid("'budget_usd' must be a number of at least 0, or null")
        out["budget_usd"] = None if budget is None else float(budget)
    if "budget_period" in body:
        if body["budget_period"] is not None and body["budget_period"] not in BUDGET_PERIODS:
            raise Invalid("'budget_period' must be 'day', 'month', 'total' or null")
        out["budget_period"] = body["budget_period"]
    return out


def public(record: KeyRecord, now: float | None = None) -> dict[str, Any]:
    """A key as the admin API and the CLI show it: everything but digests."""
    now = time.time() if now is None else now
    if record.revoked_at is not None:
        status = "revoked"
    elif record.expires_at is not None and now >= record.expires_at:
        status = "expired"
    else:
        status = "active"

    def when(moment: float | None) -> str | None:
        return None if moment is None else iso(moment)

    return {
        "id": record.id,
        "object": "key",
        "name": record.name,
        "role": record.role,
        "status": status,
        "models": record.models,
        "expires_at": when(record.expires_at),
        "metadata": record.metadata,
        "rpm": record.rpm,
        "tpm": record.tpm,
        "max_concurrency": record.max_concurrency,
        "budget_usd": record.budget_usd,
        "budget_period": record.budget_period,
        "created_at": when(record.created_at),
        "last_used_at": when(record.last_used_at),
        "revoked_at": when(record.revoked_at),
        "previous_secret_valid_until": when(record.previous_until)
        if record.previous_until and record.previous_until > now
        else None,
    }


async def create(store: Store, fields: Mapping[str, Any]) -> Issued:
    secret = keyformat.new_secret()
    record = KeyRecord(
        id=keyformat.new_id(),
        name=fields["name"],
        role=fields.get("role", "user"),
        secret_digest=keyformat.digest(secret),
        created_at=time.time(),
    )
    _apply(record, fields)
    await store.create_key(record)
    return Issued(record, keyformat.compose(record.id, secret))


def _apply(record: KeyRecord, fields: Mapping[str, Any]) -> None:
    for name, value in fields.items():
        setattr(record, name, value)
    if record.budget_usd is not None and record.budget_period is None:
        record.budget_period = "month"


async def update(store: Store, record: KeyRecord, fields: Mapping[str, Any]) -> KeyRecord:
    if record.revoked_at is not None:
        raise Conflict("The key is revoked; create a new one")
    _apply(record, fields)
    await store.put_key(record)
    return record


async def revoke(store: Store, record: KeyRecord) -> KeyRecord:
    if record.revoked_at is None:  # revoking twice changes nothing (and keeps the first time)
        record.revoked_at = time.time()
        await store.put_key(record)
    return record


def overlap_of(body: object) -> float:
    if body is None:
        return 0.0
    if not isinstance(body, Mapping) or set(body) - {"overlap_seconds"}:
        raise Invalid('The body must be empty or {"overlap_seconds": <seconds>}')
    value = body.get("overlap_seconds", 0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= MAX_OVERLAP:
        raise Invalid(f"'overlap_seconds' must be a number from 0 to {MAX_OVERLAP}")
    return float(value)


async def rotate(store: Store, record: KeyRecord, overlap: float) -> Issued:
    """A new secret for the same id; the old one keeps working for `overlap` seconds (0: not at all)."""
    if record.revoked_at is not None:
        raise Conflict("The key is revoked; create a new one")
    secret = keyformat.new_secret()
    if overlap > 0:
        record.previous_digest, record.previous_until = record.secret_digest, time.time() + overlap
    else:
        record.previous_digest, record.previous_until = None, None
    record.secret_digest = keyformat.digest(secret)
    await store.put_key(record)
    return Issued(record, keyformat.compose(record.id, secret))

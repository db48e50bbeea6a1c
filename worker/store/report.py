"""Usage queries: parameters as the admin API and the CLI take them, and the answer as JSON rows or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

from worker.store.base import GROUP_BYS, ROW_FIELDS, Store, UsageQuery, summarize
from worker.store.manage import Invalid, parse_time

PARAMETERS = frozenset({"key_id", "model", "from", "to", "group_by", "format"})
FORMATS = ("json", "csv")


def parse_query(params: Mapping[str, str]) -> tuple[UsageQuery, str]:
    """(query, format) from `key_id`, `model`, `from`, `to`, `group_by`, `format`; raises `Invalid`."""
    unknown = sorted(set(params) - PARAMETERS)
    if unknown:
        raise Invalid(f"Unknown parameter(s): {', '.join(unknown)}; allowed: {', '.join(sorted(PARAMETERS))}")
    group_by = params.get("group_by") or "hour"
    if group_by not in GROUP_BYS:
        raise Invalid("'group_by' must be 'hour', 'day', 'key' or 'model'")
    fmt = params.get("format") or "json"
    if fmt not in FORMATS:
        raise Invalid("'format' must be 'json' or 'csv'")
    since = parse_time("from", _number_or_text(params.get("from")))
    until = parse_time("to", _number_or_text(params.get("to")))
    if since is not None and until is not None and until <= since:
        raise Invalid("'to' must be later than 'from'")
    query = UsageQuery(params.get("key_id") or None, params.get("model") or None, since, until, group_by)
    return query, fmt


def _number_or_text(raw: str | None) -> object:
    if not raw:
        return None
    try:
        return float(raw)
    except ValueError:
        return raw


async def usage_rows(store: Store, query: UsageQuery) -> list[dict[str, Any]]:
    return summarize(await store.usage_sums(query), query)


def as_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(ROW_FIELDS)
    for row in rows:
        writer.writerow(["" if row[name] is None else row[name] for name in ROW_FIELDS])
    return out.getvalue()

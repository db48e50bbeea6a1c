"""`qwq-gateway keys ...` and `qwq-gateway usage`: managed keys and usage on the state store, without HTTP.

For bootstrapping (the first managed admin key) and for scripts on the gateway's machine. The commands
read the same settings as the server (`STATE_URL`, `DATA_DIR`, `MODELS_FILE`, ...), so they act on the
store the gateway uses. A running gateway sees their changes within `KEYS_POLL_INTERVAL`.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import orjson

from worker.config.models import load_table
from worker.config.settings import Settings, SettingsError, load_settings
from worker.state import open_state_store
from worker.store import Store, StoreUnavailable, manage
from worker.store.report import as_csv, parse_query, usage_rows

COMMANDS = ("keys", "usage")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qwq-gateway", description="Managed keys and usage on the state store."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    keys = sub.add_parser("keys", help="create, list, revoke or rotate managed keys")
    actions = keys.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create a key and print it (the only time it is shown)")
    create.add_argument("--name", required=True)
    create.add_argument("--role", choices=("admin", "user"), default="user")
    create.add_argument("--models", default="", help="comma-separated model slugs (default: every model)")
    create.add_argument("--expires-at", help="ISO 8601 time or seconds since the epoch")
    create.add_argument("--metadata", help="a JSON object of your own")
    for limit in ("rpm", "tpm", "max-concurrency"):
        create.add_argument(f"--{limit}", type=int)
    create.add_argument("--budget-usd", type=float)
    create.add_argument("--budget-period", choices=("day", "month", "total"))
    actions.add_parser("list", help="every managed key (never a secret)")
    revoke = actions.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")
    rotate = actions.add_parser("rotate", help="a new secret for the same id, printed once")
    rotate.add_argument("key_id")
    rotate.add_argument("--overlap", type=float, default=0.0, help="seconds the old secret keeps working")
    usage = sub.add_parser("usage", help="requests, tokens and cost per key, model and period")
    usage.add_argument("--key-id")
    usage.add_argument("--model")
    usage.add_argument("--from", dest="since")
    usage.add_argument("--to", dest="until")
    usage.add_argument("--group-by", choices=("hour", "day", "key", "model"), default="hour")
    usage.add_argument("--format", choices=("json", "csv"), default="json")
    return parser


def _create_fields(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"name": args.name, "role": args.role}
    if args.models:
        body["models"] = [m.strip() for m in args.models.split(",") if m.strip()]
    if args.expires_at:
        body["expires_at"] = float(args.expires_at) if args.expires_at.isdigit() else args.expires_at
    if args.metadata:
        try:
            body["metadata"] = orjson.loads(args.metadata)
        except orjson.JSONDecodeError:
            raise manage.Invalid("--metadata must be a JSON object") from None
    for name in ("rpm", "tpm", "max_concurrency", "budget_usd", "budget_period"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    return body


async def _run(args: argparse.Namespace, settings: Settings, store: Store) -> str:
    try:
        if args.command == "usage":
            params = {
                "key_id": args.key_id,
                "model": args.model,
                "from": args.since,
                "to": args.until,
                "group_by": args.group_by,
                "format": args.format,
            }
            query, fmt = parse_query({k: v for k, v in params.items() if v})
            rows = await usage_rows(store, query)
            return as_csv(rows) if fmt == "csv" else _show({"data": rows})
        if args.action == "list":
            return _show({"data": [manage.public(r) for r in await store.list_keys()]})
        if args.action == "create":
            table = load_table(settings)
            fields = manage.check_fields(_create_fields(args), table.entries, creating=True)
            issued = await manage.create(store, fields)
            return _show({**manage.public(issued.record), "key": issued.key})
        record = await store.get_key(args.key_id)
        if record is None:
            raise manage.Invalid(f"No key with id '{args.key_id}'")
        if args.action == "revoke":
            return _show(manage.public(await manage.revoke(store, record)))
        issued = await manage.rotate(store, record, manage.overlap_of({"overlap_seconds": args.overlap}))
        return _show({**manage.public(issued.record), "key": issued.key})
    finally:
        await store.aclose()


def _show(data: object) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
        store = open_state_store(settings)
        if store is None:
            raise SettingsError("STATE_URL is 'off': there is no state store to manage")
        sys.stdout.write(asyncio.run(_run(args, settings, store)))
    except (SettingsError, StoreUnavailable, manage.Invalid, manage.Conflict) as exc:
        print(f"qwq-gateway: {exc}", file=sys.stderr)
        return 2
    return 0

"""The admin API (`/admin/v1/...`): managed keys and usage queries, for admin keys only.

Answers are JSON; errors are `{"error": ..., "detail": ...}`: 401 without a valid key, 403 for a key
whose role is `user`, 400 for a malformed body or parameter, 404 for an unknown id, 409 for a change to
a revoked key, 503 when there is no state store or it cannot be reached. The secret of a key is in the
answer to a create or a rotation, once, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from worker.core.errors import Forbidden, Unauthorized
from worker.core.identity import Identity
from worker.state import AppState
from worker.store import manage
from worker.store.base import KeyRecord, Store, StoreUnavailable
from worker.store.report import as_csv, parse_query, usage_rows
from worker.web.auth import require_admin_key

Handler = Callable[[Request], Awaitable[Response]]


class AdminError(Exception):
    def __init__(self, status: int, error: str, detail: str) -> None:
        super().__init__(error)
        self.status, self.error, self.detail = status, error, detail


def _json(data: object, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


async def _admin(state: AppState, request: Request) -> Identity:
    """The caller's identity, if it is an admin's; a user key is 403, no or a wrong key 401."""
    try:
        return await require_admin_key(state.keys, state.key_cache, request.headers.get("authorization"))
    except Forbidden:
        raise AdminError(403, "Forbidden", "The admin API needs an admin key") from None
    except Unauthorized as exc:
        raise AdminError(401, "Unauthorized", str(exc.detail)) from None


async def _body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > 65536:
        raise AdminError(413, "Payload too large", "An admin request body must be at most 64 KiB")
    if not raw.strip():
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise AdminError(400, "Invalid JSON", "The body is not valid JSON") from None


class AdminAPI:
    def __init__(self, state: AppState) -> None:
        self.state = state

    def _store(self) -> Store:
        if self.state.store is None:
            raise AdminError(503, "No state store", "Managed keys need a state store: STATE_URL is 'off'")
        return self.state.store

    async def _record(self, key_id: str) -> KeyRecord:
        record = await self._store().get_key(key_id)
        if record is None:
            raise AdminError(404, "Not found", f"No key with id '{key_id}'")
        return record

    def _cache(self, record: KeyRecord) -> None:
        if self.state.key_cache is not None:
            self.state.key_cache.put(record)

    def handler(self, work: Callable[[Request], Awaitable[Response]]) -> Handler:
        async def handle(request: Request) -> Response:
            try:
                await _admin(self.state, request)
                return await work(request)
            except AdminError as exc:
                return _json({"error": exc.error, "detail": exc.detail}, exc.status)
            except manage.Invalid as exc:
                return _json({"error": "Invalid request", "detail": str(exc)}, 400)
            except manage.Conflict as exc:
                return _json({"error": "Conflict", "detail": str(exc)}, 409)
            except StoreUnavailable:
                detail = "The state store cannot be reached; try again shortly"
                return _json({"error": "State store unavailable", "detail": detail}, 503)

        return handle

    async def create(self, request: Request) -> Response:
        fields = manage.check_fields(await _body(request), self.state.table.entries, creating=True)
        issued = await manage.create(self._store(), fields)
        self._cache(issued.record)
        return _json({**manage.public(issued.record), "key": issued.key}, 201)

    async def list(self, request: Request) -> Response:
        if request.query_params:
            raise manage.Invalid("GET /admin/v1/keys takes no parameters")
        records = await self._store().list_keys()
        return _json({"object": "list", "data": [manage.public(r) for r in records]})

    async def get(self, request: Request) -> Response:
        return _json(manage.public(await self._record(request.path_params["key_id"])))

    async def patch(self, request: Request) -> Response:
        record = await self._record(request.path_params["key_id"])
        fields = manage.check_fields(await _body(request), self.state.table.entries, creating=False)
        record = await manage.update(self._store(), record, fields)
        self._cache(record)
        return _json(manage.public(record))

    async def delete(self, request: Request) -> Response:
        record = await manage.revoke(self._store(), await self._record(request.path_params["key_id"]))
        self._cache(record)
        return _json(manage.public(record))

    async def rotate(self, request: Request) -> Response:
        record = await self._record(request.path_params["key_id"])
        issued = await manage.rotate(self._store(), record, manage.overlap_of(await _body(request)))
        self._cache(issued.record)
        return _json({**manage.public(issued.record), "key": issued.key})

    async def usage(self, request: Request) -> Response:
        query, fmt = parse_query(dict(request.query_params))
        if self.state.recorder is not None:
            await self.state.recorder.flush()  # what this process has counted so far is in the answer
        rows = await usage_rows(self._store(), query)
        if fmt == "csv":
            return Response(as_csv(rows), media_type="text/csv; charset=utf-8")
        return _json({"object": "list", "data": rows})


def admin_routes(state: AppState) -> list[Route]:
    api = AdminAPI(state)

    async def key_item(request: Request) -> Response:
        action = {"GET": api.get, "PATCH": api.patch, "DELETE": api.delete}[request.method]
        return await action(request)

    async def keys(request: Request) -> Response:
        return await (api.create if request.method == "POST" else api.list)(request)

    return [
        Route("/admin/v1/keys", api.handler(keys), methods=["GET", "POST"]),
        Route("/admin/v1/keys/{key_id}", api.handler(key_item), methods=["GET", "PATCH", "DELETE"]),
        Route("/admin/v1/keys/{key_id}/rotate", api.handler(api.rotate), methods=["POST"]),
        Route("/admin/v1/usage", api.handler(api.usage), methods=["GET"]),
    ]

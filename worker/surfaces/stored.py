"""Stored Responses API responses: kept in the state store, owned by the key that made them.

A stored document is `{"response": <the response as answered>, "input": [<items>]}`, where the items
are the whole conversation the model was given (the items of the previous response's conversation,
its output, then this request's `input`), each with an id. Continuing with `previous_response_id` puts
that conversation and output before the new `input`; instructions are not carried over.

The write is awaited before the answer (or the stream's `response.completed`) is sent, so a `GET`
right after finds it; it runs off the event loop (SQLite's own thread, Redis's async client). A
response larger than `RESPONSES_MAX_BYTES`, or one the store could not take, is answered with
`"store": false` (and logged): that is how the client learns it was not kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from worker.core.errors import GatewayError, NotFound
from worker.dialects.openai_responses import PreviousResponseNotFound, ResponsesCall, input_items
from worker.store import Store, StoreUnavailable

log = logging.getLogger("worker.responses")


class StoreDown(GatewayError):
    status = 503
    code = "store_unavailable"
    message = "The state store that keeps responses cannot be reached; try again"


class ResponseNotFound(NotFound):
    code = "response_not_found"


class StoredResponses:
    """One key's view of the stored responses (what it may read, continue and delete)."""

    def __init__(self, store: Store, key_id: str, ttl: float, max_bytes: int) -> None:
        self.store = store
        self.key_id = key_id
        self.ttl = ttl
        self.max_bytes = max_bytes

    async def document(self, response_id: str) -> dict[str, Any] | None:
        try:
            raw = await self.store.get_response(response_id, self.key_id)
        except StoreUnavailable as exc:
            log.warning("stored response %s not read: %s", response_id[:80], exc)
            raise StoreDown() from None
        return None if raw is None else dict(orjson.loads(raw))

    async def found(self, response_id: str) -> dict[str, Any]:
        """The document, or the 404 OpenAI answers for an id it does not hold (or holds for another key)."""
        document = await self.document(response_id)
        if document is None:
            raise ResponseNotFound(
                f"Response with id '{response_id[:80]}' not found.", {"param": "response_id"}
            )
        return document

    async def delete(self, response_id: str) -> None:
        try:
            deleted = await self.store.delete_response(response_id, self.key_id)
        except StoreUnavailable as exc:
            log.warning("stored response %s not deleted: %s", response_id[:80], exc)
            raise StoreDown() from None
        if not deleted:
            raise ResponseNotFound(
                f"Response with id '{response_id[:80]}' not found.", {"param": "response_id"}
            )

    async def conversation(self, previous_id: str) -> list[dict[str, Any]]:
        """The items `previous_response_id` continues: its conversation, then its output."""
        document = await self.document(previous_id)
        if document is None:
            raise PreviousResponseNotFound(
                f"Previous response with id '{previous_id[:80]}' not found.",
                {"param": "previous_response_id"},
            )
        return [*document["input"], *document["response"]["output"]]

    async def keep(
        self, response: Mapping[str, Any], call: ResponsesCall, history: Sequence[Mapping[str, Any]]
    ) -> bool:
        """Store the response; False (logged) when it is too large or the store failed."""
        response_id = str(response["id"])
        items = [*history, *_with_ids(input_items(call.body["input"]), response_id)]
        document = orjson.dumps({"response": response, "input": items})
        if len(document) > self.max_bytes:
            log.info(
                "response %s not stored: %d bytes, over RESPONSES_MAX_BYTES=%d",
                response_id,
                len(document),
                self.max_bytes,
            )
            return False
        try:
            kept = await self.store.put_response(response_id, self.key_id, document, self.ttl)
        except StoreUnavailable as exc:
            log.warning("response %s not stored: %s", response_id, exc)
            return False
        if not kept:
            log.warning("response %s not stored: its id is held by another key", response_id)
        return kept


def _with_ids(items: list[dict[str, Any]], response_id: str) -> list[dict[str, Any]]:
    """Input items as listed later: each with an id (the client's if it gave one), messages with status."""
    base = response_id.removeprefix("resp_")
    for index, item in enumerate(items):
        item.setdefault("type", "message")
        item.setdefault("id", f"in_{base}_{index}")
        if item["type"] == "message" and isinstance(item.get("content"), str):
            kind = "output_text" if item.get("role") == "assistant" else "input_text"
            item["content"] = [{"type": kind, "text": item["content"]}]
    return items


def input_items_page(items: Sequence[Mapping[str, Any]], query: Mapping[str, str]) -> dict[str, Any]:
    """`GET /v1/responses/{id}/input_items`: OpenAI's list, newest first unless `order=asc`, `limit`
    (1-100, default 20) items after the item `after`."""
    ordered = list(items) if query.get("order") == "asc" else list(reversed(items))
    after = query.get("after")
    if after:
        ids = [item.get("id") for item in ordered]
        ordered = ordered[ids.index(after) + 1 :] if after in ids else []
    try:
        limit = min(max(int(query.get("limit", "20")), 1), 100)
    except ValueError:
        limit = 20
    data = ordered[:limit]
    return {
        "object": "list",
        "data": data,
        "first_id": data[0].get("id") if data else None,
        "last_id": data[-1].get("id") if data else None,
        "has_more": len(ordered) > limit,
    }

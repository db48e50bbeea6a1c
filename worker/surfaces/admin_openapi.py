"""The OpenAPI description of the admin API (`worker.surfaces.admin`), merged into `/openapi.json`."""

from __future__ import annotations

from typing import Any

from worker.config.models import ModelTable
from worker.store.base import ROW_FIELDS
from worker.store.manage import MAX_NAME, MAX_OVERLAP

REF = "#/components/schemas/"
NULLABLE_INT = {"type": ["integer", "null"], "minimum": 1}
TIME = {"type": ["string", "null"], "format": "date-time"}
TIME_INPUT = {
    "description": "ISO 8601 time (UTC unless it says otherwise) or seconds since the epoch; null: never.",
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "number", "minimum": 0, "maximum": 253402300799},
        {"type": "null"},
    ],
}


def _fields(models: list[str]) -> dict[str, Any]:
    return {
        "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": r"\S"},
        "role": {"enum": ["admin", "user"], "description": "`admin` may use this API; default `user`."},
        "models": {
            "type": "array",
            "items": {"enum": models},
            "description": "Model slugs the key may use; empty or absent: every model.",
        },
        "expires_at": TIME_INPUT,
        "metadata": {"type": "object", "description": "Free JSON of your own, at most 8 KiB."},
        "rpm": NULLABLE_INT,
        "tpm": NULLABLE_INT,
        "max_concurrency": NULLABLE_INT,
        "budget_usd": {"type": ["number", "null"], "minimum": 0},
        "budget_period": {"enum": ["day", "month", "total", None]},
    }


KEY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "object", "name", "role", "status", "created_at"],
    "properties": {
        "id": {"type": "string"},
        "object": {"const": "key"},
        "name": {"type": "string"},
        "role": {"enum": ["admin", "user"]},
        "status": {"enum": ["active", "expired", "revoked"]},
        "models": {"type": "array", "items": {"type": "string"}},
        "expires_at": TIME,
        "metadata": {"type": "object"},
        "rpm": NULLABLE_INT,
        "tpm": NULLABLE_INT,
        "max_concurrency": NULLABLE_INT,
        "budget_usd": {"type": ["number", "null"]},
        "budget_period": {"enum": ["day", "month", "total", None]},
        "created_at": TIME,
        "last_used_at": TIME,
        "revoked_at": TIME,
        "previous_secret_valid_until": TIME,
    },
}
ISSUED: dict[str, Any] = {
    "allOf": [
        {"$ref": REF + "AdminKey"},
        {
            "type": "object",
            "required": ["key"],
            "properties": {"key": {"type": "string", "description": "The whole key, shown this once."}},
        },
    ]
}
ROW = {
    "type": "object",
    "required": list(ROW_FIELDS),
    "properties": {
        "key_id": {"type": ["string", "null"]},
        "model": {"type": ["string", "null"]},
        "period": TIME,
        **{name: {"type": "integer", "minimum": 0} for name in ROW_FIELDS[3:-1]},
        "cost_usd": {"type": "number", "minimum": 0},
    },
}
ERROR = {
    "type": "object",
    "required": ["error", "detail"],
    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
}


def _json(description: str, schema: str | dict[str, Any]) -> dict[str, Any]:
    body = {"$ref": REF + schema} if isinstance(schema, str) else schema
    return {"description": description, "content": {"application/json": {"schema": body}}}


def _errors(*statuses: str) -> dict[str, Any]:
    meaning = {
        "400": "A malformed body or parameter (`detail` says which)",
        "401": "No valid API key",
        "403": "The key's role is not `admin`",
        "404": "No key with this id",
        "409": "The key is revoked",
        "413": "The body is over 64 KiB",
        "503": "No state store (`STATE_URL=off`), or it cannot be reached",
    }
    return {s: _json(meaning[s], "AdminError") for s in ("401", "403", "503", *statuses)}


def _listing(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["object", "data"],
        "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": {"$ref": REF + item}}},
    }


def admin_paths(table: ModelTable) -> dict[str, Any]:
    models = sorted(table.entries)
    key_id = {"name": "key_id", "in": "path", "required": True, "schema": {"type": "string"}}
    security: list[dict[str, list[str]]] = [{"bearer": []}]
    body = {
        "required": False,
        "content": {
            "application/json": {
                "schema": {"type": "object", "additionalProperties": False, "properties": _fields(models)}
            }
        },
    }
    create_body = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["name"],
                    "properties": _fields(models),
                }
            }
        },
    }
    query = [
        {"name": "key_id", "in": "query", "schema": {"type": "string"}},
        {"name": "model", "in": "query", "schema": {"type": "string"}},
        {"name": "from", "in": "query", "schema": {"type": "string"}, "description": "ISO 8601 or epoch"},
        {"name": "to", "in": "query", "schema": {"type": "string"}, "description": "ISO 8601 or epoch"},
        {"name": "group_by", "in": "query", "schema": {"enum": ["hour", "day", "key", "model"]}},
        {"name": "format", "in": "query", "schema": {"enum": ["json", "csv"]}},
    ]
    keys_list = _listing("AdminKey")
    rows = _listing("UsageRow")
    return {
        "/admin/v1/keys": {
            "post": {
                "operationId": "adminCreateKey",
                "summary": "Create a managed key; the answer holds the key itself, this once",
                "security": security,
                "requestBody": create_body,
                "responses": {"201": _json("The key, with `key`", "AdminIssuedKey"), **_errors("400", "413")},
            },
            "get": {
                "operationId": "adminListKeys",
                "summary": "Every managed key (never a secret)",
                "security": security,
                "responses": {"200": _json("The keys", keys_list), **_errors("400")},
            },
        },
        "/admin/v1/keys/{key_id}": {
            "parameters": [key_id],
            "get": {
                "operationId": "adminGetKey",
                "summary": "One managed key",
                "security": security,
                "responses": {"200": _json("The key", "AdminKey"), **_errors("404")},
            },
            "patch": {
                "operationId": "adminUpdateKey",
                "summary": "Change a key's name, role, models, expiry, metadata or limits",
                "security": security,
                "requestBody": body,
                "responses": {"200": _json("The key", "AdminKey"), **_errors("400", "404", "409", "413")},
            },
            "delete": {
                "operationId": "adminRevokeKey",
                "summary": "Revoke a key (every process refuses it within a second; its usage stays)",
                "security": security,
                "responses": {"200": _json("The revoked key", "AdminKey"), **_errors("404")},
            },
        },
        "/admin/v1/keys/{key_id}/rotate": {
            "parameters": [key_id],
            "post": {
                "operationId": "adminRotateKey",
                "summary": "A new secret for the same id; the old one works `overlap_seconds` more",
                "security": security,
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "overlap_seconds": {
                                        "type": "number",
                                        "minimum": 0,
                                        "maximum": MAX_OVERLAP,
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json("The key, with its new `key`", "AdminIssuedKey"),
                    **_errors("400", "404", "409", "413"),
                },
            },
        },
        "/admin/v1/usage": {
            "get": {
                "operationId": "adminUsage",
                "summary": "Requests, errors, tokens and cost, per key, model and hour or day",
                "security": security,
                "parameters": query,
                "responses": {
                    "200": {
                        "description": "The rows (`text/csv` with `format=csv`)",
                        "content": {
                            "application/json": {"schema": rows},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    **_errors("400"),
                },
            }
        },
    }


ADMIN_SCHEMAS = {"AdminKey": KEY, "AdminIssuedKey": ISSUED, "UsageRow": ROW, "AdminError": ERROR}

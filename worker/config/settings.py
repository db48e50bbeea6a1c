"""Deployment settings: built-in defaults, overridden by `wrangler.toml` `[vars]`, overridden by env vars.

The same names work in all three places, so one `wrangler.toml` configures both the Cloudflare Python
Worker and a uvicorn deployment. Secrets (`API_KEYS`, `UPSTREAM_API_KEY`) belong in the environment or
in `wrangler secret put`, never in `[vars]`. Every field documents itself, and docs/configuration.md
lists every field with its default (a test keeps the two in step).

The `wrangler.toml` read is the one named by `WRANGLER_TOML`, else the one in the working directory,
and only if it exists: an installed gateway owns no source tree, so started anywhere else it runs on the
built-in defaults, which equal the repository's `[vars]` (a test keeps them equal). Started from the
root of a checkout (as `scripts/serve.sh` does), it reads that checkout's `wrangler.toml`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from worker.core.ir import ReasoningMode, ResponseShape

WRANGLER_TOML = "wrangler.toml"  # relative: the working directory's, when there is one


def _setting(default: Any, doc: str, *, secret: bool = False) -> Any:
    return field(default=default, metadata={"doc": doc, "secret": secret})


@dataclass(frozen=True, slots=True)
class Settings:
    api_keys: tuple[str, ...] = _setting(
        (), "Comma-separated client API keys accepted as `Authorization: Bearer <key>`.", secret=True
    )
    allow_no_auth: bool = _setting(
        False, "Development only: start without `API_KEYS` and accept every request (logged loudly)."
    )
    host: str = _setting("127.0.0.1", "Address `qwq-gateway` listens on.")
    port: int = _setting(8787, "Port `qwq-gateway` listens on.")
    forwarded_allow_ips: str = _setting(
        "",
        "Comma-separated addresses or networks of reverse proxies trusted to name the client in "
        "`X-Forwarded-For` (and the scheme in `X-Forwarded-Proto`), for logs and limits; `*` trusts "
        "every peer. Empty: those headers are ignored and the client is the socket's peer.",
    )
    upstream_url: str = _setting(
        "",
        "Base URL of an OpenAI-compatible upstream (e.g. `https://api.deepinfra.com/v1/openai`). "
        "Empty: the built-in QwQ-32B simulator.",
    )
    upstream_api_key: str = _setting("", "Bearer token sent to the upstream.", secret=True)
    upstream_model: str = _setting("Qwen/QwQ-32B", "Model name sent to the upstream.")
    models_file: str = _setting(
        "", "Path of a TOML model table (docs/configuration.md); empty: the built-in table with `qwq-32b`."
    )
    response_shape: ResponseShape = _setting(
        "workers",
        'Default answer shape of `POST /:modelSlug`: `workers` (`{"response"}`) or `choices` (OpenAI).',
    )
    max_body_bytes: int = _setting(4 * 1024 * 1024, "Largest accepted request body; larger answers 413.")
    upstream_max_body_bytes: int = _setting(
        8 * 1024 * 1024,
        "Largest non-streamed upstream answer read (after decompression); larger answers 500 "
        "`upstream_bad_response`.",
    )
    header_timeout: float = _setting(
        10.0,
        "Seconds a client gets to send a request's line and headers, counted from the connection or "
        "the request's first byte; slower ones get 408 (`qwq-gateway` only).",
    )
    body_timeout: float = _setting(
        60.0, "Seconds a client gets to send a request's whole body; slower ones get 408. 0: no limit."
    )
    max_header_bytes: int = _setting(
        64 * 1024, "Largest request head (line and headers) in bytes; larger ones get 431."
    )
    max_headers: int = _setting(100, "Most header fields in one request; more get 431.")
    max_connections: int = _setting(
        1000,
        "Most open connections and requests per process; past it new requests get 503 at once "
        "(`qwq-gateway`: uvicorn's `limit_concurrency`).",
    )
    client_keepalive_timeout: float = _setting(
        5.0, "Seconds an idle client connection is kept open between requests (`qwq-gateway`)."
    )
    upstream_connect_timeout: float = _setting(5.0, "Seconds to open a connection to the upstream.")
    upstream_first_byte_timeout: float = _setting(
        600.0, "Seconds to wait for the upstream's first byte (reasoning can take minutes)."
    )
    upstream_idle_timeout: float = _setting(
        120.0, "Seconds of silence allowed between upstream reads once it has started answering."
    )
    request_deadline: float = _setting(0.0, "Overall cap on one request in seconds; 0 turns it off.")
    keepalive_interval: float = _setting(
        15.0, "Seconds of upstream silence after which a stream gets an SSE `: keep-alive` comment."
    )
    pool_max_connections: int = _setting(256, "Most open connections to the upstream per process.")
    pool_max_keepalive: int = _setting(
        64,
        "Most idle keep-alive connections kept to the upstream through `UPSTREAM_PROXY` (httpx's pool); "
        "the default aiohttp pool keeps each idle connection 30 s, within `POOL_MAX_CONNECTIONS`.",
    )
    upstream_proxy: str = _setting(
        "",
        "Outbound proxy for all upstream traffic: `http://`, `https://`, `socks5://` or `socks5h://` URL; "
        "empty: direct.",
        secret=True,
    )
    retry_attempts: int = _setting(
        2, "Retries of one upstream target (after its first try) before failing over to the next."
    )
    retry_backoff_base: float = _setting(
        0.25, "Seconds of the first retry's backoff; doubles per retry, with full jitter."
    )
    retry_backoff_cap: float = _setting(4.0, "Longest backoff between two tries, in seconds.")
    retry_after_max: float = _setting(
        30.0, "Longest upstream `Retry-After` honoured by waiting; longer ones fail over at once."
    )
    breaker_failures: int = _setting(
        5, "Consecutive failures of one target that open its circuit breaker; 0 turns breakers off."
    )
    breaker_cooldown: float = _setting(
        30.0, "Seconds an open breaker rejects its target before one half-open probe is let through."
    )
    key_cooldown: float = _setting(
        60.0, "Seconds an upstream API key rests after a 401, 403 or 429 while other keys are used."
    )
    state_url: str = _setting(
        "",
        "Where managed keys and usage are kept: `sqlite:///path/state.db`, `redis://host:6379/0` (replicas "
        "on many machines), or `off` (static `API_KEYS` only, no accounting); empty: SQLite in `DATA_DIR`.",
        secret=True,
    )
    data_dir: str = _setting("data", "Directory of the default SQLite state store (`DATA_DIR/state.db`).")
    keys_poll_interval: float = _setting(
        0.5, "Seconds between each process's checks for changed managed keys (how fast a revocation spreads)."
    )
    usage_flush_interval: float = _setting(
        1.0, "Seconds between writes of the usage sums to the state store (what a crash can lose)."
    )
    usage_max_pending: int = _setting(
        10000,
        "Most usage groups (hour, key, model, target, surface) kept while the store is unreachable.",
    )
    shutdown_grace: float = _setting(
        25.0,
        "Seconds open requests get after SIGTERM before they are ended (streams with a `shutting_down` "
        "error event, others with a 503).",
    )
    responses_ttl: float = _setting(
        30 * 86400.0,
        "Seconds a stored Responses API response is kept (`store`, `previous_response_id`).",
    )
    responses_max_bytes: int = _setting(
        1024 * 1024,
        "Largest stored Responses API response (its conversation and output, as JSON); a larger one is "
        'answered with `"store": false` and not kept.',
    )
    limits_lease_ttl: float = _setting(
        600.0,
        "Seconds a request holds its key's concurrency slot at most: how soon a killed process's slots free.",
    )
    limits_on_store_error: str = _setting(
        "closed",
        "When the state store cannot be reached, requests of keys with limits are `closed` (refused, 503) "
        "or `open` (let through unlimited).",
    )
    log_level: str = _setting("info", "`debug`, `info`, `warning` or `error`.")
    log_format: str = _setting(
        "text",
        "`text` (one readable line per event) or `json` (one JSON object per line: docs/operations.md).",
    )
    metrics: bool = _setting(True, "Serve Prometheus metrics at `GET /metrics` (docs/operations.md).")
    metrics_key: str = _setting(
        "", "Bearer token `GET /metrics` requires (401 without it); empty: `/metrics` is open.", secret=True
    )
    metrics_key_ids: bool = _setting(
        False, "Add the `qwq_gateway_key_*` metrics, labelled by client key id (one series per key)."
    )
    otel_exporter_otlp_endpoint: str = _setting(
        "",
        "OTLP/HTTP collector base URL (e.g. `http://127.0.0.1:4318`); set, requests are traced "
        '(needs `pip install "qwq-gateway[otel]"`). Empty: no tracing.',
    )
    otel_service_name: str = _setting("qwq-gateway", "The `service.name` of the gateway's traces.")
    reasoning_mode: ReasoningMode = _setting(
        "inline",
        "How QwQ's reasoning reaches clients: `inline` (before `</think>`, as Workers AI), `separate` "
        "(`reasoning_content` / `reasoning` field) or `hidden`; per request: `?reasoning=` or "
        "`X-Reasoning-Mode`.",
    )
    cors_origins: tuple[str, ...] = _setting(
        (),
        "Comma-separated origins (`https://app.example.com`, or `*`) whose browser pages may call the API; "
        "none by default. The console, served by the gateway itself, needs none.",
    )
    simulator_token_delay: float = _setting(0.0, "Simulator: seconds between streamed tokens (its pace).")
    simulator_reasoning_field: bool = _setting(
        False,
        "Simulator: hand reasoning out as a separate field (as vLLM's reasoning parser) instead of "
        "inline text ending in `</think>` (as Workers AI).",
    )

    def public_dict(self) -> dict[str, Any]:
        """Settings with secrets masked: safe for logs and health endpoints."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if f.metadata["secret"] and value else value
        return out


def _shown(default: Any) -> str:
    if isinstance(default, bool):
        return "1" if default else "0"
    if isinstance(default, tuple):
        return ",".join(default)
    return str(default)


# (env var / [vars] name, default as written in either place, meaning): docs/configuration.md's table.
SETTINGS_DOC: tuple[tuple[str, str, str], ...] = tuple(
    (f.name.upper(), _shown(f.default), f.metadata["doc"]) for f in dataclasses.fields(Settings)
)


class SettingsError(ValueError):
    """A setting has a value of the wrong form; start-up stops with this message."""


def _convert(name: str, raw: object, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(f"not a boolean: {raw!r}")
        if isinstance(default, tuple):
            if isinstance(raw, list | tuple):
                return tuple(str(item).strip() for item in raw if str(item).strip())
            return tuple(item.strip() for item in str(raw).split(",") if item.strip())
        if isinstance(default, int):
            return int(raw)  # type: ignore[call-overload]
        if isinstance(default, float):
            return float(raw)  # type: ignore[arg-type]
        return str(raw)
    except ValueError as exc:
        raise SettingsError(f"setting {name.upper()}: {exc}") from exc


def read_wrangler_vars(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        data = tomllib.load(fh)
    section = data.get("vars", {})
    return dict(section) if isinstance(section, dict) else {}


def spoken(choices: tuple[str, ...]) -> str:
    """`'a', 'b' or 'c'`: a setting's or a parameter's allowed values, as an error message says them."""
    quoted = [f"'{choice}'" for choice in choices]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def load_settings(environ: Mapping[str, str] | None = None, wrangler_toml: Path | None = None) -> Settings:
    """Build settings from defaults, then `[vars]` of `wrangler.toml`, then the environment."""
    env = os.environ if environ is None else environ
    toml_path = wrangler_toml or Path(env.get("WRANGLER_TOML") or WRANGLER_TOML)
    layers: list[Mapping[str, object]] = [read_wrangler_vars(toml_path), env]
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        key = f.name.upper()
        for layer in layers:
            if key in layer:
                values[f.name] = _convert(key, layer[key], f.default)
    settings = Settings(**values)
    if settings.response_shape not in get_args(ResponseShape):
        raise SettingsError(f"setting RESPONSE_SHAPE: must be {spoken(get_args(ResponseShape))}")
    if settings.reasoning_mode not in get_args(ReasoningMode):
        raise SettingsError(f"setting REASONING_MODE: must be {spoken(get_args(ReasoningMode))}")
    if settings.limits_on_store_error not in ("open", "closed"):
        raise SettingsError(f"setting LIMITS_ON_STORE_ERROR: must be {spoken(('open', 'closed'))}")
    if settings.log_format not in ("text", "json"):
        raise SettingsError(f"setting LOG_FORMAT: must be {spoken(('text', 'json'))}")
    if settings.models_file and settings.upstream_url:
        # Refused rather than resolved: the two name different upstreams, and whichever one lost, traffic
        # (and keys) would go somewhere the operator did not mean; a refusal costs one restart.
        raise SettingsError(
            "settings MODELS_FILE and UPSTREAM_URL conflict: the model table names every upstream, so "
            "UPSTREAM_URL would be ignored; unset UPSTREAM_URL (put it in the table as a target), "
            "or unset MODELS_FILE to use UPSTREAM_URL alone"
        )
    return settings

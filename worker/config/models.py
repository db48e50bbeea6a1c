"""The model table: which slugs this gateway serves and where each one is sent.

A slug (`qwq-32b`) maps to model facts (context window, prices, Cloudflare id) and an ordered list of
upstream targets. The table is built in (one `qwq-32b` entry pointing at `UPSTREAM_URL`, or at the
simulator when that is empty) or read from the TOML file named by `MODELS_FILE`:

    [models.qwq-32b]
    cloudflare_id = "@cf/qwen/qwq-32b"
    context_window = 24000
    price_input_per_m = 0.66
    price_output_per_m = 1.00
    default_max_tokens = 2048                # optional: max_tokens of a request that names none
    rpm = 600                                # optional: the upstream's own quota, shared by every key
    tpm = 400000                             #   (requests, tokens per minute, requests in flight;
    max_concurrency = 32                     #   worker.limits enforces them)

    [[models.qwq-32b.targets]]
    adapter = "openai"                       # "openai", "workers-ai", "gateway" or "simulator"
    base_url = "https://api.deepinfra.com/v1/openai"
    model = "Qwen/QwQ-32B"
    api_key_env = "DEEPINFRA_API_KEY"        # secrets come from the environment, never the file
    tool_mode = "native"                     # or "prompt": tools through the system text
    raw_completions = true                   # false: `raw: true` answers 400 (no /completions)

Targets also take several keys (`api_keys_env`), a weight, their own timeouts and overrides (see
`routing_fields` and docs/configuration.md); a bad field stops start-up naming its line
(`worker.config.tomllines`), and so does a variable named by `api_key_env`, `api_keys_env` or
`account_id_env` that is unset or empty.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.config.settings import Settings, SettingsError
from worker.config.tomllines import locate
from worker.core.identity import NO_LIMITS, Limits

TOOL_MODES = frozenset({"native", "prompt"})
# "workers-ai-binding": a Cloudflare Worker's Workers AI binding (`env.AI`); `model` is the Cloudflare id.
ADAPTERS = frozenset({"openai", "simulator", "workers-ai", "gateway", "workers-ai-binding"})
STRATEGIES = frozenset({"failover", "weighted"})
NEEDS_BASE_URL = frozenset({"openai", "workers-ai", "gateway"})


@dataclass(frozen=True, slots=True)
class Target:
    adapter: str
    base_url: str = ""
    model: str = ""
    api_key: str = ""
    tool_mode: str = "native"  # "native": OpenAI `tools`; "prompt": tools in the system text (tool_prompt)
    raw_completions: bool = True  # False: the upstream has no `/completions`, so `raw: true` is a 400
    # Routing and resilience (worker.routing.router); zero means "the global setting" / "the model's value".
    api_keys: tuple[str, ...] = ()
    weight: float = 1.0
    connect_timeout: float = 0.0
    first_byte_timeout: float = 0.0
    idle_timeout: float = 0.0
    context_window: int = 0
    price_input_per_m: float = 0.0
    price_output_per_m: float = 0.0
    account_id: str = ""

    @property
    def keys(self) -> tuple[str, ...]:
        """Every key this target may use, rotated by `worker.routing.keypool`; `api_key` alone is one key."""
        if self.api_keys:
            return self.api_keys
        return (self.api_key,) if self.api_key else ()


@dataclass(frozen=True, slots=True)
class ModelEntry:
    slug: str
    targets: tuple[Target, ...]
    cloudflare_id: str = ""
    context_window: int = 24000
    price_input_per_m: float = 0.0
    price_output_per_m: float = 0.0
    strategy: str = "failover"
    default_max_tokens: int | None = None
    """`max_tokens` for a request that names none. None (`0` or absent in the file): the Workers AI
    schema's 256 on `/{slug}` and Cloudflare REST, and no limit sent on OpenAI chat completions (the
    upstream's own)."""
    limits: Limits = NO_LIMITS
    """The model's own `rpm`, `tpm` and `max_concurrency`, shared by every key: a guard for the
    upstream's quota (`worker.limits`). No budget: budgets belong to keys."""

    @property
    def primary(self) -> Target:
        return self.targets[0]


@dataclass(frozen=True, slots=True)
class ModelTable:
    entries: Mapping[str, ModelEntry]

    def resolve(self, name: str) -> ModelEntry | None:
        """Find an entry by slug, upstream model name or Cloudflare id (all three are accepted)."""
        entry = self.entries.get(name)
        if entry is not None:
            return entry
        for candidate in self.entries.values():
            if name == candidate.cloudflare_id or any(t.model == name for t in candidate.targets):
                return candidate
        return None


def builtin_table(settings: Settings) -> ModelTable:
    if settings.upstream_url:
        target = Target(
            adapter="openai",
            base_url=settings.upstream_url.rstrip("/"),
            model=settings.upstream_model,
            api_key=settings.upstream_api_key,
        )
    else:
        target = Target(adapter="simulator", model=settings.upstream_model)
    entry = ModelEntry(
        slug="qwq-32b",
        targets=(target,),
        cloudflare_id="@cf/qwen/qwq-32b",
        context_window=24000,
        price_input_per_m=0.66,
        price_output_per_m=1.00,
    )
    return ModelTable({entry.slug: entry})


def _field(where: str, data: Mapping[str, Any], name: str, kind: type, default: Any = None) -> Any:
    if name not in data:
        if default is None:
            raise SettingsError(f"{where}: missing field '{name}'")
        return default
    value = data[name]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SettingsError(f"{where}: field '{name}' must be {kind.__name__}, got {value!r}")
    return value


def parse_table(data: Mapping[str, Any], environ: Mapping[str, str]) -> ModelTable:
    models = data.get("models")
    if not isinstance(models, dict) or not models:
        raise SettingsError("model table: a [models.<slug>] section is required")
    entries: dict[str, ModelEntry] = {}
    for slug, raw in models.items():
        where = f"[models.{slug}]"
        if not isinstance(raw, dict):
            raise SettingsError(f"{where}: must be a table")
        raw_targets = raw.get("targets")
        if not isinstance(raw_targets, list) or not raw_targets:
            raise SettingsError(f"{where}: at least one [[models.{slug}.targets]] is required")
        targets = []
        for i, t in enumerate(raw_targets):
            twhere = f"[[models.{slug}.targets]] #{i + 1}"
            adapter = _field(twhere, t, "adapter", str)
            if adapter not in ADAPTERS:
                raise SettingsError(f"{twhere}: adapter must be one of {sorted(ADAPTERS)}")
            targets.append(
                Target(
                    adapter=adapter,
                    base_url=_field(twhere, t, "base_url", str, "").rstrip("/"),
                    model=_field(twhere, t, "model", str, ""),
                    api_key=_env_field(twhere, t, "api_key_env", environ),
                    tool_mode=_field(twhere, t, "tool_mode", str, "native"),
                    raw_completions=_field(twhere, t, "raw_completions", bool, True),
                    **routing_fields(twhere, t, environ),
                )
            )
            if targets[-1].tool_mode not in TOOL_MODES:
                raise SettingsError(f"{twhere}: tool_mode must be one of {sorted(TOOL_MODES)}")
            if adapter in NEEDS_BASE_URL and not targets[-1].base_url:
                raise SettingsError(f"{twhere}: field 'base_url' is required for adapter '{adapter}'")
            if adapter == "workers-ai" and not targets[-1].account_id:
                raise SettingsError(f"{twhere}: field 'account_id' is required for adapter 'workers-ai'")
        entries[slug] = ModelEntry(
            slug=slug,
            targets=tuple(targets),
            cloudflare_id=_field(where, raw, "cloudflare_id", str, ""),
            context_window=_field(where, raw, "context_window", int, 24000),
            price_input_per_m=_field(where, raw, "price_input_per_m", float, 0.0),
            price_output_per_m=_field(where, raw, "price_output_per_m", float, 0.0),
            strategy=_choice(where, raw, "strategy", STRATEGIES, "failover"),
            default_max_tokens=_non_negative(where, raw, "default_max_tokens", int, 0) or None,
            limits=model_limits(where, raw),
        )
    return ModelTable(entries)


def load_table(settings: Settings, environ: Mapping[str, str] | None = None) -> ModelTable:
    if not settings.models_file:
        return builtin_table(settings)
    path = Path(settings.models_file)
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"MODELS_FILE {path}: cannot be read ({exc.strerror})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"MODELS_FILE {path}: {exc}") from exc
    try:
        return parse_table(data, os.environ if environ is None else environ)
    except SettingsError as exc:
        line = locate(path.read_text(encoding="utf-8", errors="replace"), str(exc))
        at = f", line {line}" if line else ""
        raise SettingsError(f"MODELS_FILE {path}{at}: {exc}") from exc


def model_limits(where: str, raw: Mapping[str, Any]) -> Limits:
    """A model's own limits: each a positive integer when present (a limit of 0 would refuse every
    request; leave the field out for "no limit")."""
    values: dict[str, int] = {
        "rpm": _field(where, raw, "rpm", int, 0),
        "tpm": _field(where, raw, "tpm", int, 0),
        "max_concurrency": _field(where, raw, "max_concurrency", int, 0),
    }
    for name, value in values.items():
        if name in raw and value < 1:
            raise SettingsError(f"{where}: field '{name}' must be at least 1, got {value!r}")
    if not any(values.values()):
        return NO_LIMITS
    return Limits(
        rpm=values["rpm"] or None,
        tpm=values["tpm"] or None,
        max_concurrency=values["max_concurrency"] or None,
    )


def limited_models(table: ModelTable) -> list[str]:
    """Slugs of the models that have limits of their own."""
    return [slug for slug, entry in table.entries.items() if entry.limits != NO_LIMITS]


def _choice(where: str, data: Mapping[str, Any], name: str, allowed: frozenset[str], default: str) -> str:
    value: str = _field(where, data, name, str, default)
    if value not in allowed:
        raise SettingsError(f"{where}: field '{name}' must be one of {sorted(allowed)}, got {value!r}")
    return value


def _non_negative(where: str, data: Mapping[str, Any], name: str, kind: type, default: Any) -> Any:
    value = _field(where, data, name, kind, default)
    if value < 0:
        raise SettingsError(f"{where}: field '{name}' must not be negative, got {value!r}")
    return value


def _env_field(where: str, raw: Mapping[str, Any], name: str, environ: Mapping[str, str]) -> str:
    """The value of the environment variable that the field `name` (`api_key_env`...) names; "" without
    the field. A named variable that is unset or blank stops start-up: served anyway, the target would
    go out without its key (every request a 401 from the upstream, far from the cause). The message
    names the variable, never a value."""
    variable = _field(where, raw, name, str, "")
    if not variable:
        return ""
    value = environ.get(variable)
    if value is None or not value.strip():
        state = "unset" if value is None else "empty"
        raise SettingsError(
            f"{where}: field '{name}' names the environment variable {variable}, which is {state}: "
            f"set {variable}, or remove '{name}' if this upstream needs none"
        )
    return value


def routing_fields(where: str, raw: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """The routing and resilience fields of one target (keys, weight, timeouts, overrides)."""
    for secret in ("api_key", "api_keys"):
        if secret in raw:
            raise SettingsError(
                f"{where}: field '{secret}' is not allowed: secrets come from the environment "
                "(use 'api_key_env' or 'api_keys_env')"
            )
    keys = tuple(k.strip() for k in _env_field(where, raw, "api_keys_env", environ).split(",") if k.strip())
    if raw.get("api_keys_env") and not keys:
        raise SettingsError(f"{where}: field 'api_keys_env' names {raw['api_keys_env']}, which holds no key")
    account = _env_field(where, raw, "account_id_env", environ) or _field(where, raw, "account_id", str, "")
    return {
        "api_keys": keys,
        "weight": _non_negative(where, raw, "weight", float, 1.0),
        "connect_timeout": _non_negative(where, raw, "connect_timeout", float, 0.0),
        "first_byte_timeout": _non_negative(where, raw, "first_byte_timeout", float, 0.0),
        "idle_timeout": _non_negative(where, raw, "idle_timeout", float, 0.0),
        "context_window": _non_negative(where, raw, "context_window", int, 0),
        "price_input_per_m": _non_negative(where, raw, "price_input_per_m", float, 0.0),
        "price_output_per_m": _non_negative(where, raw, "price_output_per_m", float, 0.0),
        "account_id": account,
    }

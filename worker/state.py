"""What one process builds once at start-up and shares across requests."""

from __future__ import annotations

import dataclasses
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.config.models import ModelEntry, ModelTable, limited_models, load_table
from worker.config.prices import price_list
from worker.config.settings import Settings, SettingsError
from worker.core.cost import Prices
from worker.core.outcome import RecordSink
from worker.limits import open_limiter
from worker.limits.base import Limiter
from worker.limits.deployment import check_exact
from worker.limits.gate import Gate
from worker.limits.memory import MemoryLimiter
from worker.routing.router import Router, public_origin
from worker.store import Store, StoreUnavailable, open_store
from worker.store.keycache import KeyCache
from worker.store.recorder import UsageRecorder
from worker.upstreams.base import Upstream
from worker.upstreams.chained import ChainedGateway
from worker.upstreams.openai_compat import OpenAICompatible
from worker.upstreams.simulator import Simulator
from worker.upstreams.wire.aiohttp_wire import AiohttpWire
from worker.upstreams.wire.httpx_wire import HttpxWire
from worker.upstreams.wire.seam import Timeouts, Wire
from worker.upstreams.workers_ai import WorkersAI
from worker.upstreams.workers_binding import BindingWire, WorkersAIBinding
from worker.web.auth import KeyRing
from worker.web.shutdown import Shutdown

log = logging.getLogger("worker")


@dataclass(slots=True)
class AppState:
    settings: Settings
    table: ModelTable
    keys: KeyRing
    wire: Wire
    router: Router
    sinks: list[RecordSink] = field(default_factory=list)
    """Who hears of each finished request (`worker.core.outcome`): usage accounting, metrics, logs."""
    store: Store | None = None
    key_cache: KeyCache | None = None
    recorder: UsageRecorder | None = None
    prices: dict[str, Prices] = field(default_factory=dict)
    """Target name (`slug#n`) and model slug → prices: the cost of an answer (`worker.core.cost`)."""
    gate: Gate | None = None
    """Rate limits and budgets of managed keys and models' own limits (`worker.limits`); None without a
    state store unless a model has limits (then kept in this process's memory)."""

    @property
    def flush_interval(self) -> float:
        return self.settings.usage_flush_interval

    shutdown: Shutdown = field(default_factory=Shutdown)

    async def aclose(self) -> None:
        if self.gate is not None:
            await self.gate.close()
        if self.recorder is not None:
            await self.recorder.close()
        if self.store is not None:
            await self.store.aclose()
        for adapter in self.router.adapters.values():
            await adapter.aclose()
        await self.wire.aclose()


def state_url(settings: Settings) -> str:
    """The store `STATE_URL` names; empty: SQLite in `DATA_DIR`; `off`: none. A Python Worker (Pyodide)
    has neither threads nor a lasting disk, so there the store is off unless a URL is set."""
    if settings.state_url:
        return "" if settings.state_url.lower() in ("off", "none") else settings.state_url
    if sys.platform == "emscripten":
        return ""
    return f"sqlite:///{Path(settings.data_dir) / 'state.db'}"


def open_state_store(settings: Settings) -> Store | None:
    url = state_url(settings)
    if not url:
        return None
    try:
        return open_store(url)
    except StoreUnavailable as exc:
        raise SettingsError(str(exc)) from None


def make_wire(settings: Settings) -> Wire:
    """The one upstream wire of this process, shared by every adapter, with explicit pool limits and timeouts.

    aiohttp's pool (`worker.upstreams.wire.aiohttp_wire`): httpx's own pool was over half of the gateway's
    CPU per request under load (docs/performance.md). With an outbound proxy (`UPSTREAM_PROXY`, HTTP or
    SOCKS) httpx's own pool carries the traffic, because it speaks both (`wire.httpx_wire`).
    """
    timeout = upstream_timeout(settings)
    if settings.upstream_proxy:
        return HttpxWire.pooled(
            settings.pool_max_connections, settings.pool_max_keepalive, timeout, settings.upstream_proxy
        )
    return AiohttpWire(settings.pool_max_connections, timeout=timeout)


def upstream_timeout(settings: Settings) -> Timeouts:
    # A backstop for the precise per-event timeouts in `routing.normalize`; off if either of them is.
    first, idle = settings.upstream_first_byte_timeout, settings.upstream_idle_timeout
    read = max(first, idle) if first > 0 and idle > 0 else None
    connect = settings.upstream_connect_timeout or None
    return Timeouts(connect=connect, read=read, write=30.0, pool=connect)


def check_config(settings: Settings) -> ModelTable:
    """Everything that must hold before serving; raises `SettingsError` with a message for a person."""
    if not settings.api_keys and not settings.allow_no_auth:
        raise SettingsError(
            "No API_KEYS configured: refusing to start. Set API_KEYS=key1,key2 "
            "(or, for local development only, ALLOW_NO_AUTH=1)."
        )
    return load_table(settings)


def on_binding(table: ModelTable) -> ModelTable:
    """Inside a Cloudflare Worker with a Workers AI binding, the built-in model needs no upstream of its
    own: what would go to the simulator (no UPSTREAM_URL, no MODELS_FILE) goes to the binding instead,
    under the model's Cloudflare id."""

    def moved(entry: ModelEntry) -> ModelEntry:
        targets = tuple(
            dataclasses.replace(t, adapter="workers-ai-binding", model=entry.cloudflare_id)
            if t.adapter == "simulator" and entry.cloudflare_id
            else t
            for t in entry.targets
        )
        return dataclasses.replace(entry, targets=targets)

    return ModelTable({slug: moved(entry) for slug, entry in table.entries.items()})


def build_state(settings: Settings, ai_binding: Any = None) -> AppState:
    """`ai_binding`: the Worker's `env.AI` when it has one (`worker.entry`); a server has none."""
    table = check_config(settings)
    adapters_named = {t.adapter for e in table.entries.values() for t in e.targets}
    if ai_binding is not None and not settings.models_file:
        table = on_binding(table)
    elif ai_binding is None and "workers-ai-binding" in adapters_named:
        raise SettingsError(
            "adapter 'workers-ai-binding' needs the Workers AI binding of a Cloudflare Worker "
            "([ai] binding = \"AI\" in wrangler.toml); a server has none: use adapter 'workers-ai'"
        )
    check_exact(table, bool(state_url(settings)), 1, os.environ, sys.platform)
    store = open_state_store(settings)  # first: an unreachable store stops start-up before anything opens
    if settings.allow_no_auth and not settings.api_keys:
        banner = "!" * 78
        log.warning(banner)
        log.warning("ALLOW_NO_AUTH is set and no API_KEYS are configured: EVERY REQUEST IS ACCEPTED.")
        log.warning("This is for local development only. Never expose this server.")
        log.warning(banner)
    wire = make_wire(settings)  # one pool for every adapter
    adapters: dict[str, Upstream] = {
        "openai": OpenAICompatible(wire, settings.upstream_max_body_bytes),
        "simulator": Simulator(settings.simulator_token_delay, settings.simulator_reasoning_field),
        "workers-ai": WorkersAI(wire, settings.upstream_max_body_bytes),
        "gateway": ChainedGateway(wire, settings.upstream_max_body_bytes),
    }
    if ai_binding is not None:
        adapters["workers-ai-binding"] = WorkersAIBinding(BindingWire(ai_binding))
    for entry in table.entries.values():
        for target in entry.targets:
            if target.adapter == "simulator":
                log.warning(
                    "model '%s' is served by the built-in QwQ-32B SIMULATOR, not a real model. "
                    "Set UPSTREAM_URL (and UPSTREAM_API_KEY), or MODELS_FILE, to use a real upstream.",
                    entry.slug,
                )
            elif target.adapter == "workers-ai-binding":
                log.info("model '%s' -> the Workers AI binding (%s)", entry.slug, target.model)
            else:
                log.info("model '%s' -> %s (%s)", entry.slug, public_origin(target.base_url), target.model)
    cache = KeyCache(store, settings.keys_poll_interval) if store is not None else None
    keys = KeyRing(settings.api_keys, allow_anyone=settings.allow_no_auth, managed=cache)
    state = AppState(
        settings, table, keys, wire, Router(settings, adapters, table), store=store, key_cache=cache
    )
    state.prices = price_list(table)
    if store is not None:
        state.recorder = UsageRecorder(store, state.prices, settings.usage_max_pending)
        state.sinks.append(state.recorder)
    limiter: Limiter | None = None
    if store is not None:
        limiter = open_limiter(store.url)
    elif limited_models(table):
        limiter = MemoryLimiter()  # one process only: `check_exact` refused every other deployment
    if limiter is not None:
        fail_open = settings.limits_on_store_error == "open"
        state.gate = Gate(limiter, state.prices, settings.limits_lease_ttl, fail_open)
        state.sinks.append(state.gate)
    return state

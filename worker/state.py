"""What one process builds once at start-up and shares across requests."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from worker.config.models import ModelTable, load_table
from worker.config.settings import Settings, SettingsError
from worker.core.outcome import RecordSink
from worker.routing.router import Router, public_origin
from worker.upstreams.base import Upstream
from worker.upstreams.chained import ChainedGateway
from worker.upstreams.openai_compat import OpenAICompatible
from worker.upstreams.simulator import Simulator
from worker.upstreams.wire.aiohttp_wire import AiohttpWire
from worker.upstreams.wire.httpx_wire import HttpxWire
from worker.upstreams.wire.seam import Timeouts, Wire
from worker.upstreams.workers_ai import WorkersAI
from worker.web.auth import KeyRing

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

    async def aclose(self) -> None:
        for adapter in self.router.adapters.values():
            await adapter.aclose()
        await self.wire.aclose()


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


def build_state(settings: Settings) -> AppState:
    table = check_config(settings)
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
    for entry in table.entries.values():
        for target in entry.targets:
            if target.adapter == "simulator":
                log.warning(
                    "model '%s' is served by the built-in QwQ-32B SIMULATOR, not a real model. "
                    "Set UPSTREAM_URL (and UPSTREAM_API_KEY), or MODELS_FILE, to use a real upstream.",
                    entry.slug,
                )
            else:
                log.info("model '%s' -> %s (%s)", entry.slug, public_origin(target.base_url), target.model)
    keys = KeyRing(settings.api_keys, allow_anyone=settings.allow_no_auth)
    return AppState(settings, table, keys, wire, Router(settings, adapters, table))

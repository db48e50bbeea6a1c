"""What one process builds once at start-up and shares across requests."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httpx

from worker.config.models import ModelTable, load_table
from worker.config.settings import Settings, SettingsError
from worker.routing.router import Router, public_origin
from worker.upstreams.base import Upstream
from worker.upstreams.chained import ChainedGateway
from worker.upstreams.openai_compat import OpenAICompatible
from worker.upstreams.simulator import Simulator
from worker.upstreams.wire.transport import AiohttpTransport
from worker.upstreams.workers_ai import WorkersAI
from worker.web.auth import KeyRing

log = logging.getLogger("worker")


@dataclass(slots=True)
class AppState:
    settings: Settings
    table: ModelTable
    keys: KeyRing
    http: httpx.AsyncClient
    router: Router

    async def aclose(self) -> None:
        for adapter in self.router.adapters.values():
            await adapter.aclose()
        await self.http.aclose()


def make_http_client(settings: Settings, transport: AiohttpTransport | None = None) -> httpx.AsyncClient:
    """The one upstream client of this process, with explicit pool limits and timeouts.

    httpx's interface over an aiohttp pool (`worker.upstreams.wire.transport`): httpx's own pool was over half
    of the gateway's CPU per request under load (README § Performance). With an outbound proxy
    (`UPSTREAM_PROXY`, HTTP or SOCKS) httpx's own transport carries the traffic, because it speaks both.
    """
    return httpx.AsyncClient(
        timeout=upstream_timeout(settings),
        limits=httpx.Limits(
            max_connections=settings.pool_max_connections,
            max_keepalive_connections=settings.pool_max_keepalive,
        ),
        follow_redirects=False,
        trust_env=False,
        proxy=settings.upstream_proxy or None,
        transport=None
        if settings.upstream_proxy
        else transport or AiohttpTransport(settings.pool_max_connections),
    )


def upstream_timeout(settings: Settings) -> httpx.Timeout:
    # A backstop for the precise per-event timeouts in `pipeline.normalize`; off if either of them is.
    first, idle = settings.upstream_first_byte_timeout, settings.upstream_idle_timeout
    read = max(first, idle) if first > 0 and idle > 0 else None
    return httpx.Timeout(
        connect=settings.upstream_connect_timeout or None,
        read=read,
        write=30.0,
        pool=settings.upstream_connect_timeout or None,
    )


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
    # One pool, two doors: httpx's interface, and the adapter's lean `stream_post` (transport.py).
    transport = (
        None  # httpx's own transport speaks HTTP and SOCKS proxies; aiohttp's fast door would bypass them
        if settings.upstream_proxy
        else AiohttpTransport(settings.pool_max_connections, timeout=upstream_timeout(settings))
    )
    http = make_http_client(settings, transport)
    adapters: dict[str, Upstream] = {
        "openai": OpenAICompatible(http, fast=transport),
        "simulator": Simulator(settings.simulator_token_delay, settings.simulator_reasoning_field),
        "workers-ai": WorkersAI(http),
        "gateway": ChainedGateway(http),
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
    return AppState(settings, table, keys, http, Router(settings, adapters, table))

"""Shared fixtures: settings, the app in-process (ASGITransport), and live servers on real sockets."""

from __future__ import annotations

import atexit
import itertools
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.logs import captured_logs
from tests.redis_server import RedisServer
from tests.servers import LiveServer, serving
from worker.app import create_app
from worker.config.settings import Settings, load_settings
from worker.simulator.server import SimulatorServer

API_KEY = "test-key-0123456789"
NO_WRANGLER = Path("/nonexistent/wrangler.toml")


STATE_DIR = Path(tempfile.mkdtemp(prefix="qwq-test-state-"))
_STATE_FILES = itertools.count(1)


def make_settings(**overrides: Any) -> Settings:
    """Test settings: built-in defaults (not the repo's wrangler.toml), a known key, a state store of its
    own (a fresh SQLite file: no two gateways of the test run share one unless a test says so), then
    overrides."""
    state_url = f"sqlite:///{STATE_DIR / f'state-{next(_STATE_FILES)}.db'}"
    env = {"API_KEYS": API_KEY, "KEEPALIVE_INTERVAL": "0", "STATE_URL": state_url}
    env.update({k.upper(): str(v) for k, v in overrides.items()})
    return load_settings(env, wrangler_toml=NO_WRANGLER)


atexit.register(shutil.rmtree, STATE_DIR, True)

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture
def auth() -> dict[str, str]:
    return dict(AUTH)


@pytest.fixture
def app_factory() -> Callable[..., Any]:
    return lambda **overrides: create_app(make_settings(**overrides))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    """The gateway in-process on its defaults (simulator upstream), through httpx's ASGI transport."""
    app = create_app(make_settings())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as c:
        yield c


@pytest.fixture(params=["sqlite", "redis"])
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty state store of each kind: a SQLite file, and a real redis-server of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'state.db'}"
        return
    server = RedisServer(tmp_path)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    """The gateway's own log lines (the `worker` loggers) while the test runs."""
    with captured_logs() as lines:
        yield lines


@pytest.fixture
def fake_upstream() -> Iterator[LiveServer]:
    """The simulator as a real OpenAI-compatible server on a real socket; `.app.stats` tells what it saw."""
    with serving(SimulatorServer()) as server:
        yield server


@pytest.fixture
def live_gateway_factory() -> Iterator[Callable[..., LiveServer]]:
    """Start real gateways (uvicorn, real socket) with given settings; all are stopped at the end."""
    started: list[LiveServer] = []

    def start(**overrides: Any) -> LiveServer:
        server = LiveServer(create_app(make_settings(**overrides)))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()

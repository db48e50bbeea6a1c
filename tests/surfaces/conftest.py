"""A live gateway (uvicorn, real socket) on the simulator, reasoning handed out as a separate field."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.servers import LiveServer


@pytest.fixture
def gateway(live_gateway_factory: Callable[..., LiveServer]) -> LiveServer:
    return live_gateway_factory(simulator_reasoning_field=1)

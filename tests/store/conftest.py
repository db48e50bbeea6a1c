"""The store tests run against both stores: a SQLite file and a real redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from worker.store import Store, open_store


@pytest.fixture
async def store(state_url: str) -> AsyncIterator[Store]:
    opened = open_store(state_url)
    yield opened
    await opened.aclose()

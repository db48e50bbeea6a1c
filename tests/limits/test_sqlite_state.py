"""How the SQLite limiter treats a state row it cannot read: that key starts again, and nothing else fails."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

import pytest

from worker.core.identity import Limits
from worker.limits.policy import Ask, Settle
from worker.limits.sqlite_limits import SQLiteLimiter

UNREADABLE = ["not json", "[1, 2]", '{"tat": "soon"}', '{"leases": {"a": null}}']


def ask(key: str, limits: Limits) -> Ask:
    return Ask(key, limits, 10, 0.0, uuid.uuid4().hex, 60.0)


@pytest.mark.parametrize("row", UNREADABLE)
async def test_an_unreadable_row_neither_fails_its_batch_nor_stops_its_key(
    tmp_path: Path, row: str, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'state.db'}"
    limiter = SQLiteLimiter(url)
    limits = Limits(rpm=60)
    try:
        assert (await limiter.admit(ask("k1", limits))).admitted  # the table exists
        with sqlite3.connect(tmp_path / "state.db") as db:
            db.execute("INSERT INTO limits (key_id, state) VALUES ('broken', ?)", (row,))
        # One batch decides an admission that reads the unreadable row and one for another key: on
        # the old code both failed.
        broken, other = await asyncio.gather(
            limiter.admit(ask("broken", limits)), limiter.admit(ask("k1", limits))
        )
        assert other.admitted and other.remaining_requests == 58
        assert broken.admitted and broken.remaining_requests == 59  # started again
        assert "limit state of broken could not be read" in caplog.text
        assert row not in caplog.text  # the row's content is not logged
        caplog.clear()
        again = await limiter.admit(ask("broken", limits))  # the row was written back whole
        assert again.admitted and again.remaining_requests == 58
        assert "could not be read" not in caplog.text
        # A settlement that reads an unreadable row does not fail the admission it travels with.
        with sqlite3.connect(tmp_path / "state.db") as db:
            db.execute("UPDATE limits SET state = ? WHERE key_id = 'broken'", (row,))
        limiter.settle_soon([Settle("broken", "lease-1", 0, None, 0.0, "")])
        assert (await limiter.admit(ask("k1", limits))).remaining_requests == 57
        assert "limit state of broken could not be read" in caplog.text
        assert "could not settle" not in caplog.text
    finally:
        await limiter.aclose()

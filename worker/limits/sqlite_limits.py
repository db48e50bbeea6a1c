"""Limit state in the SQLite store's file: exact across every process of one machine (`--workers N`).

Admissions run in `BEGIN IMMEDIATE` transactions: one takes the file's write lock, reads the key's
state (and the model's, when the model has limits of its own), decides (`policy.admit_all`) and writes
them back. Every process of the machine serialises on that lock, so no two of them can both take the
last slot. The work runs on a thread of the limiter's own (its own connection), so the event loop never
waits on the disk and usage writes never queue behind it.

Admissions and settlements that arrive while a transaction is running wait for the next one, and that
one applies the settlements and then decides the admissions in turn (a group commit:
`batching.Batched`): each sees the states the ones before it wrote, so the result is the same as one
transaction each, and under load the file sees one commit per batch instead of one per request.
The limiter's connection never checkpoints the write-ahead log itself (`wal_autocheckpoint = 0`): the
store's own connection does that when it writes usage, off the request path, so no admission waits
for a checkpoint's flush to disk.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import orjson

from worker.limits.batching import Batched
from worker.limits.policy import Ask, KeyState, Settle, Verdict, admit_all, reconcile
from worker.store.base import StoreUnavailable
from worker.store.sqlite_store import connect

T = TypeVar("T")
log = logging.getLogger("worker.limits")
SCHEMA = "CREATE TABLE IF NOT EXISTS limits (key_id TEXT PRIMARY KEY, state TEXT NOT NULL)"


def _decide(db: sqlite3.Connection, ask: Ask, states: dict[str, KeyState]) -> Verdict:
    """One admission inside the running transaction; `states` holds what this batch has read or written."""
    held = ask.held()
    for name, _ in held:
        if name not in states:
            states[name] = _read(db, name)
    # `admit_all` changes the states only when it admits, so a refused ask leaves them as they were.
    return admit_all([(states[name], limits) for name, limits in held], ask, time.time())


def _read(db: sqlite3.Connection, key_id: str) -> KeyState:
    row = db.execute("SELECT state FROM limits WHERE key_id = ?", (key_id,)).fetchone()
    if row is None:
        return KeyState()
    try:
        return KeyState.of(orjson.loads(row[0]))
    except (ValueError, TypeError, AttributeError) as exc:
        # A row this code did not write (edited by hand, or torn): failing every admission that reads
        # it, and every other one of its batch, would stop the key for good. It starts again instead,
        # and is written back whole by this transaction.
        log.warning("limit state of %s could not be read (%s): started again", key_id, type(exc).__name__)
        return KeyState()


def _write(db: sqlite3.Connection, key_id: str, state: KeyState) -> None:
    db.execute(
        "INSERT INTO limits (key_id, state) VALUES (?, ?) "
        "ON CONFLICT (key_id) DO UPDATE SET state = excluded.state",
        (key_id, orjson.dumps(state.to_json()).decode()),
    )


class SQLiteLimiter:
    def __init__(self, url: str) -> None:
        self._db = connect(url, SCHEMA)
        self._db.execute("PRAGMA wal_autocheckpoint = 0")
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-limits")
        self._batched = Batched(self._decide)

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        def transaction(db: sqlite3.Connection) -> T:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = work(db)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return result

        try:
            return await asyncio.get_running_loop().run_in_executor(self._thread, transaction, self._db)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite state store: {exc}") from exc

    async def admit(self, ask: Ask) -> Verdict:
        return await self._batched.admit(ask)

    def settle_soon(self, settles: Iterable[Settle]) -> None:
        self._batched.settle_soon(settles)

    async def settle(self, settles: Iterable[Settle]) -> None:
        await self._batched.settle(settles)

    async def _decide(self, asks: Sequence[Ask], settles: Sequence[Settle]) -> list[Verdict]:
        def work(db: sqlite3.Connection) -> list[Verdict]:
            states: dict[str, KeyState] = {}
            for settle in settles:  # first: a lease freed here is free for the admissions below
                state = states.get(settle.key_id)
                if state is None:
                    state = states[settle.key_id] = _read(db, settle.key_id)
                reconcile(state, settle)
            verdicts = [_decide(db, ask, states) for ask in asks]
            for name, state in states.items():
                _write(db, name, state)
            return verdicts

        return await self._run(work)

    async def aclose(self) -> None:
        await self._batched.flush()
        await asyncio.get_running_loop().run_in_executor(self._thread, self._db.close)
        self._thread.shutdown(wait=True)

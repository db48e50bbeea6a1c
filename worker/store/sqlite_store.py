"""The SQLite store: one file, shared by every process of one machine (`--workers N`).

Every statement runs on one thread of the store's own, so the event loop never waits on the disk. The
database is in WAL mode (readers never block the writer, and a committed batch survives the process
being killed) with `synchronous=NORMAL` (an operating-system crash may lose the last transactions; a
process crash loses none). Usage is added with `INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`
in one transaction per batch, which is atomic across processes writing the same file.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from worker.store.base import (
    HOUR,
    USAGE_COUNTERS,
    Group,
    KeyRecord,
    StoreUnavailable,
    UsageQuery,
)

T = TypeVar("T")

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (name, value) VALUES ('keys_version', 0);
CREATE TABLE IF NOT EXISTS keys (id TEXT PRIMARY KEY, data TEXT NOT NULL, last_used_at REAL);
CREATE TABLE IF NOT EXISTS usage (
    hour INTEGER NOT NULL, key_id TEXT NOT NULL, model TEXT NOT NULL, target TEXT NOT NULL,
    surface TEXT NOT NULL, {", ".join(f"{name} REAL NOT NULL DEFAULT 0" for name in USAGE_COUNTERS)},
    PRIMARY KEY (hour, key_id, model, target, surface)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS usage_by_key ON usage (key_id, hour);
CREATE TABLE IF NOT EXISTS responses (
    id TEXT PRIMARY KEY, key_id TEXT NOT NULL, expires_at REAL NOT NULL, data BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS responses_by_expiry ON responses (expires_at);
"""

_COLUMNS = ", ".join(USAGE_COUNTERS)
_UPSERT = (
    f"INSERT INTO usage (hour, key_id, model, target, surface, {_COLUMNS}) "
    f"VALUES (?, ?, ?, ?, ?, {', '.join('?' for _ in USAGE_COUNTERS)}) "
    "ON CONFLICT (hour, key_id, model, target, surface) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in USAGE_COUNTERS)
)
_BUMP = "UPDATE meta SET value = value + 1 WHERE name = 'keys_version'"


def sqlite_path(url: str) -> Path:
    """`sqlite:///relative/path` or `sqlite:////absolute/path` (SQLAlchemy's convention)."""
    return Path(url.removeprefix("sqlite:///"))


def connect(url: str, schema: str) -> sqlite3.Connection:
    """A connection to the store's file in WAL mode with `schema` applied, or `StoreUnavailable`."""
    path = sqlite_path(url)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are opened explicitly (BEGIN IMMEDIATE) where they matter.
        db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA busy_timeout = 10000")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        db.executescript(schema)
    except (OSError, sqlite3.Error) as exc:
        raise StoreUnavailable(f"cannot open the SQLite state store {path}: {exc}") from exc
    return db


class SQLiteStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self._db = connect(url, SCHEMA)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._thread, work, self._db)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"SQLite state store: {exc}") from exc

    @staticmethod
    def _write(db: sqlite3.Connection, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        db.execute("BEGIN IMMEDIATE")
        try:
            for sql, params in statements:
                db.execute(sql, params)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    async def create_key(self, record: KeyRecord) -> None:
        insert = ("INSERT INTO keys (id, data) VALUES (?, ?)", (record.id, record.to_json().decode()))
        await self._run(lambda db: self._write(db, [insert, (_BUMP, ())]))

    async def put_key(self, record: KeyRecord) -> None:
        update = ("UPDATE keys SET data = ? WHERE id = ?", (record.to_json().decode(), record.id))
        await self._run(lambda db: self._write(db, [update, (_BUMP, ())]))

    async def get_key(self, key_id: str) -> KeyRecord | None:
        def read(db: sqlite3.Connection) -> KeyRecord | None:
            row = db.execute("SELECT data, last_used_at FROM keys WHERE id = ?", (key_id,)).fetchone()
            return None if row is None else KeyRecord.from_json(row[0], row[1])

        return await self._run(read)

    async def list_keys(self) -> list[KeyRecord]:
        def read(db: sqlite3.Connection) -> list[KeyRecord]:
            rows = db.execute("SELECT data, last_used_at FROM keys ORDER BY rowid").fetchall()
            return [KeyRecord.from_json(data, used) for data, used in rows]

        return await self._run(read)

    async def keys_version(self) -> int:
        def read(db: sqlite3.Connection) -> int:
            return int(db.execute("SELECT value FROM meta WHERE name = 'keys_version'").fetchone()[0])

        return await self._run(read)

    async def add_usage(self, sums: Mapping[Group, Sequence[float]], last_used: Mapping[str, float]) -> None:
        def write(db: sqlite3.Connection) -> None:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(_UPSERT, [(*group, *values) for group, values in sums.items()])
                db.executemany(
                    "UPDATE keys SET last_used_at = max(coalesce(last_used_at, 0), ?) WHERE id = ?",
                    [(moment, key_id) for key_id, moment in last_used.items()],
                )
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

        await self._run(write)

    async def usage_sums(self, query: UsageQuery) -> list[tuple[Group, dict[str, float]]]:
        where: list[str] = ["1 = 1"]
        params: list[str | float] = []
        if query.key_id is not None:
            where.append("key_id = ?")
            params.append(query.key_id)
        if query.since is not None:
            where.append("hour > ?")
            params.append(query.since - HOUR)
        if query.until is not None:
            where.append("hour < ?")
            params.append(query.until)
        sql = (
            f"SELECT hour, key_id, model, target, surface, {_COLUMNS} FROM usage WHERE {' AND '.join(where)}"
        )

        def read(db: sqlite3.Connection) -> list[tuple[Group, dict[str, float]]]:
            return [
                ((int(r[0]), r[1], r[2], r[3], r[4]), dict(zip(USAGE_COUNTERS, r[5:], strict=True)))
                for r in db.execute(sql, params)
            ]

        return await self._run(read)

    async def put_response(self, response_id: str, key_id: str, document: bytes, ttl: float) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            try:
                # Expired rows go as new ones come (one indexed range delete): no sweeper to run.
                db.execute("DELETE FROM responses WHERE expires_at <= ?", (now,))
                changed = db.execute(
                    "INSERT INTO responses (id, key_id, expires_at, data) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (id) DO UPDATE SET expires_at = excluded.expires_at, data = excluded.data "
                    "WHERE responses.key_id = excluded.key_id",
                    (response_id, key_id, now + ttl, document),
                ).rowcount
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
            return bool(changed)

        return await self._run(write)

    async def get_response(self, response_id: str, key_id: str) -> bytes | None:
        def read(db: sqlite3.Connection) -> bytes | None:
            row = db.execute(
                "SELECT data FROM responses WHERE id = ? AND key_id = ? AND expires_at > ?",
                (response_id, key_id, time.time()),
            ).fetchone()
            return None if row is None else bytes(row[0])

        return await self._run(read)

    async def delete_response(self, response_id: str, key_id: str) -> bool:
        def write(db: sqlite3.Connection) -> bool:
            return bool(
                db.execute(
                    "DELETE FROM responses WHERE id = ? AND key_id = ? AND expires_at > ?",
                    (response_id, key_id, time.time()),
                ).rowcount
            )

        return await self._run(write)

    async def aclose(self) -> None:
        await self._run(lambda db: db.close())
        self._thread.shutdown(wait=True)

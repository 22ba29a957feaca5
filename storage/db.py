"""Database URLs, engines and sessions.

Users write plain URLs (``sqlite:///var/bot.db``, ``postgresql://user@host/db``). The app picks
the drivers: psycopg 3 for PostgreSQL, because it does both sync (alembic) and async (the bot)
on the same URL, and aiosqlite/pysqlite for SQLite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

from storage.errors import DatabaseUrlError

DEFAULT_DATABASE_URL = "sqlite:///var/incident-bot.db"

_POSTGRES_NAMES = {"postgres", "postgresql", "postgresql+psycopg", "postgresql+psycopg_async"}
_SQLITE_NAMES = {"sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"}


def parse_database_url(raw: str) -> URL:
    try:
        url = make_url(raw.strip())
    except ArgumentError as exc:
        raise DatabaseUrlError(f"DATABASE_URL is not a database URL: {raw!r}") from exc
    if url.drivername not in _POSTGRES_NAMES | _SQLITE_NAMES:
        raise DatabaseUrlError(
            f"DATABASE_URL scheme {url.drivername!r} is not supported; "
            "use sqlite:///path/to.db or postgresql://user@host:5432/db"
        )
    return url


def is_sqlite(url: URL) -> bool:
    return url.drivername.startswith("sqlite")


def async_url(raw: str) -> URL:
    url = parse_database_url(raw)
    return url.set(drivername="sqlite+aiosqlite" if is_sqlite(url) else "postgresql+psycopg")


def sync_url(raw: str) -> URL:
    url = parse_database_url(raw)
    return url.set(drivername="sqlite+pysqlite" if is_sqlite(url) else "postgresql+psycopg")


def ensure_sqlite_directory(url: URL) -> None:
    """SQLite creates the file but not its folder; the default lives under ./var/."""
    if is_sqlite(url) and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


# How long a writer waits for SQLite's one write lock before failing with "database is locked".
SQLITE_LOCK_WAIT_MS = 10_000


def _configure_sqlite(engine: Engine, *, busy_timeout_ms: int = SQLITE_LOCK_WAIT_MS) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        # The driver's own deferred BEGIN lets two transactions read, then both try to write:
        # SQLite then fails one at once with "database is locked", whatever the busy timeout.
        # Taking the write lock at BEGIN (below) makes writers queue instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets the readers of /readyz and the outbox run beside a writer; the busy timeout
        # makes a second writer wait instead of failing with "database is locked".
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine_for(raw_url: str, *, echo: bool = False) -> AsyncEngine:
    url = async_url(raw_url)
    ensure_sqlite_directory(url)
    if is_sqlite(url):
        # SQLite takes one writer at a time; queueing for a single connection in asyncio is
        # fair and fast, where many connections would poll SQLite's busy handler with sleeps.
        engine = create_async_engine(url, echo=echo, pool_size=1, max_overflow=0, pool_timeout=60)
        _configure_sqlite(engine.sync_engine)
        return engine
    return create_async_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)


def create_sync_engine_for(raw_url: str, *, pool_size: int = 1, sqlite_busy_timeout_ms: int = SQLITE_LOCK_WAIT_MS
                           ) -> Engine:
    """A synchronous engine on the same database, for work done in a thread of its own (the
    inbox's appends: one hand-off from the event loop per transaction instead of one per
    statement). SQLite gets the same connection settings as the async engine, but for the busy
    timeout when ``sqlite_busy_timeout_ms`` is given (0: "database is locked" at once, for a
    caller that waits for the lock its own way)."""
    url = sync_url(raw_url)
    ensure_sqlite_directory(url)
    if is_sqlite(url):
        engine = create_engine(url, pool_size=pool_size, max_overflow=0, pool_timeout=60)
        _configure_sqlite(engine, busy_timeout_ms=sqlite_busy_timeout_ms)
        return engine
    # No pre-ping: it would cost a round trip on every transaction of a connection kept busy. A
    # connection that died meanwhile fails its one transaction and is replaced for the next.
    return create_engine(url, pool_size=pool_size, max_overflow=0)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def ping(sessions: async_sessionmaker[AsyncSession]) -> None:
    """One round trip to the database; raises what the driver raises when it does not answer."""
    async with sessions() as session:
        await session.execute(text("SELECT 1"))

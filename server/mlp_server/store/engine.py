"""Engine construction: one place that knows SQLite needs help to behave like a server database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.pool import StaticPool

# Execution option read by the SQLite "begin" hook: writers take the write lock up front.
_BEGIN_MODE = "mlp_sqlite_begin"
BUSY_TIMEOUT_MS = 30_000
# Reads of a SQLite file through a memory map (address space, not memory; SQLite caps it at its
# compile-time limit, 2 GB by default).
MMAP_BYTES = 2**31


def sqlite_url(path: str | Path) -> str:
    """The URL of a SQLite file, e.g. ``sqlite:////var/lib/mlp/db.sqlite``."""
    return f"sqlite:///{Path(path)}"


def create_store_engine(url: str | URL) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed)
    kwargs: dict[str, Any] = {}
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, so that every session sees the same in-memory database.
        # Only for single-threaded use (tests); use a file for anything concurrent.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, **kwargs)
    _install_sqlite_hooks(engine)
    return engine


def writer(engine: Engine) -> Engine:
    """The engine to use for write transactions (same pool, BEGIN IMMEDIATE on SQLite)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_MODE: "IMMEDIATE"})


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (pysqlite's legacy mode skips it before SELECT,
        # which breaks repeatable reads and SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        # Durable on acknowledgement: in WAL mode FULL fsyncs the WAL at every commit (NORMAL, the
        # default of some builds, only at checkpoints, so a power loss could undo acknowledged writes).
        # Group commit (group_commit.py) is what keeps that affordable.
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
        # Pages missing from SQLite's own small cache (2 MB) are read from the map instead of by a
        # read() each: a filter's first list at 1M models looks up tens of thousands of scattered
        # rows (20-35% less time). Writes go through the WAL as before.
        cursor.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A deferred transaction that later writes can fail with SQLITE_BUSY without waiting
        # (lock upgrade); IMMEDIATE takes the write lock first, so writers queue on busy_timeout.
        mode = conn.get_execution_options().get(_BEGIN_MODE, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

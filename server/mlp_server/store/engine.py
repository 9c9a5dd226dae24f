"""Engine construction: one place that knows SQLite needs help to behave like a server database."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.pool import StaticPool

log = logging.getLogger("mlp_server")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)

# Execution option read by the SQLite "begin" hook: writers take the write lock up front.
_BEGIN_MODE = "mlp_sqlite_begin"
# How long a write waits for another process's lock on a SQLite file before it is answered 503
# ServiceUnavailableTemp (MLP_SQLITE_BUSY_TIMEOUT, seconds). Well below the client's 30 s read timeout,
# so that the client sees the documented, retried 503 and not a timeout with an unknown outcome.
DEFAULT_BUSY_TIMEOUT = 10.0
_LOCK_WAIT_MS: ContextVar[int | None] = ContextVar("mlp_sqlite_lock_wait_ms", default=None)
# Reads of a SQLite file through a memory map (address space, not memory; SQLite caps it at its
# compile-time limit, 2 GB by default).
MMAP_BYTES = 2**31
# The files keep_private could not make private, each said once per process (it runs as every
# connection opens: a link in the data folder would otherwise be logged over and over).
_UNPRIVATE_SAID: set[str] = set()


def sqlite_url(path: str | Path) -> str:
    """The URL of a SQLite file, e.g. ``sqlite:////var/lib/mlp/db.sqlite``."""
    return f"sqlite:///{Path(path)}"


def create_store_engine(url: str | URL, *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # A pooled connection whose session ended (a database restart or failover,
        # idle_session_timeout, pg_terminate_backend) is found out at checkout and replaced, instead of
        # failing the request that gets it. psycopg pings with an empty query: one round trip.
        return create_engine(parsed, pool_pre_ping=True)
    kwargs: dict[str, Any] = {}
    database: Path | None = None
    if parsed.database in (None, "", ":memory:"):
        # One shared connection, so that every session sees the same in-memory database.
        # Only for single-threaded use (tests); use a file for anything concurrent.
        kwargs = {"poolclass": StaticPool, "connect_args": {"check_same_thread": False}}
    else:
        database = Path(parsed.database)
        database.parent.mkdir(parents=True, exist_ok=True)
        # Made private from its first moment: SQLite would make it 0644 (less the umask), and one who
        # opened it before keep_private narrowed it could read through that descriptor for ever. One
        # that cannot be made (a read-only folder, a full disk) is SQLite's to report, as before.
        # (A file: URI names its file and mode its own way.)
        if not parsed.query.get("uri"):
            with contextlib.suppress(OSError):
                flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
                os.close(os.open(database, flags, 0o600))
    engine = create_engine(parsed, **kwargs)
    _install_sqlite_hooks(engine, busy_ms=max(1, round(busy_timeout * 1000)), database=database)
    return engine


def keep_private(database: Path) -> None:
    """The database file holds every access key's secret: readable and writable by its owner only
    (0600), as ``token.key`` and ``credentials.json`` are. SQLite makes a new file 0644 (less the
    umask) and gives its -wal and -shm files the database file's mode, so this runs as a connection
    opens, before it turns on WAL; a file of an earlier release that others could read is narrowed
    too (logged)."""
    for path in (
        database,
        database.with_name(f"{database.name}-wal"),
        database.with_name(f"{database.name}-shm"),
    ):
        try:
            _narrow(path)
        except FileNotFoundError:
            continue
        except OSError as exc:  # a link (ELOOP), or not ours to change (another owner): say so, go on
            _cannot_make_private(path, exc)


def _narrow(path: Path) -> None:
    """``path`` made 0600 if others may read or write it, through the file itself, never a link's
    target (whoever owns the data folder may put a link there, and mlp gc may run as root).

    Never through a descriptor that could drop this process's SQLite locks: closing *any* ordinary
    descriptor of a file releases every POSIX lock the process holds on it, those of the other
    connections included (a reader then sees a WAL it may not trust, a writer's lock is gone). An
    ``O_PATH`` descriptor is not one (Linux does not release locks for it) and cannot be fchmod-ed, so
    the mode is set through its /proc link; elsewhere by name, after a check that it is no link."""
    o_path = getattr(os, "O_PATH", 0)
    if o_path and os.path.isdir("/proc/self/fd"):
        fd = os.open(path, o_path | _NOFOLLOW | _CLOEXEC)
        try:
            _narrow_file(path, os.fstat(fd), f"/proc/self/fd/{fd}")
        finally:
            os.close(fd)
    else:
        _narrow_file(path, os.lstat(path), str(path))


def _narrow_file(path: Path, st: os.stat_result, through: str) -> None:
    """``path`` (whose ``lstat`` is ``st``) made 0600 by chmod of ``through``, which names the file
    itself: a link is refused (ELOOP), anything but a regular file left as it is."""
    if stat.S_ISLNK(st.st_mode):
        raise OSError(errno.ELOOP, "a symbolic link, not followed", str(path))
    mode = stat.S_IMODE(st.st_mode)
    if stat.S_ISREG(st.st_mode) and mode & 0o077:
        os.chmod(through, mode & ~0o077)
        if st.st_size:  # an empty file is one this connection just made
            log.warning("%s was readable by other users: made private (mode %o)", path, mode & ~0o077)


def _cannot_make_private(path: Path, exc: OSError) -> None:
    """The warning that ``path`` stays as it is: once per process for each file."""
    if str(path) in _UNPRIVATE_SAID:
        return
    _UNPRIVATE_SAID.add(str(path))
    log.warning("%s holds the platform's keys but cannot be made private: %s", path, exc)


def writer(engine: Engine) -> Engine:
    """The engine to use for write transactions (same pool, BEGIN IMMEDIATE on SQLite)."""
    if engine.dialect.name != "sqlite":
        return engine
    return engine.execution_options(**{_BEGIN_MODE: "IMMEDIATE"})


@contextmanager
def lock_wait(seconds: float) -> Iterator[None]:
    """Write transactions begun in this block wait at most ``seconds`` for the database's lock
    (instead of the engine's busy timeout)."""
    token = _LOCK_WAIT_MS.set(max(1, round(seconds * 1000)))
    try:
        yield
    finally:
        _LOCK_WAIT_MS.reset(token)


def _install_sqlite_hooks(engine: Engine, *, busy_ms: int, database: Path | None) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        if database is not None:
            keep_private(database)
        # Let SQLAlchemy emit BEGIN itself (pysqlite's legacy mode skips it before SELECT,
        # which breaks repeatable reads and SAVEPOINT).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")
        _journal_mode_wal(cursor, busy_ms)
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
        wait_ms = _LOCK_WAIT_MS.get()
        if wait_ms is None or mode != "IMMEDIATE":
            conn.exec_driver_sql(f"BEGIN {mode}")
            return
        # What is left of this write's wait (it queued behind this process's other writers first).
        driver = conn.connection.driver_connection
        driver.execute(f"PRAGMA busy_timeout = {wait_ms}")
        try:
            conn.exec_driver_sql(f"BEGIN {mode}")
        finally:
            driver.execute(f"PRAGMA busy_timeout = {busy_ms}")


# SQLite primary result codes of a lock another connection holds (https://sqlite.org/rescode.html)
_SQLITE_BUSY, _SQLITE_LOCKED = 5, 6


def _journal_mode_wal(cursor: Any, busy_ms: int) -> None:
    """``PRAGMA journal_mode = WAL``, waiting at most ``busy_ms`` for another connection's lock.

    Turning a rollback-journal file into WAL needs its exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, while another connection holds the write (RESERVED)
    lock: the handler is skipped where waiting could deadlock. So the change is tried again, with a
    growing pause, until the wait is spent (each try waits only what is left of it)."""
    deadline = time.monotonic() + busy_ms / 1000
    pause = 0.005
    try:
        while True:
            try:
                cursor.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                left = deadline - time.monotonic()
                if (
                    getattr(exc, "sqlite_errorcode", 0) & 0xFF not in (_SQLITE_BUSY, _SQLITE_LOCKED)
                    or left <= 0
                ):
                    raise
            time.sleep(min(pause, left))
            pause = min(pause * 2, 0.1)
            cursor.execute(f"PRAGMA busy_timeout = {max(1, round((deadline - time.monotonic()) * 1000))}")
    finally:
        cursor.execute(f"PRAGMA busy_timeout = {busy_ms}")

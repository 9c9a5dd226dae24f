"""Storage failures (disk full, read-only, database locked past its timeout) as documented codes.

These are not bugs of the platform but states of its disk or database that an operator fixes, so
they are answered ``StorageUnavailable`` (503) with the cause, never ``InternalError``. A database
that stays locked past its busy timeout is temporary: ``ServiceUnavailableTemp``, which clients retry,
and so is a database that cannot be reached or dropped the connection (a PostgreSQL restart or
failover, ``pg_terminate_backend``), unless a commit was under way (:class:`CommitOutcomeUnknown`).
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .errors import ApiError

# SQLite primary result codes (https://sqlite.org/rescode.html)
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_FULL = 5, 6, 8, 13
# PostgreSQL SQLSTATEs: disk_full, read_only_sql_transaction, lock_not_available
_PG_FULL, _PG_READONLY, _PG_LOCKED = "53100", "25006", "55P03"
# PostgreSQL SQLSTATEs of a session the server ended or would not start: admin_shutdown,
# crash_shutdown, cannot_connect_now (starting up or shutting down); class 08 is connection_exception.
_PG_GONE = ("57P01", "57P02", "57P03")

DISK_FULL = "the platform's disk is full; nothing was written (an operator must free space)"
READ_ONLY = "the platform's storage is read-only; nothing was written (an operator must fix it)"
LOCKED = "the platform's database stayed locked past its timeout; nothing was written, try again"
UNREACHABLE = "the platform's database cannot be reached now; nothing was written, try again"


class CommitOutcomeUnknown(Exception):
    """The connection failed while a commit was under way: the write may or may not be durable, so
    it is not answered as the retried ``ServiceUnavailableTemp``."""


# What the store raises when the database fails (not the caller's input): the callers that keep work
# going through a database outage (the serving runtimes, the perf worker) catch these.
DATABASE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError, CommitOutcomeUnknown)


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        # SQLAlchemy wraps the driver's error in .orig; Python chains in __cause__/__context__.
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return seen


def database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database could not be reached or ended the session: a transient state
    of the database, not a fault of the statement (retrying on a new connection may succeed)."""
    for cause in _causes(exc):
        if isinstance(cause, DBAPIError) and cause.connection_invalidated:
            return True
        state = getattr(cause, "sqlstate", None)
        if isinstance(state, str) and (state in _PG_GONE or state.startswith("08")):
            return True
        # psycopg's connect failure (refused, no route, timeout) is an OperationalError with no state.
        kind = type(cause)
        if kind.__module__.startswith("psycopg") and kind.__name__ == "OperationalError" and state is None:
            return True
    return False


def database_trouble(exc: BaseException) -> str:
    """A database error in one line, for a log: not the SQL and parameters SQLAlchemy appends (and
    never for a record's message: the database's state is not the service's or the task's)."""
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"


def storage_error(exc: BaseException) -> ApiError | None:
    """The documented error for a storage failure anywhere in ``exc``'s chain, else None."""
    if database_unreachable(exc):
        if any(isinstance(cause, CommitOutcomeUnknown) for cause in _causes(exc)):
            return None  # an InternalError: the client must not resend a write that may be done
        return ApiError("ServiceUnavailableTemp", UNREACHABLE)
    for cause in _causes(exc):
        if isinstance(cause, sqlite3.Error):
            primary = getattr(cause, "sqlite_errorcode", -1) & 0xFF
            if primary == _SQLITE_FULL:
                return ApiError("StorageUnavailable", DISK_FULL)
            if primary == _SQLITE_READONLY:
                return ApiError("StorageUnavailable", READ_ONLY)
            if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
                return ApiError("ServiceUnavailableTemp", LOCKED)
        state = getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)
        if state == _PG_FULL:
            return ApiError("StorageUnavailable", DISK_FULL)
        if state == _PG_READONLY:
            return ApiError("StorageUnavailable", READ_ONLY)
        if state == _PG_LOCKED:
            return ApiError("ServiceUnavailableTemp", LOCKED)
        if isinstance(cause, OSError):
            if cause.errno in (errno.ENOSPC, errno.EDQUOT):
                return ApiError("StorageUnavailable", DISK_FULL)
            if cause.errno == errno.EROFS:
                return ApiError("StorageUnavailable", READ_ONLY)
    return None


def disk_problem(exc: BaseException, folder: Path | None = None) -> tuple[str, BaseException] | None:
    """("full" or "read-only", the cause that says so) when ``exc`` comes of the disk's state (see
    :func:`storage_error`), else None: for messages outside a request (a platform starting).

    With ``folder`` (the data folder), a file or SQLite error that does not say so itself is put down
    to the disk when the folder's file system is mounted read-only or has (almost) no space left:
    SQLite answers "disk I/O error" when its WAL index cannot grow on a full disk, and "unable to
    open database file" when it cannot make that index on a read-only one."""
    known = storage_error(exc)
    if known is not None and known.code == "StorageUnavailable":
        disk_error = next(
            (c for c in reversed(_causes(exc)) if isinstance(c, (OSError, sqlite3.Error))), None
        )
        return ("full" if known.message == DISK_FULL else "read-only"), disk_error or exc
    if known is None and folder is not None:
        # Only an error that a full or read-only disk can cause without saying so, raised as (or
        # explicitly from) its cause: not a damaged file ("file is not a database"), nor a bug raised
        # while another error was being handled.
        unexplained = next((c for c in reversed(_explicit_causes(exc)) if _unexplained_io(c)), None)
        if unexplained is not None:
            state = _file_system_state(folder)
            if state is not None:
                return state, unexplained
    return None


# SQLite primary result codes a full or read-only disk gives without saying so: "disk I/O error",
# "unable to open database file".
_SQLITE_IOERR, _SQLITE_CANTOPEN = 10, 14


def _unexplained_io(cause: BaseException) -> bool:
    """Whether ``cause`` is an I/O failure that does not say why (the disk's state may be why)."""
    if isinstance(cause, sqlite3.Error):
        return getattr(cause, "sqlite_errorcode", -1) & 0xFF in (_SQLITE_IOERR, _SQLITE_CANTOPEN)
    return isinstance(cause, OSError) and cause.errno == errno.EIO


def _explicit_causes(exc: BaseException) -> list[BaseException]:
    """``exc`` and what it was raised from (SQLAlchemy's .orig, ``raise ... from``), not what was being
    handled when it was raised (``__context__``: another failure)."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = getattr(current, "orig", None) or current.__cause__
    return seen


# Less free space than this on the data folder's file system: an unexplained write error is its being full.
NEARLY_FULL_BYTES = 1024 * 1024


def _file_system_state(folder: Path) -> str | None:
    """ "read-only" or "full" for the file system of ``folder`` (or of its nearest existing parent)."""
    for path in (folder, *folder.parents):
        try:
            st = os.statvfs(path)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        if st.f_flag & os.ST_RDONLY:
            return "read-only"
        if st.f_bavail * st.f_frsize < NEARLY_FULL_BYTES:
            return "full"
        return None
    return None

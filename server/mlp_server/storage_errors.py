"""Storage failures (disk full, read-only, database locked past its timeout) as documented codes.

These are not bugs of the platform but states of its disk or database that an operator fixes, so
they are answered ``StorageUnavailable`` (503) with the cause, never ``InternalError``. A database
that stays locked past its busy timeout is temporary: ``ServiceUnavailableTemp``, which clients retry.
"""

from __future__ import annotations

import errno
import sqlite3

from .errors import ApiError

# SQLite primary result codes (https://sqlite.org/rescode.html)
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_FULL = 5, 6, 8, 13
# PostgreSQL SQLSTATEs: disk_full, read_only_sql_transaction, lock_not_available
_PG_FULL, _PG_READONLY, _PG_LOCKED = "53100", "25006", "55P03"

DISK_FULL = "the platform's disk is full; nothing was written (an operator must free space)"
READ_ONLY = "the platform's storage is read-only; nothing was written (an operator must fix it)"
LOCKED = "the platform's database stayed locked past its timeout; nothing was written, try again"


def _causes(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        # SQLAlchemy wraps the driver's error in .orig; Python chains in __cause__/__context__.
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return seen


def storage_error(exc: BaseException) -> ApiError | None:
    """The documented error for a storage failure anywhere in ``exc``'s chain, else None."""
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


def disk_problem(exc: BaseException) -> tuple[str, BaseException] | None:
    """("full" or "read-only", the cause that says so) when ``exc`` comes of the disk's state (see
    :func:`storage_error`), else None: for messages outside a request (``mlp serve`` starting)."""
    known = storage_error(exc)
    if known is None or known.code != "StorageUnavailable":
        return None
    state = "full" if known.message == DISK_FULL else "read-only"
    cause = next((c for c in reversed(_causes(exc)) if isinstance(c, (OSError, sqlite3.Error))), exc)
    return state, cause

"""Which failures of the disk or database are answered as storage codes (not InternalError).

The database errors are real, raised by SQLite on a database file; the OS errors are built from their
errno (a full or read-only disk cannot be had portably without root and a mount)."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from mlp_server.storage_errors import storage_error


def _sqlalchemy_error(url: str, *statements: str) -> OperationalError:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    except OperationalError as exc:
        return exc
    finally:
        engine.dispose()
    raise AssertionError("no error")


def test_a_full_database_is_storage_unavailable(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    exc = _sqlalchemy_error(
        url,
        "CREATE TABLE t (x TEXT)",
        "PRAGMA max_page_count = 3",
        "INSERT INTO t VALUES (printf('%.100000c', 'x'))",
    )
    found = storage_error(exc)
    assert found is not None and (found.code, found.status) == ("StorageUnavailable", 503)
    assert "disk is full" in found.message


def test_a_read_only_database_is_storage_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    sqlite3.connect(path).execute("CREATE TABLE t (x)").connection.commit()
    exc = _sqlalchemy_error(f"sqlite:///file:{path}?mode=ro&uri=true", "INSERT INTO t VALUES (1)")
    found = storage_error(exc)
    assert found is not None and found.code == "StorageUnavailable" and "read-only" in found.message


def test_a_locked_database_is_temporary(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        exc = _sqlalchemy_error(f"sqlite:///{path}?timeout=0.05", "INSERT INTO t VALUES (1)")
    finally:
        holder.close()
    found = storage_error(exc)
    assert found is not None and (found.code, found.status) == ("ServiceUnavailableTemp", 503)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        (errno.ENOSPC, "StorageUnavailable"),
        (errno.EDQUOT, "StorageUnavailable"),
        (errno.EROFS, "StorageUnavailable"),
    ],
)
def test_os_errors_of_a_full_or_read_only_disk(number: int, code: str) -> None:
    try:
        raise RuntimeError("while writing") from OSError(number, "simulated by the OS error number")
    except RuntimeError as exc:
        found = storage_error(exc)
    assert found is not None and found.code == code


def test_other_errors_are_not_storage_errors(tmp_path: Path) -> None:
    assert storage_error(ValueError("a bug")) is None
    assert storage_error(FileNotFoundError(errno.ENOENT, "gone")) is None
    exc = _sqlalchemy_error(f"sqlite:///{tmp_path / 'db.sqlite3'}", "SELECT * FROM missing")
    assert storage_error(exc) is None

"""The database file is made private (0600) as each connection opens (store.engine.keep_private); one
it cannot make private (a link put as the database, followed by no one) is logged once per process,
not on every connection."""

from __future__ import annotations

import logging
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from mlp_server.store.engine import create_store_engine, sqlite_url


def test_a_database_reached_through_a_link_is_warned_of_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    real = tmp_path / "real.sqlite3"
    real.touch(mode=0o644)
    real.chmod(0o644)
    link = tmp_path / "linked.sqlite3"
    link.symlink_to(real)
    caplog.set_level(logging.WARNING, logger="mlp_server")
    for _ in range(3):  # three engines, each its own connection: keep_private runs for each
        engine = create_store_engine(sqlite_url(link))
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT 1")).scalar() == 1
        finally:
            engine.dispose()
    said = [r.getMessage() for r in caplog.records if "cannot be made private" in r.getMessage()]
    assert len(said) == 1, said
    assert str(link) in said[0]
    assert stat.S_IMODE(real.stat().st_mode) == 0o644, "the link's target is left as it was"


LOCK_PROBE = """
import sqlite3, sys
probe = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    probe.execute("BEGIN IMMEDIATE")
except sqlite3.OperationalError as exc:
    print("locked" if "locked" in str(exc) else f"error: {exc}")
else:
    print("taken")
"""


def test_a_new_connection_keeps_the_other_connections_locks(tmp_path: Path) -> None:
    """Closing any ordinary descriptor of a file drops every POSIX lock the process holds on it. The
    first version of keep_private opened the database (and its -wal, -shm) and closed them as each
    connection opened: the write lock another connection of the process held was gone, and another
    process took it too (seen as a restart that found no rows, perf runners that found no version)."""
    database = tmp_path / "mlp.sqlite3"
    engine = create_store_engine(sqlite_url(database))
    try:
        with engine.connect() as setup:
            setup.execute(text("PRAGMA journal_mode=WAL"))
            setup.execute(text("CREATE TABLE t (x INTEGER)"))
            setup.commit()
        holder = engine.raw_connection()
        other = None
        try:
            holder.driver_connection.execute("BEGIN IMMEDIATE")  # this process's write lock
            other = engine.raw_connection()  # a new connection: keep_private runs as it opens
            probed = subprocess.run(
                [sys.executable, "-c", LOCK_PROBE, str(database)], capture_output=True, text=True, timeout=60
            )
            assert probed.stdout.strip() == "locked", probed
        finally:
            if other is not None:
                other.close()
            holder.driver_connection.execute("ROLLBACK")
            holder.close()
    finally:
        engine.dispose()

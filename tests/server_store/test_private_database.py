"""The database file is made private (0600) as each connection opens (store.engine.keep_private); one
it cannot make private (a link put as the database, followed by no one) is logged once per process,
not on every connection."""

from __future__ import annotations

import logging
import stat
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

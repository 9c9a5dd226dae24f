"""``mlp account`` and ``mlp db`` wait for another process's SQLite lock as long as ``mlp serve`` does
(``MLP_SQLITE_BUSY_TIMEOUT``, default 10 s), refuse a bad value of it as ``mlp serve`` does, and say
plainly that the database stayed locked. Real ``mlp`` processes on a database another connection
holds locked."""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from mlp_testing import clean_env, mlp_script

# A wait far below the default 10 s: a command that ignores the setting takes 10 s or more.
WAIT = "0.5"
IGNORED = 8.0  # seconds: well above WAIT plus a loaded machine's start-up, below the default 10
LOCKED = f"stayed locked by another process for {WAIT} s (MLP_SQLITE_BUSY_TIMEOUT); the write that waited"


def mlp(data_dir: Path, *args: str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    start = time.monotonic()
    done = subprocess.run(
        [mlp_script(), *args, "--data-dir", str(data_dir)],
        env=clean_env(data_dir.parent / "home", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done, time.monotonic() - start


def _mlp_with(
    data_dir: Path, env: dict[str, str], args: tuple[str, ...]
) -> tuple[subprocess.CompletedProcess[str], float]:
    return mlp(data_dir, *args, **env)


@contextmanager
def held(database: Path) -> Iterator[None]:
    """A connection holding ``database``'s write lock (an operator's ``sqlite3``, a backup tool)."""
    blocker = sqlite3.connect(database, isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        yield
    finally:
        blocker.close()


def test_account_and_db_commands_wait_as_long_as_mlp_sqlite_busy_timeout_says(tmp_path: Path) -> None:
    ready = tmp_path / "ready"  # a platform's database at the current schema
    assert mlp(ready, "db", "upgrade")[0].returncode == 0
    empty = tmp_path / "empty"  # a database file with no schema yet: `db upgrade` must write it
    empty.mkdir()
    sqlite3.connect(empty / "mlp.sqlite3").close()
    commands = [
        (ready, ("account", "add", "--account-id", "2100000051")),
        (ready, ("account", "list")),
        (ready, ("account", "revoke-key", "AKLTnosuchkey")),
        (empty, ("db", "upgrade")),
    ]
    with held(ready / "mlp.sqlite3"), held(empty / "mlp.sqlite3"), ThreadPoolExecutor(len(commands)) as pool:
        runs = list(pool.map(lambda c: _mlp_with(c[0], {"MLP_SQLITE_BUSY_TIMEOUT": WAIT}, c[1]), commands))
    for (_, args), (done, seconds) in zip(commands, runs, strict=True):
        assert done.returncode == 1, (args, done.stderr)
        assert LOCKED in done.stderr and "unexpected error" not in done.stderr, (args, done.stderr)
        assert seconds < IGNORED, (args, seconds)
    # The lock gone, the commands work; the refused `db upgrade` wrote nothing.
    assert mlp(ready, "account", "add", "--account-id", "2100000051")[0].returncode == 0
    assert ": empty (the schema is created at first start" in mlp(empty, "db", "current")[0].stdout


def test_a_bad_mlp_sqlite_busy_timeout_is_refused_as_mlp_serve_refuses_it(tmp_path: Path) -> None:
    commands = [
        ("serve", "--port", "0"),
        ("account", "add", "--account-id", "2100000052"),
        ("account", "list"),
        ("db", "current"),
        ("db", "upgrade"),
    ]
    for wrong in ("abc",):  # the values it takes: tests/server_store/test_group_commit.py
        expected = (
            f"mlp: error: MLP_SQLITE_BUSY_TIMEOUT={wrong!r} is not a number of seconds above 0 (default 10)"
        )
        run = partial(_mlp_with, tmp_path / "platform", {"MLP_SQLITE_BUSY_TIMEOUT": wrong})
        with ThreadPoolExecutor(len(commands)) as pool:
            runs = [done for done, _ in pool.map(run, commands)]
        assert [(r.returncode, r.stderr.strip()) for r in runs] == [(2, expected)] * len(commands), runs
    assert not (tmp_path / "platform" / "mlp.sqlite3").exists()  # refused before anything was opened

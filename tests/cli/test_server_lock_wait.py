"""``mlp account`` and ``mlp db`` wait for another process's SQLite lock as long as ``mlp serve`` does
(``MLP_SQLITE_BUSY_TIMEOUT``, default 10 s), refuse a bad value of it as ``mlp serve`` does, and say
plainly that the database stayed locked. Real ``mlp`` processes on a database another connection
holds locked."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from mlp_testing import clean_env, mlp_script

DEFAULT_WAIT = 10.0  # seconds: what the commands waited whatever MLP_SQLITE_BUSY_TIMEOUT said


def command(data_dir: Path, args: tuple[str, ...]) -> list[str]:
    return [mlp_script(), *args, "--data-dir", str(data_dir)]


def mlp(data_dir: Path, args: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(data_dir, args),
        env=clean_env(data_dir.parent / "home", **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def held(database: Path) -> Iterator[sqlite3.Connection]:
    """A connection holding ``database``'s write lock (an operator's ``sqlite3``, a backup tool)."""
    blocker = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        yield blocker
    finally:
        blocker.close()


def platforms(tmp_path: Path) -> tuple[Path, Path]:
    """A platform's database at the current schema, and a database file with no schema yet (which
    `db upgrade` must write)."""
    ready, empty = tmp_path / "ready", tmp_path / "empty"
    assert mlp(ready, ("db", "upgrade"), {}).returncode == 0
    empty.mkdir()
    sqlite3.connect(empty / "mlp.sqlite3").close()
    return ready, empty


def test_a_lock_held_past_a_short_wait_is_said_plainly(tmp_path: Path) -> None:
    ready, empty = platforms(tmp_path)
    commands = [
        (ready, ("account", "add", "--account-id", "2100000051")),
        (ready, ("account", "list")),
        (ready, ("account", "revoke-key", "AKLTnosuchkey")),
        (empty, ("db", "upgrade")),
    ]
    locked = "is locked by another process (a write waits for it at most MLP_SQLITE_BUSY_TIMEOUT=0.5 s)"
    with held(ready / "mlp.sqlite3"), held(empty / "mlp.sqlite3"), ThreadPoolExecutor(len(commands)) as pool:
        runs = list(pool.map(lambda c: mlp(c[0], c[1], {"MLP_SQLITE_BUSY_TIMEOUT": "0.5"}), commands))
    for (_, args), done in zip(commands, runs, strict=True):
        assert done.returncode == 1, (args, done.stderr)
        assert locked in done.stderr and "unexpected error" not in done.stderr, (args, done.stderr)
    # The lock gone, the commands work; the refused `db upgrade` wrote nothing.
    assert mlp(ready, ("account", "list"), {}).returncode == 0
    assert ": empty (the schema is created at first start" in mlp(empty, ("db", "current"), {}).stdout


def _opened(pid: int, database: Path, timeout: float = 60.0) -> None:
    """Wait until process ``pid`` has ``database`` open (it is about to ask for the lock)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            return  # ended already: its outcome says why
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(database):
                    return
            except FileNotFoundError:
                continue
        time.sleep(0.02)
    raise AssertionError(f"process {pid} never opened {database}")


def _released_late(
    data_dir: Path, args: tuple[str, ...], hold: float = DEFAULT_WAIT + 2
) -> subprocess.CompletedProcess[str]:
    """``args`` run with a 60 s wait on a database whose lock is let go ``hold`` seconds (by default
    2 s past the default wait) after the command opened it."""
    database = data_dir / "mlp.sqlite3"
    with held(database) as blocker:
        process = subprocess.Popen(
            command(data_dir, args),
            env=clean_env(data_dir.parent / "home", MLP_SQLITE_BUSY_TIMEOUT="60"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        _opened(process.pid, database.resolve())
        time.sleep(hold)  # by default the point of the test: a wait longer than the default
        blocker.execute("ROLLBACK")
        out, err = process.communicate(timeout=120)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_a_wait_longer_than_the_default_is_honoured(tmp_path: Path) -> None:
    ready, _ = platforms(tmp_path)
    done = _released_late(ready, ("account", "add", "--account-id", "2100000053"))
    assert done.returncode == 0, done.stderr
    assert "2100000053" in mlp(ready, ("account", "list"), {}).stdout


def test_db_upgrade_waits_for_the_lock_to_turn_a_rollback_journal_file_into_wal(tmp_path: Path) -> None:
    """The change to WAL needs the file's exclusive lock, and SQLite refuses it at once (no busy
    handler) while another connection holds the write lock: the command waits like the rest."""
    empty = tmp_path / "empty"
    empty.mkdir()
    sqlite3.connect(empty / "mlp.sqlite3").close()  # a rollback-journal file, as sqlite3 makes one
    done = _released_late(empty, ("db", "upgrade"), hold=2)
    assert done.returncode == 0, done.stderr
    assert "created the schema at revision" in done.stdout, done.stdout
    with sqlite3.connect(empty / "mlp.sqlite3") as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_a_bad_mlp_sqlite_busy_timeout_is_refused_as_mlp_serve_refuses_it(tmp_path: Path) -> None:
    commands = [
        ("serve", "--port", "0"),
        ("account", "add", "--account-id", "2100000052"),
        ("account", "list"),
        ("db", "current"),
        ("db", "upgrade"),
    ]
    # The values it takes: tests/server_store/test_group_commit.py.
    expected = "mlp: error: MLP_SQLITE_BUSY_TIMEOUT='abc' is not a number of seconds above 0 (default 10)"
    platform = tmp_path / "platform"
    with ThreadPoolExecutor(len(commands)) as pool:
        runs = list(pool.map(lambda c: mlp(platform, c, {"MLP_SQLITE_BUSY_TIMEOUT": "abc"}), commands))
    assert [(r.returncode, r.stderr.strip()) for r in runs] == [(2, expected)] * len(commands), runs
    assert not (platform / "mlp.sqlite3").exists()  # refused before anything was opened


def test_an_unreachable_database_is_not_called_locked(tmp_path: Path) -> None:
    """Both answer ServiceUnavailableTemp on the wire; the command says which one it met."""
    url = "postgresql+psycopg://nobody@127.0.0.1:1/nodb"  # port 1: nothing listens
    done = subprocess.run(
        [mlp_script(), "account", "list", "--database-url", url],
        env=clean_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    assert "cannot be reached" in done.stderr and "locked" not in done.stderr, done.stderr
    assert "127.0.0.1" in done.stderr

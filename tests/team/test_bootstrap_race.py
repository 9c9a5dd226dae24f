"""The administrator account made by whichever comes first on a new PostgreSQL platform: ``mlp serve``
starting, or ``mlp account add`` (which makes it too since it may be the first command on a folder)."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
import psycopg
from cli._support import run_mlp

from mlp_server.store import Store
from mlp_testing import clean_env, free_port, mlp_script, stop_process
from pg_testing import PgCluster

WAIT = 60.0


def _waiting_on_accounts(cluster: PgCluster, database: str) -> int:
    """How many backends wait for a lock on the accounts table."""
    with psycopg.connect(cluster.dsn(database), autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'accounts'::regclass"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_account_add_and_a_starting_serve_both_making_the_administrator(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    """Both find no account and both make the administrator account at once: neither fails (on c19de64 +
    s12-docs the second insert of the account failed on its primary key, ending the command or the
    server's start with a traceback), and the keys credentials.json holds are the administrator's."""
    url = pg_cluster.database("boot")
    database = url.rsplit("/", 1)[1]
    Store(url).close()  # the schema, as `mlp db upgrade` makes it
    data_dir = tmp_path / "platform"
    data_dir.mkdir()
    env = clean_env(tmp_path / "home", MLP_DATABASE_URL=url, MLP_PERF_WORKERS="0")
    (tmp_path / "home").mkdir()
    port = free_port()
    serve_argv = [mlp_script(), "serve", "--port", str(port), "--data-dir", str(data_dir),
                  "--perf-workers", "0", "--log-level", "warning"]  # fmt: skip
    add_argv = [mlp_script(), "account", "add", "--account-id", "2100000077", "--data-dir", str(data_dir)]
    # Reads of the table go on, writes wait: both see no account, then both insert the administrator.
    with psycopg.connect(pg_cluster.dsn(database)) as blocker:
        blocker.execute("LOCK TABLE accounts IN EXCLUSIVE MODE")
        serve_log = (tmp_path / "serve.log").open("wb")
        serve = subprocess.Popen(serve_argv, env=env, stdout=serve_log, stderr=subprocess.STDOUT)
        add = subprocess.Popen(add_argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + WAIT
            while _waiting_on_accounts(pg_cluster, database) < 2:
                assert serve.poll() is None and add.poll() is None, (tmp_path / "serve.log").read_text()
                assert time.monotonic() < deadline, "the two did not both come to insert the account"
                time.sleep(0.05)
            blocker.commit()  # lets both go
            out, err = add.communicate(timeout=WAIT)
            assert add.returncode == 0, (out, err)
            deadline = time.monotonic() + WAIT
            while True:
                assert serve.poll() is None, (tmp_path / "serve.log").read_text()
                try:
                    answer = httpx.get(f"http://127.0.0.1:{port}/", timeout=1.0, trust_env=False)
                    if answer.status_code == 405:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
                time.sleep(0.05)
            # The administrator's keys in credentials.json are ones the platform knows, as its admin's.
            admin = json.loads((data_dir / "credentials.json").read_text(encoding="utf-8"))
            store = Store(url)
            try:
                key = store.lookup_access_key(admin["ak"])
                accounts = [(a.account_id, a.is_admin) for a in store.list_accounts()]
            finally:
                store.close()
            assert key is not None and key.sk == admin["sk"] and key.is_admin, admin
            assert accounts == [(2100000001, True), (2100000077, False)]
        finally:
            if add.poll() is None:
                stop_process(add, 10)
            stop_process(serve, 10)
            serve_log.close()


def test_account_add_on_a_new_database_keeps_the_folders_administrator_keys(
    tmp_path: Path, pg_cluster: PgCluster
) -> None:
    """``mlp account add --database-url PG`` on a folder whose embedded platform (SQLite) already has an
    administrator: the new database's administrator is made with the keys credentials.json holds,
    not new ones written over them (which locked the folder's own platform out: its embedded client
    signs with credentials.json, whose keys its database then did not know)."""
    env = clean_env(tmp_path / "home", VOLC_CONFIG_FILE=str(tmp_path / "no-config"), MLP_PERF_WORKERS="0")
    (tmp_path / "home").mkdir()
    data_dir = tmp_path / "platform"
    run_mlp(["--data-dir", str(data_dir), "models", "list"], env).ok()  # the folder's own platform
    keys = json.loads((data_dir / "credentials.json").read_text(encoding="utf-8"))
    url = pg_cluster.database("keep")
    add = ["account", "add", "--account-id", "2100000078", "--data-dir", str(data_dir), "--database-url", url]
    run_mlp(add, env).ok()
    # The folder's platform still answers its embedded client.
    run_mlp(["--data-dir", str(data_dir), "models", "list"], env).ok()
    assert json.loads((data_dir / "credentials.json").read_text(encoding="utf-8"))["ak"] == keys["ak"]
    # And the new database's administrator has those keys too.
    store = Store(url)
    try:
        key = store.lookup_access_key(keys["ak"])
    finally:
        store.close()
    assert key is not None and key.sk == keys["sk"] and key.is_admin and key.account_id == 2100000001

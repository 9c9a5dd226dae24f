"""A throwaway PostgreSQL cluster for tests (importable as ``pg_testing``; the session fixture
``pg_cluster`` lives in ``tests/conftest.py``).

The server programs come from ``pg_config --bindir`` (PostgreSQL 15 is installed on the project's
machines, not running). ``initdb`` refuses to run as root, and CI runs as root: the cluster's folder is
then given to the ``postgres`` user and the programs run as that user. The cluster listens on a free
loopback port and a unix socket inside its own folder (never the system's /var/run/postgresql), trusts
loopback connections, and is stopped and removed by :meth:`PgCluster.stop`.

Its default collation is ICU's ``en-US`` (when this PostgreSQL has ICU), as on a typical team server:
case- and accent-aware sorting, unlike SQLite's byte order, so tests see what the store must not leave
to the database's locale.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import psycopg

from mlp_testing import free_port

SERVICE_USER = "postgres"
STARTUP_TIMEOUT = 60.0
_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _bindir() -> Path:
    pg_config = shutil.which("pg_config")
    if pg_config is None:
        raise RuntimeError(
            "PostgreSQL's server is needed for these tests: pg_config is not on PATH "
            "(Debian: apt-get install postgresql-15)"
        )
    out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


class PgCluster:
    """``initdb`` + ``pg_ctl start`` in a temp folder; :meth:`database` makes one database per caller."""

    ATTEMPTS = 3  # a port found free may be taken by someone else before the server binds it

    def __init__(self) -> None:
        self.bindir = _bindir()
        # Not under pytest's tmp folders: those are 0700 root, and the server runs as postgres.
        self.root = Path(tempfile.mkdtemp(prefix="mlp-pg-"))
        self.data = self.root / "data"
        self.socket_dir = self.root / "sock"
        self.port = 0
        self._as_service_user = os.geteuid() == 0
        self._started = False

    # ---- lifecycle ------------------------------------------------------------------------------

    def start(self) -> Self:
        try:
            self.socket_dir.mkdir()
            if self._as_service_user:
                entry = pwd.getpwnam(SERVICE_USER)
                for path in (self.root, self.socket_dir):
                    os.chown(path, entry.pw_uid, entry.pw_gid)
            self._initdb()
            for _ in range(self.ATTEMPTS):
                self.port = free_port()
                if self._pg_ctl_start():
                    self._started = True
                    return self
            raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")
        except BaseException:
            self.stop()
            raise

    def _run(self, program: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        argv = [str(self.bindir / program), *args]
        if self._as_service_user:
            argv = ["runuser", "-u", SERVICE_USER, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, check=check, cwd=self.root)

    def _initdb(self) -> None:
        base = ["-D", str(self.data), "-U", SERVICE_USER, "--auth=trust", "--encoding=UTF8", "--no-sync"]
        done = self._run("initdb", *base, "--locale-provider=icu", "--icu-locale=en-US", "--locale=C.UTF-8",
                         check=False)  # fmt: skip
        if done.returncode != 0:  # a build without ICU
            shutil.rmtree(self.data, ignore_errors=True)
            self._run("initdb", *base, "--locale=C.UTF-8")

    def _pg_ctl_start(self) -> bool:
        options = (
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        done = self._run("pg_ctl", "start", "-D", str(self.data), "-l", str(self.root / "server.log"),
                         "-w", "-t", str(int(STARTUP_TIMEOUT)), "-o", options, check=False)  # fmt: skip
        return done.returncode == 0

    def log(self) -> str:
        path = self.root / "server.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._started:
            self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", check=False)
            self._started = False
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- databases ------------------------------------------------------------------------------

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SERVICE_USER} dbname={database}"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of ``database`` (psycopg 3), as ``MLP_DATABASE_URL`` takes it."""
        return f"postgresql+psycopg://{SERVICE_USER}@127.0.0.1:{self.port}/{database}"

    def database(self, prefix: str = "t") -> str:
        """A new empty database with a unique name; returns its URL."""
        name = f"{prefix}_{secrets.token_hex(6)}".lower()
        if not _NAME.match(name):
            raise ValueError(f"not a database name: {name!r}")
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def empty_tables(self, url: str, keep: tuple[str, ...] = ("alembic_version",)) -> None:
        """Delete every row of every table of the database at ``url`` (schema and ``keep`` stay): a test
        reusing one database is as fast as on SQLite, where a fresh database costs a CREATE DATABASE."""
        database = url.rsplit("/", 1)[1]
        with psycopg.connect(self.dsn(database), autocommit=True) as conn:
            tables = [
                name
                for (name,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                if name not in keep
            ]
            if tables:
                names = ", ".join(f'"{name}"' for name in tables)
                conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")

    @contextmanager
    def down(self) -> Iterator[None]:
        """The server stopped (``-m fast``: every session ended, as a restart or failover does) for the
        block, then started again on the same port and data, ready when the block has ended."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w")
        try:
            yield
        finally:
            if not self._pg_ctl_start():
                raise RuntimeError(f"PostgreSQL did not start again:\n{self.log()}")
            self.wait_ready()

    def wait_ready(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.dsn(), connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_server.store import Store, sqlite_url
from pg_testing import PgCluster

from .helpers import FakeClock

# Every store test runs on both databases; a test about one of them says so with
# ``@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)``.
BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(scope="session")
def pg_store_url(pg_cluster: PgCluster) -> str:
    """One PostgreSQL database for the store tests, emptied before each test."""
    return pg_cluster.database("store")


def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return sqlite_url(tmp_path / "db.sqlite")
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    url: str = request.getfixturevalue("pg_store_url")
    cluster.empty_tables(url)
    return url


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return database_url(request.param, tmp_path, request)


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[Store]:
    store = Store(db_url, clock=clock)
    yield store
    store.close()

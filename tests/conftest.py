"""Fixtures every suite may use: a throwaway PostgreSQL cluster (see ``pg_testing``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pg_testing import PgCluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL 15 cluster for the whole run; ``pg_cluster.database()`` makes a fresh database."""
    with PgCluster() as cluster:
        yield cluster

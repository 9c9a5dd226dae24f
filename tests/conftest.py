"""Fixtures every suite may use: a throwaway PostgreSQL cluster (``pg_testing``) and an S3 store that
enforces IAM (``iam_s3``), each started once per run, on first use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from iam_s3 import IamS3
from pg_testing import PgCluster


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL 15 cluster for the whole run; ``pg_cluster.database()`` makes a fresh database."""
    with PgCluster() as cluster:
        yield cluster


@pytest.fixture(scope="session")
def iam_s3() -> Iterator[IamS3]:
    """moto's S3 + STS + IAM server with credential checks on, and the platform's user and role."""
    with IamS3() as server:
        yield server

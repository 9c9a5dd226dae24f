"""Team mode, for real: ``mlp serve`` on PostgreSQL (a throwaway cluster) with its objects in an S3
store that checks every credential (moto's server with IAM enforcement on, see ``iam_s3``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from iam_s3 import IamS3
from mlp_server.store import Store
from mlp_testing import Keys, MlpServe, clean_env, read_default_keys
from pg_testing import PgCluster


@dataclass
class Team:
    """One team platform: its data folder, database, environment and ``mlp serve`` processes."""

    data_dir: Path
    database_url: str
    env: dict[str, str]
    servers: list[MlpServe]

    @property
    def url(self) -> str:
        return self.servers[0].url

    def default_keys(self) -> Keys:
        return read_default_keys(self.data_dir)

    def add_account(self, account_id: int, *, admin: bool = False) -> Keys:
        """An account and its keys, written to the team's database (what ``mlp account add`` does, without
        a process start per account)."""
        store = Store(self.database_url)
        try:
            store.create_account(account_id, 1, f"account {account_id}", is_admin=admin, exist_ok=True)
            ak, sk = store.add_access_key(account_id, 1, is_admin=admin)
        finally:
            store.close()
        return Keys(ak, sk, account_id)


def start_team(root: Path, database_url: str, s3: IamS3, processes: int = 1, **extra: str) -> Team:
    env = clean_env(root / "home", MLP_DATABASE_URL=database_url, **s3.env(), **extra)
    data_dir = root / "platform"
    team = Team(data_dir, database_url, env, [])
    # One after the other: the first start creates the default account and writes its keys.
    for n in range(processes):
        team.servers.append(MlpServe(data_dir, env=env, log_path=root / f"serve-{n}.log").start())
    return team


@pytest.fixture(scope="session")
def team(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster, iam_s3: IamS3) -> Iterator[Team]:
    """Two ``mlp serve`` processes on one PostgreSQL database and one IAM-checking S3 store."""
    platform = start_team(tmp_path_factory.mktemp("team"), pg_cluster.database("team"), iam_s3, processes=2)
    try:
        yield platform
    finally:
        for server in platform.servers:
            server.stop()

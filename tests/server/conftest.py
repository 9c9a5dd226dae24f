"""Fixtures of the server tests: a local platform over real HTTP (uvicorn in a thread, or ``mlp serve``
in a subprocess) and signed clients for it. Plain helpers live in ``helpers.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from iam_s3 import REGION, ROLE_ARN, IamS3
from mlp_server.context import Platform
from mlp_server.platform import open_platform
from mlp_server.settings import S3Settings, ServerSettings
from mlp_testing import Keys, MlpServe, clean_env
from pg_testing import PgCluster

from .helpers import Api, LiveServer, MovableClock, add_account


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "platform"


@pytest.fixture
def server_clock() -> MovableClock:
    """The server's clock: real time plus an offset the test may move forward."""
    return MovableClock()


@pytest.fixture(scope="session")
def pg_server_url(pg_cluster: PgCluster) -> str:
    """One PostgreSQL database for the team-mode servers, emptied before each test."""
    return pg_cluster.database("server")


@pytest.fixture(params=["sqlite", "team"])
def platform_settings(request: pytest.FixtureRequest, data_dir: Path) -> ServerSettings:
    """SQLite + folder store, or team mode: PostgreSQL + the IAM-checking S3 store (scoped STS)."""
    if request.param == "sqlite":
        return ServerSettings(data_dir=data_dir)
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    url: str = request.getfixturevalue("pg_server_url")
    cluster.empty_tables(url)
    s3: IamS3 = request.getfixturevalue("iam_s3")
    store = S3Settings(s3.endpoint, s3.access_key, s3.secret_key, region=REGION, sts_role_arn=ROLE_ARN)
    return ServerSettings(data_dir=data_dir, database_url=url, s3=store)


@pytest.fixture
def server(
    data_dir: Path, server_clock: MovableClock, platform_settings: ServerSettings
) -> Iterator[LiveServer]:
    """A local platform served by uvicorn on 127.0.0.1 (free port), stopped at teardown."""
    with LiveServer(data_dir, clock=server_clock, settings=platform_settings) as live:
        yield live


@pytest.fixture
def admin(server: LiveServer) -> Iterator[Api]:
    """The default account 2100000001 (an administrator) with the keys bootstrap wrote."""
    with Api(server.url, server.default_keys()) as api:
        yield api


@pytest.fixture
def new_account(server: LiveServer) -> Iterator[Callable[..., Api]]:
    """``new_account(account_id, admin=False)``: create an account with fresh keys, return its client."""
    clients: list[Api] = []

    def make(account_id: int, *, admin: bool = False) -> Api:
        keys: Keys = add_account(server, account_id, admin=admin)
        api = Api(server.url, keys)
        clients.append(api)
        return api

    yield make
    for api in clients:
        api.close()


# --- the gateway under hostile input (test_gateway_*.py) ---

GATEWAY_READ_TIMEOUT = 0.5
SERVE_READ_TIMEOUT = 2  # the `served` platform's MLP_BODY_READ_TIMEOUT


@pytest.fixture
def gateway_server(tmp_path: Path) -> Iterator[LiveServer]:
    """A platform whose body read timeout is short, so that stalls show within a test."""
    with LiveServer(tmp_path / "gateway", body_read_timeout=GATEWAY_READ_TIMEOUT) as live:
        yield live


@pytest.fixture
def gateway_admin(gateway_server: LiveServer) -> Iterator[Api]:
    with Api(gateway_server.url, gateway_server.default_keys()) as api:
        yield api


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlpServe]:
    """``mlp serve`` in its own process, so that its memory can be read from /proc."""
    root = tmp_path_factory.mktemp("gateway-serve")
    env = clean_env(root, MLP_BODY_READ_TIMEOUT=str(SERVE_READ_TIMEOUT))
    with MlpServe(root / "platform", env=env) as serve:
        yield serve


# Team mode doubles a test's cost (PostgreSQL, S3 store, STS). test_security.py is mostly about the
# front door (signatures, tokens, envelopes), the same code whatever the storage: on team mode it runs
# the tests about tenants and their data only (the names below); the other server modules run whole.
TEAM_SUBSET: dict[str, tuple[str, ...]] = {
    "test_security.py": (
        "mlp_account_add",
        "another_account",
        "same_names",
        "path_in_another",
        "path_without_objects",
        "path_out_of_the_key_space",
        "upload_path_is_in_the_callers_bucket",
        "a_token_acts_as_its_target_account",
    ),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        names = TEAM_SUBSET.get(item.path.name)
        team = callspec is not None and callspec.params.get("platform_settings") == "team"
        # Tests that provoke SQLite's own failures (PRAGMA max_page_count, query_only, a held lock)
        # say so with this mark: they have no PostgreSQL variant.
        sqlite_only = item.get_closest_marker("sqlite_storage") is not None
        if team and (sqlite_only or (names is not None and not any(name in item.name for name in names))):
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


@pytest.fixture
def other(
    platform_settings: ServerSettings, server: LiveServer, server_clock: MovableClock
) -> Iterator[Platform]:
    """A second server on the same database and object store as ``server`` (another server, or ``mlp
    gc``), on its clock."""
    platform = open_platform(platform_settings, clock=server_clock)
    try:
        yield platform
    finally:
        platform.store.close()

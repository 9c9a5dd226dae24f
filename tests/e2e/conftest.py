"""Fixtures of the end-to-end tests: the documented API against two peers of the local platform.

- ``embedded``: no endpoint configured, the server's app in-process (its data in a tmp folder).
- ``http``: ``mlp serve`` in a subprocess on 127.0.0.1 (a free port), reached with the keys bootstrap wrote
  to its ``credentials.json``.

Every test that takes ``peer`` runs twice, with the sync API and with the async one (``api``), and so
do the ``s3_peer`` / ``any_peer`` tests on every peer but the two plain S3 ones (see ``_with_apis``):
``peer.model()`` and ``peer.inner()`` then build ``AsyncModel`` and
``inner_model.AsyncModel``, driven on one event loop in a helper thread (``helpers.Synced``).

Both keep objects in the folder store. ``s3_peer`` is the same pair with the platform's objects in an
S3-compatible store (a moto server on loopback), plus ``team``: ``mlp serve`` on PostgreSQL (a throwaway
cluster) with an S3 store that enforces IAM, so that clients only get anywhere with the scoped
credentials GetSTSToken hands out. Peers live for the session; tests use unique names.
Every test runs with the Volcengine settings of the environment removed and HOME in a tmp folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from iam_s3 import IamS3
from mlp_testing import MlpServe, clean_env, read_default_keys
from pg_testing import PgCluster
from volcengine_ml_platform.embedded import embedded_app

from .helpers import Api, EventLoopThread, Peer

S3_ENV = {"MLP_S3_ACCESS_KEY": "testing", "MLP_S3_SECRET_KEY": "testing", "MLP_S3_REGION": "us-east-1"}


def _strip_settings(mp: pytest.MonkeyPatch, home: Path) -> None:
    for name in list(os.environ):
        if name.startswith(("VOLC_", "VOLCENGINE_", "MLP_")) or name == "ML_PLATFORM_HOST":
            mp.delenv(name)
    mp.setenv("HOME", str(home))
    mp.setenv("VOLC_CONFIG_FILE", str(home / "no-such-config"))


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No VOLC_*/VOLCENGINE_*/MLP_* setting leaks in; config file and default data dir are in tmp."""
    home = tmp_path / "home"
    home.mkdir()
    _strip_settings(monkeypatch, home)
    monkeypatch.setenv("VOLC_ML_PLATFORM_DATA_DIR", str(tmp_path / "default-platform"))
    return home


def _embedded_peer(name: str, data_dir: Path, home: Path, **env: str) -> Peer:
    # The embedded platform is opened once per data folder and process; open it here, with exactly
    # the settings wanted (ServerSettings.from_env reads MLP_* at that moment).
    with pytest.MonkeyPatch.context() as mp:
        _strip_settings(mp, home)
        # These peers drive perf tasks by hand; the perf suite opens its own with a worker.
        env = {"MLP_PERF_WORKERS": "0", **env}
        for key, value in env.items():
            mp.setenv(key, value)
        embedded_app(data_dir)
    return Peer(name, data_dir, None, read_default_keys(data_dir), s3_endpoint=env.get("MLP_S3_ENDPOINT"))


@pytest.fixture(scope="session")
def embedded_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("embedded")
    peer = _embedded_peer("embedded", root / "platform", root / "home")
    yield peer
    peer.close()


@pytest.fixture(scope="session")
def http_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("served")
    server = MlpServe(root / "platform", env=clean_env(root / "home")).start()
    try:
        peer = Peer("http", server.data_dir, server.url, read_default_keys(server.data_dir))
        yield peer
        peer.close()
    finally:
        server.stop()


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest) -> Api:
    """Which API the test's clients use: ``Model`` / ``inner_model.Model`` or their async twins."""
    value: Api = request.param
    return value


@pytest.fixture(scope="session", autouse=True)
def async_api_loop() -> Iterator[None]:
    yield
    if EventLoopThread._instance is not None:
        EventLoopThread._instance.stop()


@pytest.fixture(params=["embedded", "http"])
def peer(request: pytest.FixtureRequest, api: Api) -> Peer:
    fixture: Peer = request.getfixturevalue(f"{request.param}_peer")
    return fixture.using(api)


# ---- S3 ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


# The two S3 platforms share one moto server, and so the default account's bucket: every upload goes
# to a fresh millisecond prefix, and tests compare keys under their own prefixes only.


@pytest.fixture(scope="session")
def s3_embedded_peer(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("embedded-s3")
    peer = _embedded_peer(
        "embedded-s3", root / "platform", root / "home", MLP_S3_ENDPOINT=moto_endpoint, **S3_ENV
    )
    yield peer
    peer.close()


@pytest.fixture(scope="session")
def s3_http_peer(tmp_path_factory: pytest.TempPathFactory, moto_endpoint: str) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("served-s3")
    env = clean_env(root / "home", MLP_S3_ENDPOINT=moto_endpoint, **S3_ENV)
    server = MlpServe(root / "platform", env=env).start()
    try:
        peer = Peer("http-s3", server.data_dir, server.url, read_default_keys(server.data_dir), moto_endpoint)
        yield peer
        peer.close()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def team_peer(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster, iam_s3: IamS3
) -> Iterator[Peer]:
    root = tmp_path_factory.mktemp("team")
    database_url = pg_cluster.database("e2e")
    env = clean_env(root / "home", MLP_DATABASE_URL=database_url, **iam_s3.env())
    server = MlpServe(root / "platform", env=env).start()
    try:
        keys = read_default_keys(server.data_dir)
        peer = Peer("team", server.data_dir, server.url, keys, iam_s3.endpoint, database_url,
                    (iam_s3.access_key, iam_s3.secret_key))  # fmt: skip
        yield peer
        peer.close()
    finally:
        server.stop()


def _peer(request: pytest.FixtureRequest, name: str) -> Peer:
    fixture: Peer = request.getfixturevalue(f"{name}_peer")
    if name == "team":
        # The client signs S3 requests for the store's region, not the platform's (README, team mode).
        request.getfixturevalue("monkeypatch").setenv("VOLC_TOS_REGION", "us-east-1")
    return fixture


def _with_apis(peers: tuple[str, ...]) -> list[tuple[str, Api]]:
    """Every peer with the sync API; the async one where its code differs: the ASGI (embedded) and
    HTTP transports, and team mode's S3 store with scoped credentials. The async path is the same
    plans and session on the two other S3 peers, each of which costs 20-30 s a test."""
    plain_s3 = ("s3_embedded", "s3_http")
    return [(p, a) for p in peers for a in ("sync", "async") if a == "sync" or p not in plain_s3]


S3_PEERS = _with_apis(("s3_embedded", "s3_http", "team"))
ANY_PEERS = _with_apis(("embedded", "http", "s3_embedded", "s3_http", "team"))


@pytest.fixture(params=S3_PEERS, ids=[f"{p}-{a}" for p, a in S3_PEERS])
def s3_peer(request: pytest.FixtureRequest) -> Peer:
    name, api = request.param
    return _peer(request, name).using(api)


@pytest.fixture(params=ANY_PEERS, ids=[f"{p}-{a}" for p, a in ANY_PEERS])
def any_peer(request: pytest.FixtureRequest) -> Peer:
    """All five: folder store and S3 store, embedded and served, and team mode (PostgreSQL + S3)."""
    name, api = request.param
    return _peer(request, name).using(api)

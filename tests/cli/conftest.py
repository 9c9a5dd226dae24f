"""Fixtures of the ``mlp`` command-line tests: the real entry point as a subprocess, against two peers.

- ``embedded``: no endpoint configured; each ``mlp`` process opens the platform in-process, its data
  in a session tmp folder (``VOLC_ML_PLATFORM_DATA_DIR``).
- ``served``: ``mlp serve --host 127.0.0.1 --port <free> --data-dir <tmp>`` started with the console
  script, reached through ``VOLC_ML_PLATFORM_ENDPOINT`` with the admin keys bootstrap wrote to its
  ``credentials.json``.

Every subprocess gets a clean environment (no VOLC_*/VOLCENGINE_*/MLP_*/ML_PLATFORM_HOST, HOME and the
config file in tmp). Peers live for the session, so tests use unique names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from mlp_testing import MlpServe

from ._support import Peer, clean_env


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: takes minutes (fresh clone and pip install); still runs by default"
    )


@pytest.fixture(scope="session")
def embedded_peer(tmp_path_factory: pytest.TempPathFactory) -> Peer:
    root = tmp_path_factory.mktemp("cli-embedded")
    data_dir = root / "platform"
    # No perf worker: these tests drive perf tasks by hand (test_perf_cli.py runs real ones).
    env = clean_env(root, VOLC_ML_PLATFORM_DATA_DIR=str(data_dir), MLP_PERF_WORKERS="0")
    peer = Peer("embedded", env, data_dir)
    # The first process bootstraps the platform (schema, admin account, keys); do it once, alone.
    peer.run("models", "list").ok()
    assert (data_dir / "credentials.json").is_file()
    return peer


@pytest.fixture(scope="session")
def mlp_serve(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlpServe]:
    root = tmp_path_factory.mktemp("cli-served")
    server = MlpServe(root / "platform", env=clean_env(root), log_path=root / "mlp-serve.log").start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def served_peer(mlp_serve: MlpServe) -> Peer:
    creds = json.loads((mlp_serve.data_dir / "credentials.json").read_text(encoding="utf-8"))
    env = {
        **mlp_serve.env,
        "VOLC_ML_PLATFORM_ENDPOINT": mlp_serve.url,
        "VOLC_ACCESSKEY": creds["ak"],
        "VOLC_SECRETKEY": creds["sk"],
    }
    return Peer("served", env, mlp_serve.data_dir, mlp_serve.url)


@pytest.fixture(scope="session", params=["embedded", "served"])
def peer(request: pytest.FixtureRequest) -> Peer:
    fixture: Peer = request.getfixturevalue(f"{request.param}_peer")
    return fixture

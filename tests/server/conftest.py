"""Fixtures of the server tests: a local platform over real HTTP (uvicorn in a thread, or ``mlp serve``
in a subprocess) and signed clients for it. Plain helpers live in ``helpers.py``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlp_testing import Keys, MlpServe, clean_env

from .helpers import Api, LiveServer, MovableClock, add_account


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "platform"


@pytest.fixture
def server_clock() -> MovableClock:
    """The server's clock: real time plus an offset the test may move forward."""
    return MovableClock()


@pytest.fixture
def server(data_dir: Path, server_clock: MovableClock) -> Iterator[LiveServer]:
    """A local platform served by uvicorn on 127.0.0.1 (free port), stopped at teardown."""
    with LiveServer(data_dir, clock=server_clock) as live:
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
    with MlpServe(root / "platform", env=clean_env(root, MLP_BODY_READ_TIMEOUT="2")) as serve:
        yield serve

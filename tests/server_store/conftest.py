from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_server.store import Store, sqlite_url

from .helpers import FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return sqlite_url(tmp_path / "db.sqlite")


@pytest.fixture
def store(db_url: str, clock: FakeClock) -> Iterator[Store]:
    store = Store(db_url, clock=clock)
    yield store
    store.close()

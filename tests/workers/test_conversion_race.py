"""Two runners of one conversion task (a worker that lost its lease while its runner went on, and the
next worker's) register one converted version between them, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlp_server.platform import open_platform
from mlp_server.settings import ServerSettings
from mlp_server.workers.runner import register_converted
from pg_testing import PgCluster

from . import models
from .conftest import claimed_conversion

ACCOUNT = 2100000050


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_racing_runners_of_one_task_register_one_version(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    database_url = None
    if backend == "postgresql":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        database_url = cluster.database("conv")
    platforms = [
        open_platform(ServerSettings(tmp_path / "platform", database_url=database_url)) for _ in "ab"
    ]
    store = platforms[0].store
    try:
        folder = models.mlp(tmp_path / "mlp")
        model_id, spec, version = claimed_conversion(store, tmp_path / "platform", database_url)
        task = spec.task
        start = threading.Barrier(2)

        def run(index: int) -> str:
            start.wait()
            return register_converted(platforms[index], spec, version, folder)

        with ThreadPoolExecutor(2) as pool:
            registered = list(pool.map(run, range(2)))
        versions = store.list_model_versions(ACCOUNT, {"ModelID": model_id})["List"]
        converted = [v["ModelVersionID"] for v in versions if v.get("SourceId") == task.task_id]
        assert registered[0] == registered[1] and converted == [registered[0]], (registered, converted)
        # A later rerun of the task reuses that version too.
        assert register_converted(platforms[1], spec, version, folder) == registered[0]
    finally:
        for platform in platforms:
            platform.store.close()


def test_the_conversion_lock_is_per_task_and_leaves_no_file(tmp_path: Path) -> None:
    """One task's runner holding its lock (a slow upload) does not hold up another task's; one task's
    second runner waits; the lock's file goes with its holder (SQLite: flock of a file per task)."""
    from mlp_server.store import Store

    store = Store(f"sqlite:///{tmp_path}/mlp.sqlite3")
    entered = {"pf-b": threading.Event(), "pf-a": threading.Event()}

    def enter(task_id: str) -> None:
        with store.conversion_lock(task_id):
            entered[task_id].set()

    try:
        with store.conversion_lock("pf-a"):
            other, same = (
                threading.Thread(target=enter, args=("pf-b",)),
                threading.Thread(target=enter, args=("pf-a",)),
            )
            other.start()
            same.start()
            assert entered["pf-b"].wait(10)  # another task: not held up
            assert not entered["pf-a"].wait(0.3)  # the same task: waits
        same.join(10)
        other.join(10)
        assert entered["pf-a"].is_set()
        assert list((tmp_path / "mlp.sqlite3.conversions.d").iterdir()) == []
    finally:
        store.close()

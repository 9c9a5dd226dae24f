"""A moment without the database or the object store is not the service's failure: a Running service
keeps its replicas through a dropped database session, and a store error while a server fetches a
version it has not cached counts as one failure of three (README: "three failures in a row")."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from server_store.helpers import ACCOUNT, register, service_body
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from mlp_server.serving import supervisor as supervisor_module
from mlp_server.serving.endpoints import Endpoints
from mlp_server.serving.lease import SERVING_LOCK_KEY
from mlp_server.serving.supervisor import ServingSupervisor
from mlp_server.store import Store
from mlp_server.store.engine import sqlite_url
from mlp_server.store.services import FAILED, RUNNING
from pg_testing import PgCluster
from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer.folder import FolderStore

from .conftest import EXAMPLE
from .helpers import replica_pids, wait_until


def end_sessions_but_the_lock(url: str) -> int:
    """End every session of the database (as a failover or idle_session_timeout does) but the serving
    lock's, so that only the pooled connections are lost; returns how many ended."""
    admin = create_engine(url)
    try:
        with admin.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    " AND pid NOT IN (SELECT pid FROM pg_locks"
                    " WHERE locktype = 'advisory' AND objid = :key AND granted)"
                ),
                {"key": SERVING_LOCK_KEY},
            ).fetchall()
            conn.commit()
    finally:
        admin.dispose()
    return len(ended)


def test_a_dropped_database_session_does_not_fail_a_running_service(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    url = pg_cluster.database("pool_drop")
    objects = FolderStore(tmp_path / "objects")
    objects.put_file("bucket", "m/iris/model.onnx", EXAMPLE / "model.onnx")
    store = Store(url)
    model_id, version = register(store, Path="tos://bucket/m/iris/")
    body = service_body(model_id, version, name="pool-drop-svc", FlavorID="ml.c1i.large")
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    folder = tmp_path / "server-0"
    sup = ServingSupervisor(store, objects, folder, endpoints=Endpoints(host="server-0.test"))

    def record() -> dict[str, Any]:
        return store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]

    try:
        assert sup.ensure_started() is True
        wait_until(lambda: record()["Status"] == RUNNING, 60, "serving")
        pids = replica_pids("pool-drop-svc", folder)
        assert end_sessions_but_the_lock(url) >= 1
        # The runtimes look every 0.1 s and the supervisor every 0.5 s: each meets a dropped session.
        time.sleep(3)
        rec = record()
        assert sup.serving, "the lock was kept: this server still serves"
        assert rec["Status"] == RUNNING, rec
        assert "SQL" not in rec["StatusMessage"] and "psycopg" not in rec["StatusMessage"], rec
        assert replica_pids("pool-drop-svc", folder) == pids, "the replicas were stopped or restarted"
    finally:
        sup.close()
        store.close()


class FlakyStore(FolderStore):
    """A folder store whose next ``failures`` listings fail as an unreachable S3 store's do."""

    failures = 0

    def list_objects(self, bucket: str, prefix: str, *args: Any, **kwargs: Any) -> Any:
        if self.failures > 0:
            self.failures -= 1
            raise TransferError(f"listing of tos://{bucket}/{prefix} failed: connection refused")
        return super().list_objects(bucket, prefix, *args, **kwargs)


def serve_uncached(pg_cluster: PgCluster, tmp_path: Path, failures: int) -> dict[str, Any]:
    """A service of a version this server has not cached, the store failing ``failures`` times: its
    record once it is Running or Failed."""
    objects = FlakyStore(tmp_path / "objects")
    objects.put_file("bucket", "m/iris/model.onnx", EXAMPLE / "model.onnx")
    store = Store(pg_cluster.database("store_blip"))
    model_id, version = register(store, Path="tos://bucket/m/iris/")
    body = service_body(model_id, version, name=f"blip-{failures}", FlavorID="ml.c1i.large")
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    objects.failures = failures
    sup = ServingSupervisor(store, objects, tmp_path / "server-0")

    def record() -> dict[str, Any]:
        return store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]

    try:
        assert sup.ensure_started() is True
        wait_until(lambda: record()["Status"] in (RUNNING, FAILED), 60, "Running or Failed")
        return record()
    finally:
        sup.close()
        store.close()


def test_one_object_store_error_is_one_failure_of_three(pg_cluster: PgCluster, tmp_path: Path) -> None:
    rec = serve_uncached(pg_cluster, tmp_path, failures=1)
    assert rec["Status"] == RUNNING, rec["StatusMessage"]


def test_three_object_store_errors_in_a_row_fail_the_service(pg_cluster: PgCluster, tmp_path: Path) -> None:
    rec = serve_uncached(pg_cluster, tmp_path, failures=3)
    assert rec["Status"] == FAILED
    message = rec["StatusMessage"]
    assert "connection refused" in message and "gave up after 3 failures in a row" in message, message


def test_a_database_outage_of_hours_keeps_the_replicas(tmp_path: Path, monkeypatch: Any) -> None:
    """Each failed tick doubles the wait up to a cap; the doubling must not overflow (2**1024 as a
    float) after ~85 minutes of outage at the 5 s cap, which stopped every replica. The cap is
    lowered so that 1,100 ticks run in seconds; the arithmetic is the same."""
    objects = FolderStore(tmp_path / "objects")
    objects.put_file("bucket", "m/iris/model.onnx", EXAMPLE / "model.onnx")
    store = Store(sqlite_url(tmp_path / "db.sqlite"))
    model_id, version = register(store, Path="tos://bucket/m/iris/")
    body = service_body(model_id, version, name="long-outage", FlavorID="ml.c1i.large")
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    folder = tmp_path / "server-0"
    sup = ServingSupervisor(store, objects, folder, endpoints=Endpoints(host="server-0.test"))
    try:
        assert sup.ensure_started() is True

        def status() -> str:
            return str(store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]["Status"])

        wait_until(lambda: status() == RUNNING, 60, "Running")
        pids = replica_pids("long-outage", folder)
        assert pids
        (runtime,) = sup._runtimes.values()

        def down(*args: Any, **kwargs: Any) -> Any:
            raise OperationalError("SELECT 1", {}, Exception("connection refused"))

        monkeypatch.setattr(supervisor_module, "STORE_RETRY_CAP", 0.0005)
        monkeypatch.setattr(store, "service_transition", down)
        monkeypatch.setattr(store, "serving_rows", down)
        wait_until(lambda: runtime.store_errors > 1100 or not runtime.alive(), 60, "1,100 failed ticks")
        assert runtime.alive(), "the runtime thread died during the outage"
        assert replica_pids("long-outage", folder) == pids, "the replicas were stopped"
    finally:
        monkeypatch.undo()
        sup.close()
        store.close()

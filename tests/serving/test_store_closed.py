"""A service that fails while its platform's store is closing: the failure is not recorded (the
store cannot take it) and nothing escapes the service's thread; the record stays for the next process."""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_store.helpers import ACCOUNT, register, service_body

from mlp_server.serving.supervisor import ServiceRuntime, ServingSupervisor
from mlp_server.store import Store
from mlp_server.store.group_commit import StoreClosedError
from mlp_server.store.services import PENDING, RUNNING
from pg_testing import PgCluster
from volcengine_ml_platform.transfer.folder import FolderStore

from .conftest import EXAMPLE
from .helpers import replica_pids, wait_until


@pytest.fixture
def escaped(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[BaseException]]:
    """Exceptions that end a thread (pytest would only warn about them)."""
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))  # type: ignore[arg-type]
    yield seen


@pytest.fixture(params=["sqlite", "sqlite-no-group-commit", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, bool | None]:
    """Where the store is, and its group commit (which alone raised StoreClosedError before)."""
    if request.param == "postgresql":
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        return cluster.database(f"closed_{uuid.uuid4().hex[:8]}"), None
    return f"sqlite:///{tmp_path / 'mlp.sqlite3'}", request.param == "sqlite"


def serve_iris(tmp_path: Path, name: str) -> tuple[Store, FolderStore, ServingSupervisor, str]:
    """A SQLite store whose service ``name`` of the iris model runs under a started supervisor: the
    store, the object store, the supervisor and the ServiceID."""
    objects = FolderStore(tmp_path / "objects")
    objects.put_file("bucket", "m/iris/model.onnx", EXAMPLE / "model.onnx")
    store = Store(f"sqlite:///{tmp_path / 'mlp.sqlite3'}")
    model_id, version = register(store, Path="tos://bucket/m/iris/")
    body = service_body(model_id, version, name=name, FlavorID="ml.c1i.large")
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    supervisor = ServingSupervisor(store, objects, tmp_path)
    assert supervisor.ensure_started()
    status = lambda: store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]["Status"]  # noqa: E731
    wait_until(lambda: status() == RUNNING, 60, "the service to run")
    assert replica_pids(name, tmp_path) != []
    return store, objects, supervisor, service_id


def test_a_failure_while_the_store_is_closed_leaves_the_record(
    tmp_path: Path,
    store_url: tuple[str, bool | None],
    escaped: list[BaseException],
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, group_commit = store_url
    objects = FolderStore(tmp_path / "objects")
    objects.put_bytes("bucket", "m/no-model/weights.bin", b"\0" * 64)  # a version with no .onnx file
    store = Store(url, group_commit=group_commit)
    model_id, version = register(store, Path="tos://bucket/m/no-model/")
    body = service_body(model_id, version, FlavorID="ml.c1i.large")
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    (row,) = store.serving_rows()
    supervisor = ServingSupervisor(store, objects, tmp_path)  # not started: the runtime is driven alone
    store.close()

    with caplog.at_level(logging.INFO, logger="mlp_server"):
        runtime = ServiceRuntime(supervisor, row)  # its thread finds no .onnx file and fails the service
        runtime.join(30)
    assert not runtime.alive()
    assert escaped == []
    assert any("not recorded as failed, the store is closed" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]

    reopened = Store(url)
    try:
        service = reopened.get_service(ACCOUNT, {"ServiceID": service_id})
    finally:
        reopened.close()
    deployment = service["ServiceDeployment"]
    assert (deployment["Status"], deployment["StatusMessage"]) == (PENDING, "")


def test_a_store_closed_under_a_running_service_stops_its_replicas(
    tmp_path: Path, escaped: list[BaseException]
) -> None:
    """The platform shut its store without closing serving first: the supervisor stops looking, the
    replicas stop, the lease is released (another supervisor takes over), and the record still reads
    Running (brought back by the next process)."""
    url = f"sqlite:///{tmp_path / 'mlp.sqlite3'}"
    store, objects, supervisor, service_id = serve_iris(tmp_path, "closed-svc")
    try:
        store.close()
        supervisor.poke()
        wait_until(lambda: not supervisor.serving, 30, "the supervisor to stop looking")
        wait_until(lambda: replica_pids("closed-svc", tmp_path) == [], 30, "the replicas to stop")
        assert supervisor.ensure_started() is False  # closed: it does not start again
        with pytest.raises(StoreClosedError):
            store.get_service(ACCOUNT, {"ServiceID": service_id})
    finally:
        supervisor.close()
        store.close()
    assert escaped == []
    reopened = Store(url)
    successor = ServingSupervisor(reopened, objects, tmp_path)
    try:
        kept = reopened.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]
        assert kept["Status"] == RUNNING
        assert successor.ensure_started() is True  # the lease was released
    finally:
        successor.close()
        reopened.close()


def test_a_runtime_that_outlives_its_supervisors_loop_stops_its_replicas_at_once(
    tmp_path: Path, escaped: list[BaseException]
) -> None:
    """A service's runtime still running when its supervisor's term ended (its join timed out, e.g.
    in a database call during an outage) and the proxies' loop stopped: it used to wait 60 s on that
    loop for each replica, then die with a TimeoutError, leaving its replicas running. It now stops
    them at once, and nothing escapes its thread."""
    store, _, supervisor, service_id = serve_iris(tmp_path, "orphan-svc")
    try:
        loop = supervisor._loop
        assert loop is not None
        loop.call_soon_threadsafe(loop.stop)  # the term's end, as _end_term stops it
        wait_until(lambda: not loop.is_running(), 10, "the proxies' loop to stop")
        runtime = supervisor._runtimes[service_id]
        runtime.update(None)
        runtime.join(20)
        assert not runtime.alive()
        wait_until(lambda: replica_pids("orphan-svc", tmp_path) == [], 20, "the replicas to stop")
    finally:
        supervisor.close()
        store.close()
    assert escaped == []

"""Team mode: several servers on one PostgreSQL database, each with its own data folder; exactly one
supervisor of them serves the services, and another takes over when it is gone."""

from __future__ import annotations

import ctypes
import logging
import os
import socket
import threading
import time
from pathlib import Path

import pytest
from server_store.helpers import ACCOUNT, register, service_body
from sqlalchemy import create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from mlp_server.handlers.services import as_seen
from mlp_server.platform import open_platform
from mlp_server.serving.db_lock import (
    CONNECT_TIMEOUT,
    LOCK_CHECK_SECONDS,
    LOCK_CHECK_TIMEOUT,
    LOCK_IDLE_SECONDS,
    TAKEOVER_GRACE_SECONDS,
    ServingLock,
)
from mlp_server.serving.endpoints import Endpoints
from mlp_server.serving.lease import SERVING_LOCK_KEY, services_served
from mlp_server.serving.supervisor import TAKEOVER_LOOK_SECONDS, ServingSupervisor
from mlp_server.settings import ServerSettings
from mlp_server.store import Store
from mlp_server.store.pg_sessions import KEEPALIVES
from mlp_server.store.services import RUNNING
from pg_testing import PgCluster
from tcp_proxy import TcpProxy
from volcengine_ml_platform.transfer.folder import FolderStore

from .conftest import EXAMPLE
from .helpers import replica_pids, wait_until


def test_one_supervisor_per_database_and_a_takeover(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.database("serving")
    stores = [Store(url), Store(url)]
    supervisors = [
        ServingSupervisor(store, FolderStore(tmp_path / f"objects-{n}"), tmp_path / f"server-{n}")
        for n, store in enumerate(stores)
    ]
    first, second = supervisors
    try:
        # What a reader on either server asks before it shows a service as served.
        assert not any(services_served(store, tmp_path / f"server-{n}") for n, store in enumerate(stores))
        assert first.ensure_started() is True
        # Its own data folder's file lock is free, but the database says another server serves.
        assert second.ensure_started() is False
        assert second.ensure_started() is False  # asked again at the next service action: still not
        # Served by a live server on another "machine" (another folder): never reported dead.
        assert services_served(stores[1], tmp_path / "server-1") is True
        first.close()
        assert services_served(stores[1], tmp_path / "server-1") is False  # its session is gone
        assert second.ensure_started() is True  # the owner is gone: this one takes over
        assert second.ensure_started() is True
        assert services_served(stores[0], tmp_path / "server-0") is True
    finally:
        for supervisor in supervisors:
            supervisor.close()
        for store in stores:
            store.close()


def test_a_reader_on_another_server_shows_what_the_owner_serves_until_it_is_gone(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """What GetService/ListServices show on a server that does not serve: the record as it is while
    another live server serves it; Pending with no endpoint once that server is gone."""
    url = pg_cluster.database("serving_truth")
    owner, reader = (
        open_platform(ServerSettings(data_dir=tmp_path / f"server-{n}", database_url=url)) for n in range(2)
    )

    def seen() -> dict[str, str]:
        item = {"ServiceDeployment": {"Status": "Running", "StatusMessage": "", "EndpointURL": "http://h:1"}}
        as_seen(reader, [item])
        return item["ServiceDeployment"]

    try:
        assert seen()["Status"] == "Pending"  # nobody serves yet
        assert owner.serving.ensure_started() is True
        assert seen() == {"Status": "Running", "StatusMessage": "", "EndpointURL": "http://h:1"}
        owner.serving.close()
        gone = seen()
        assert (gone["Status"], gone["EndpointURL"]) == ("Pending", ""), gone
        assert gone["StatusMessage"].startswith("no platform process is serving this service"), gone
        assert "mlp serve --database-url" in gone["StatusMessage"], gone
    finally:
        for platform in (owner, reader):
            platform.store.close()


def end_the_lock_session(url: str) -> None:
    """What a database restart or failover, idle_session_timeout, a network failure or an operator's
    pg_terminate_backend do to the owner's lock: its session ends, and the lock with it."""
    admin = create_engine(url)
    try:
        with admin.connect() as conn:
            ended = conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND objid = :key AND granted "
                    # Advisory locks are per database; the cluster serves other tests' databases too.
                    "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"key": SERVING_LOCK_KEY},
            ).fetchall()
            conn.commit()
    finally:
        admin.dispose()
    assert ended == [(True,)]


def allow_connections(url: str, allowed: bool) -> None:
    """Whether the database takes new sessions (set from another database: not its own)."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            flag = "true" if allowed else "false"
            conn.execute(text(f'ALTER DATABASE "{target.database}" ALLOW_CONNECTIONS {flag}'))
    finally:
        admin.dispose()


def test_an_owner_that_loses_its_lock_stops_at_once_and_takes_over_again_later(
    pg_cluster: PgCluster, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The owner's lock session ends while it serves a service: it stops its replicas within the
    check bound and writes nothing more; another server that takes the lock at once (a service
    action) starts replicas only after that; once that server is gone, the first takes over again."""
    url = pg_cluster.database("lock_lost")
    objects = FolderStore(tmp_path / "objects")  # one store of the team
    objects.put_file("bucket", "m/iris/model.onnx", EXAMPLE / "model.onnx")
    stores = [Store(url), Store(url)]
    model_id, version = register(stores[0], Path="tos://bucket/m/iris/")
    body = service_body(model_id, version, name="team-svc", FlavorID="ml.c1i.large")
    service_id = stores[0].create_service(ACCOUNT, body)["ServiceID"]
    folders = [tmp_path / "server-0", tmp_path / "server-1"]
    # Each server's endpoints name its own machine (MLP_SERVING_HOST), as on a team of several.
    first, second = (
        ServingSupervisor(store, objects, folder, endpoints=Endpoints(host=f"server-{n}.test"))
        for n, (store, folder) in enumerate(zip(stores, folders, strict=True))
    )

    def record() -> dict[str, str]:
        deployment: dict[str, str] = stores[1].get_service(ACCOUNT, {"ServiceID": service_id})[
            "ServiceDeployment"
        ]
        return deployment

    # Who runs replicas, sampled every 20 ms from now on.
    both: list[tuple[list[int], list[int]]] = []
    watching = threading.Event()

    def watch() -> None:
        while not watching.is_set():
            pids = [replica_pids("team-svc", folder) for folder in folders]
            if all(pids):
                both.append((pids[0], pids[1]))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        assert first.ensure_started() is True
        wait_until(lambda: record()["Status"] == RUNNING, 60, "the first server to serve")
        assert record()["EndpointURL"].startswith("http://server-0.test:")
        assert replica_pids("team-svc", folders[0]) and not replica_pids("team-svc", folders[1])

        end_the_lock_session(url)
        lost = time.monotonic()
        assert second.ensure_started() is True  # the lock is free at once: a service action takes it
        wait_until(lambda: not first.serving, 10, "the first server to notice")
        wait_until(
            lambda: not replica_pids("team-svc", folders[0]), 10, "the first server's replicas to stop"
        )
        stopped_after = time.monotonic() - lost
        assert stopped_after < TAKEOVER_GRACE_SECONDS, stopped_after  # before the new owner may start

        wait_until(lambda: replica_pids("team-svc", folders[1]) != [], 60, "the second server's replicas")
        wait_until(lambda: record()["Status"] == RUNNING, 60, "the second server to serve")
        assert record()["EndpointURL"].startswith("http://server-1.test:")  # not overwritten by the first
        assert both == [], f"both servers ran replicas at once: {both[:3]}"

        # The database refuses new sessions for a while (as while it restarts): the first, asking for
        # the lock every few seconds since it lost it, fails to ask, and goes on asking.
        allow_connections(url, False)
        try:
            with caplog.at_level(logging.WARNING, logger="mlp_server.serving"):
                wait_until(
                    lambda: any(
                        "cannot ask for the services' lock now" in r.getMessage() for r in caplog.records
                    ),
                    TAKEOVER_LOOK_SECONDS + 5,
                    "the first server to fail to ask",
                )
        finally:
            allow_connections(url, True)
        second.close()  # the new owner ends: the first takes over
        wait_until(lambda: first.serving, TAKEOVER_LOOK_SECONDS + 5, "the first server to take over again")
        wait_until(lambda: record()["Status"] == RUNNING, 60, "the first server to serve again")
        assert record()["EndpointURL"].startswith("http://server-0.test:")
        assert replica_pids("team-svc", folders[0]) and not replica_pids("team-svc", folders[1])
        assert LOCK_CHECK_SECONDS + LOCK_CHECK_TIMEOUT < TAKEOVER_GRACE_SECONDS < TAKEOVER_LOOK_SECONDS
    finally:
        watching.set()
        watcher.join(5)
        first.close()
        second.close()
        for store in stores:
            store.close()
    assert not replica_pids("team-svc", folders[0]) and not replica_pids("team-svc", folders[1])


def test_the_lock_connection_is_checked_and_kept_alive(pg_cluster: PgCluster) -> None:
    url = pg_cluster.database("lock_checks")
    store = Store(url)
    try:
        lock = ServingLock.try_take(store.engine.url)
        assert lock is not None
        assert ServingLock.try_take(store.engine.url) is None  # one session holds it
        assert lock.held() is True
        # TCP keepalives, so that the kernel too notices a dead peer on the idle connection.
        dsn = lock._conn.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]
        assert all(f"{name}={value}" in dsn for name, value in KEEPALIVES.items()), dsn
        # The database's side of the session: it ends the session (and the lock) once no check has
        # come for LOCK_IDLE_SECONDS, and on a dead network path, so that a cut-off owner's backend
        # never keeps the lock for hours. SHOW in the lock's own session (nothing else uses it now).
        shown = {
            name: lock._conn.exec_driver_sql(f"SHOW {name}").scalar()
            for name in (
                "idle_session_timeout",
                "idle_in_transaction_session_timeout",
                "tcp_keepalives_idle",
                "tcp_keepalives_interval",
                "tcp_keepalives_count",
                "tcp_user_timeout",
            )
        }
        lock._conn.commit()
        assert shown == {
            "idle_session_timeout": "5s",
            "idle_in_transaction_session_timeout": "5s",
            "tcp_keepalives_idle": "5",
            "tcp_keepalives_interval": "1",
            "tcp_keepalives_count": "3",
            "tcp_user_timeout": "3000",  # ms
        }, shown
        # A working owner never leaves it idle that long: it checks every second, 1.5 s at most each.
        assert LOCK_CHECK_SECONDS + LOCK_CHECK_TIMEOUT < LOCK_IDLE_SECONDS
        # Named in pg_stat_activity by the server that holds it.
        with store.engine.connect() as conn:
            names = conn.execute(
                text(
                    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND l.objid = :key "
                    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                ),
                {"key": SERVING_LOCK_KEY},
            ).fetchall()
        assert names == [(f"mlp serving lock {socket.gethostname()}:{os.getpid()}"[:63],)], names
        end_the_lock_session(url)
        started = time.monotonic()
        assert lock.held() is False
        assert time.monotonic() - started < LOCK_CHECK_TIMEOUT + 0.5
        lock.release()  # on a dead session: no error, and the lock is free for the next owner
        again = ServingLock.try_take(store.engine.url)
        assert again is not None
        again.release()
        assert services_served(store, Path("/nonexistent")) is False
    finally:
        store.close()


def test_an_owner_cut_off_from_the_database_loses_the_lock_and_another_server_takes_over(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """A network partition between the owner and PostgreSQL (a proxy that stops forwarding and
    closes nothing: no FIN or RST reaches either side). The owner's checks go unanswered, so it stops
    its replicas; the database ends the lock's idle session after LOCK_IDLE_SECONDS, so another
    server takes the lock at its next look and serves. Before, the backend kept the lock until the
    database's own TCP keepalive noticed (hours by default; never, behind a proxy that still
    acknowledges), and no other server could take over."""
    url = pg_cluster.database("lock_partition")
    proxy = TcpProxy("127.0.0.1", make_url(url).port or 5432)
    objects = FolderStore(tmp_path / "objects")
    objects.put_file("bucket", "m/iris/model.onnx", EXAMPLE / "model.onnx")
    stores = [Store(make_url(url).set(port=proxy.port)), Store(url)]  # the first reaches it through the proxy
    model_id, version = register(stores[1], Path="tos://bucket/m/iris/")
    body = service_body(model_id, version, name="cut-svc", FlavorID="ml.c1i.large")
    service_id = stores[1].create_service(ACCOUNT, body)["ServiceID"]
    folders = [tmp_path / "server-0", tmp_path / "server-1"]
    first, second = (
        ServingSupervisor(store, objects, folder, endpoints=Endpoints(host=f"server-{n}.test"))
        for n, (store, folder) in enumerate(zip(stores, folders, strict=True))
    )

    def record() -> dict[str, str]:
        found: dict[str, str] = stores[1].get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]
        return found

    try:
        assert first.ensure_started() is True
        assert second.ensure_started() is False
        second.keep_trying()  # as `mlp serve` does: looks every TAKEOVER_LOOK_SECONDS
        wait_until(lambda: record()["Status"] == RUNNING, 60, "the first server to serve")
        assert replica_pids("cut-svc", folders[0])

        proxy.freeze()
        cut = time.monotonic()
        wait_until(
            lambda: not replica_pids("cut-svc", folders[0]), 15, "the cut-off owner's replicas to stop"
        )
        stopped_after = time.monotonic() - cut
        assert not replica_pids("cut-svc", folders[1]), "both servers ran replicas at once"
        wait_until(lambda: second.serving, 30, "another server to take the lock")
        taken_after = time.monotonic() - cut
        assert stopped_after < TAKEOVER_GRACE_SECONDS, stopped_after  # the owner's own check bound
        # The bound documented in the README (the idle session ends, then the next look takes the
        # lock), with room for a loaded machine.
        assert taken_after < LOCK_IDLE_SECONDS + TAKEOVER_LOOK_SECONDS + 5, taken_after
        wait_until(lambda: replica_pids("cut-svc", folders[1]) != [], 60, "the second server's replicas")
        wait_until(lambda: record()["Status"] == RUNNING, 60, "the second server to serve")
        assert record()["EndpointURL"].startswith("http://server-1.test:")
        assert not replica_pids("cut-svc", folders[0])
        print(f"replicas stopped {stopped_after:.1f}s after the cut; lock taken after {taken_after:.1f}s")
    finally:
        proxy.close()  # the cut-off server's hung calls end
        first.close()
        second.close()
        for store in stores:
            store.close()
    assert not replica_pids("cut-svc", folders[0]) and not replica_pids("cut-svc", folders[1])


def test_asking_for_the_lock_over_a_dead_network_path_gives_up_within_the_connect_timeout(
    pg_cluster: PgCluster,
) -> None:
    """A server cut off from the database (a path that accepts and never answers) asks for the lock
    every few seconds: each ask ends within CONNECT_TIMEOUT, so that it goes on asking and takes the
    lock once the path is back, instead of waiting for ever in its first connect."""
    url = make_url(pg_cluster.database("lock_connect"))
    proxy = TcpProxy("127.0.0.1", url.port or 5432)
    proxy.freeze()
    outcome: list[object] = []

    def ask() -> None:
        try:
            outcome.append(ServingLock.try_take(url.set(port=proxy.port)))
        except Exception as exc:
            outcome.append(exc)

    asking = threading.Thread(target=ask, daemon=True)
    try:
        started = time.monotonic()
        asking.start()
        asking.join(CONNECT_TIMEOUT + 10)
        took = time.monotonic() - started
        assert outcome, f"still connecting after {took:.0f}s"
        assert isinstance(outcome[0], OperationalError), outcome
        assert "timeout" in str(outcome[0]), outcome
    finally:
        proxy.close()
        asking.join(10)


def test_an_owner_stalled_past_the_idle_timeout_keeps_serving_when_no_other_server_took_the_lock(
    pg_cluster: PgCluster, tmp_path: Path
) -> None:
    """The owner's process stalls longer than LOCK_IDLE_SECONDS (here: a C call that holds the GIL,
    as a large json.loads, pickle or numpy call in an embedded platform's program does; a swapped or
    paused VM alike): its checks come late, the database ends the lock's idle session. Nobody else took
    the lock meanwhile, so the owner takes it again on a new session and its replicas go on serving;
    before, it stopped every replica and started them again some 10 s later."""
    url = pg_cluster.database("lock_stall")
    objects = FolderStore(tmp_path / "objects")
    objects.put_file("bucket", "m/iris/model.onnx", EXAMPLE / "model.onnx")
    store = Store(url)
    model_id, version = register(store, Path="tos://bucket/m/iris/")
    body = service_body(model_id, version, name="stall-svc", FlavorID="ml.c1i.large")
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    folder = tmp_path / "server"
    supervisor = ServingSupervisor(store, objects, folder)
    try:
        assert supervisor.ensure_started() is True
        wait_until(
            lambda: (
                store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]["Status"]
                == RUNNING
            ),
            60,
            "the service to run",
        )
        (replica,) = replica_pids("stall-svc", folder)
        # usleep through ctypes.PyDLL keeps the GIL: no thread of this process runs meanwhile
        ctypes.PyDLL(None).usleep(int((LOCK_IDLE_SECONDS + 2) * 1_000_000))
        # the watch's next checks find the session ended; the lock is free: taken again
        deadline = time.monotonic() + 3 * (LOCK_CHECK_SECONDS + LOCK_CHECK_TIMEOUT)
        while time.monotonic() < deadline:
            assert replica_pids("stall-svc", folder) == [replica], "the owner stopped its replica"
            time.sleep(0.1)
        assert supervisor.serving
        assert services_served(store, Path("/nonexistent")) is True  # the lock is held (by the owner)
        assert supervisor.ensure_started() is True
    finally:
        supervisor.close()
        store.close()
    assert not replica_pids("stall-svc", folder)

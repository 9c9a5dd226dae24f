"""Team mode: several servers on one PostgreSQL database, each with its own data folder; exactly one
supervisor of them serves the services, and another takes over when it is gone."""

from __future__ import annotations

from pathlib import Path

from mlp_server.serving.lease import services_served
from mlp_server.serving.supervisor import ServingSupervisor
from mlp_server.store import Store
from pg_testing import PgCluster
from volcengine_ml_platform.transfer.folder import FolderStore


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

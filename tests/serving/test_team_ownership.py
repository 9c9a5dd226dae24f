"""Team mode: several servers on one PostgreSQL database, each with its own data folder; exactly one
supervisor of them serves the services, and another takes over when it is gone."""

from __future__ import annotations

from pathlib import Path

from mlp_server.handlers.services import as_seen
from mlp_server.platform import open_platform
from mlp_server.serving.lease import services_served
from mlp_server.serving.supervisor import ServingSupervisor
from mlp_server.settings import ServerSettings
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

"""Data folders made by earlier releases (``tests/data/upgrade/<release>.tar.gz``, each made by
``make_old_data.py`` with that release) are upgraded by this one with everything intact.

Each archive holds ``platform/`` (the embedded platform's data folder as the old release left it, a
crashed client's pending upload included) and ``expected.json`` (what the old release answered about
it). This release must refuse to serve it until told to migrate, then show the same models, versions,
metrics, perf jobs and tasks, services and accounts; every kept version's files download with their
checksums; a sweep keeps every kept version's files and a delete's reclaim that a crash interrupted is
finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from server.helpers import Api
from sqlalchemy import create_engine, text

from mlp_server.store.migrate import BASELINE_REVISION, HEAD_REVISION, current_revision
from mlp_testing import Keys, MlpServe, clean_env, mlp_script, read_default_keys
from pg_testing import PgCluster
from volcengine_ml_platform import embedded
from volcengine_ml_platform.models import inner_model
from volcengine_ml_platform.models.model import Model

ARCHIVES = Path(__file__).resolve().parents[1] / "data" / "upgrade"
RELEASES = sorted(p.name.removesuffix(".tar.gz") for p in ARCHIVES.glob("[0-9]*.tar.gz"))
# Team mode (0.2 on): the same made through that release's ``mlp serve`` on PostgreSQL, whose
# ``pg_dump`` is the archive's ``database.sql``.
PG_RELEASES = sorted(p.name.removesuffix(".tar.gz") for p in ARCHIVES.glob("pg-*.tar.gz"))
XATTR = "SCHILY.xattr."  # GNU tar's pax header of an extended attribute
MANIFEST = ".mlp-manifest.json"  # beside a version's Path


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def mlp(*args: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mlp_script(), *args],
        env=clean_env(home, **env),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


class Old:
    """One release's data folder, unpacked into tmp."""

    def __init__(self, release: str, root: Path) -> None:
        self.release = release
        self.root = root
        self.registered: list[str] = []  # Paths registered after the upgrade
        with tarfile.open(ARCHIVES / f"{release}.tar.gz") as archive:
            archive.extractall(root, filter="data")
            # A sweep's grace that keeps what the old release left young, however old the archive is.
            self.grace = str(int(time.time() - min(m.mtime for m in archive)) + 24 * 3600)
            for member in archive:  # the objects' checksum attributes (user.mlp.blake3), as kept by tar
                for key, value in member.pax_headers.items():
                    if key.startswith(XATTR):
                        os.setxattr(root / member.name, key.removeprefix(XATTR), value.encode())
        self.data_dir = root / "platform"
        self.expected: dict[str, Any] = json.loads((root / "expected.json").read_text(encoding="utf-8"))
        self.home = root / "home"
        self.home.mkdir()

    def revision(self) -> str:
        if not self.rows("SELECT name FROM sqlite_master WHERE name = 'alembic_version'"):
            return BASELINE_REVISION  # 0.1.0 predates migrations
        ((revision,),) = self.rows("SELECT version_num FROM alembic_version")
        return str(revision)

    def reclaims_pending(self) -> bool:
        return bool(self.rows("SELECT path FROM pending_reclaims"))

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(self.data_dir / "mlp.sqlite3")
        try:
            return con.execute(query).fetchall()
        finally:
            con.close()


@pytest.fixture(params=RELEASES)
def old(request: pytest.FixtureRequest, tmp_path: Path) -> Old:
    return Old(request.param, tmp_path)


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, old: Old) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith(("VOLC_", "VOLCENGINE_", "MLP_")) or name == "ML_PLATFORM_HOST":
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(old.home))
    monkeypatch.setenv("VOLC_CONFIG_FILE", str(old.home / "no-such-config"))
    monkeypatch.setenv("MLP_PERF_WORKERS", "0")
    monkeypatch.setenv("MLP_GC_GRACE", old.grace)
    yield


def check_models(old: Old, admin: Model, team: Model) -> None:
    """The models and versions each account sees are the ones the old release showed, and the search
    indexes and counters the migrations built from the old rows find them."""
    seen: dict[str, Any] = {}
    owner: dict[str, Model] = {}
    for model in (admin, team):
        for item in model.list_models(page_size=100).to_dict()["Result"]["List"]:
            versions = model.get_model_versions(item["ModelID"], page_size=100).to_dict()["Result"]["List"]
            seen[item["ModelID"]] = {"model": item, "versions": versions}
            owner[item["ModelID"]] = model
    expected = old.expected["models"]
    assert set(seen) == set(expected), "models lost or gained"
    for model_id, was in expected.items():
        now = seen[model_id]
        assert now["model"] == was["model"], model_id
        assert now["versions"] == was["versions"], model_id  # every field as the old release gave it
        name = was["model"]["ModelName"]
        for needle in (name[1:], name[1:3].upper()):
            found = owner[model_id].list_models(model_name_contains=needle, page_size=100).to_dict()["Result"]
            assert model_id in [m["ModelID"] for m in found["List"]], (needle, found)
            assert found["Total"] == len(found["List"]), found
        found = owner[model_id].list_models(id_contains=model_id[2:12], page_size=100).to_dict()["Result"]
        assert model_id in [m["ModelID"] for m in found["List"]], found
    assert old.expected["gone"] not in seen
    # every page, both ways, of every sort (the migrated counters, ranks and version positions)
    for model_id, was in expected.items():
        model = owner[model_id]
        for sort_by in ("CreateTime", "ModelVersion"):
            for order in ("Descend", "Ascend"):
                whole = model.get_model_versions(model_id, page_size=100, sort_by=sort_by, sort_order=order)
                numbers = [v["ModelVersion"] for v in whole.to_dict()["Result"]["List"]]
                assert sorted(numbers) == sorted(v["ModelVersion"] for v in was["versions"])
                for offset in range(len(numbers) + 1):
                    page = model.get_model_versions(
                        model_id, offset=offset, page_size=1, sort_by=sort_by, sort_order=order
                    ).to_dict()["Result"]
                    assert page["Total"] == len(numbers)
                    assert [v["ModelVersion"] for v in page["List"]] == numbers[offset : offset + 1]
    for model in (admin, team):
        for sort_by in ("CreateTime", "ModelName"):
            for order in ("Descend", "Ascend"):
                whole = model.list_models(page_size=100, sort_by=sort_by, sort_order=order)
                ids = [m["ModelID"] for m in whole.to_dict()["Result"]["List"]]
                for offset in range(len(ids) + 1):
                    page = model.list_models(offset=offset, page_size=1, sort_by=sort_by, sort_order=order)
                    assert [m["ModelID"] for m in page.to_dict()["Result"]["List"]] == ids[
                        offset : offset + 1
                    ]
                    assert page.to_dict()["Result"]["Total"] == len(ids)


def check_files(old: Old, admin: Model, team: Model, into: Path) -> None:
    """Every kept version's files download, verified, with the bytes the old release registered."""
    assert old.expected["files"], "the fixture registered no files"
    for version_id, files in old.expected["files"].items():
        model_id, number = version_id.rsplit("-", 1)
        model = team if model_id == old.expected["team"] else admin
        target = into / version_id
        model.download(model_id, number, str(target))
        assert digests(target) == files, version_id


def check_perf(old: Old, admin: Model) -> None:
    jobs = admin.list_perf_jobs(page_size=100).to_dict()["Result"]["List"]
    assert jobs == old.expected["perf_jobs"]
    for job_id, tasks in old.expected["perf_tasks"].items():
        assert admin.list_perf_tasks(job_id=job_id).to_dict()["Result"]["List"] == tasks, job_id


def check_services(old: Old, admin: Model) -> None:
    services = admin.list_services(page_size=100).to_dict()["Result"]["List"]
    assert [s["ServiceID"] for s in services] == [s["ServiceID"] for s in old.expected["services"]]
    (now,), (was,) = services, old.expected["services"]
    assert now["ServiceName"] == was["ServiceName"] == "iris-svc"
    for field in ("Model", "FlavorID", "ImageID", "Replicas", "ServiceVersionID", "Envs"):
        assert now["ServiceDeployment"][field] == was["ServiceDeployment"][field], field


def check_next_version(old: Old, admin: Model, work: Path) -> None:
    """Version numbers go on after the old release's highest, deleted ones included."""
    iris = old.expected["iris"]
    highest = max(int(v["ModelVersion"]) for v in old.expected["models"][iris]["versions"])
    folder = work / "again"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"new version after the upgrade")
    made = admin.register(str(folder), model_id=iris).to_dict()["Result"]["VersionInfo"]["ModelVersion"]
    assert made == highest + 1
    # the migrated counters follow this release's writes
    doomed = min(
        int(v["ModelVersion"]) for v in old.expected["models"][iris]["versions"] if v["ModelVersion"] != 1
    )
    admin.unregister(iris, str(doomed))
    numbers = {int(v["ModelVersion"]) for v in old.expected["models"][iris]["versions"]} - {doomed} | {made}
    item = admin.get_model(iris).to_dict()["Result"]
    assert (item["ModelVersionsCount"], item["LatestVersion"]) == (len(numbers), str(made)), item
    listed = admin.get_model_versions(iris, page_size=100, sort_by="ModelVersion", sort_order="Ascend")
    assert [v["ModelVersion"] for v in listed.to_dict()["Result"]["List"]] == sorted(numbers)
    assert admin.list_models(model_name_contains="iris").to_dict()["Result"]["List"][0] == {
        **old.expected["models"][iris]["model"],
        "ModelVersionsCount": len(numbers),
        "LatestVersion": str(made),
    }


def team_model(old: Old, **kwargs: Any) -> Model:
    keys = old.expected["team_keys"]
    return Model(access_key=keys["ak"], secret_key=keys["sk"], **kwargs)


def test_the_embedded_platform_upgrades_an_old_data_folder(old: Old, isolated: None, tmp_path: Path) -> None:
    # Records only, as `mlp` does: a service the old release left Running would otherwise be served by
    # this process until it exits (and said so after the session's summary); `mlp serve` serves it below.
    embedded.serve_services(False)
    admin = Model(data_dir=old.data_dir)
    team = team_model(old, data_dir=old.data_dir)
    try:
        check_models(old, admin, team)
        check_files(old, admin, team, tmp_path / "downloads")
        check_perf(old, admin)
        check_services(old, admin)
        check_next_version(old, admin, tmp_path)
    finally:
        team.close()
        admin.close()
        embedded.close_idle()
        embedded.serve_services(True)


def check_served(old: Old, server: MlpServe, tmp_path: Path) -> None:
    """Everything, through ``mlp serve`` on the upgraded database."""
    # a delete's reclaim that a crash interrupted (0.8.0 on) is finished at start-up
    deadline = time.monotonic() + 30
    while old.reclaims_pending() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not old.reclaims_pending()
    for path in old.expected.get("pending_reclaims", []):
        assert not (old.data_dir / "objects" / path.removeprefix("tos://")).exists(), path
    keys = read_default_keys(old.data_dir)
    admin = Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk)
    team = team_model(old, endpoint=server.url)
    try:
        check_models(old, admin, team)
        check_files(old, admin, team, tmp_path / "downloads")
        check_perf(old, admin)
        check_services(old, admin)
        # the inner door: the old administrator key, a token signed with the old token.key
        target = old.expected["team"]
        with inner_model.Model(
            2100000050, 1, endpoint=server.url, access_key=keys.ak, secret_key=keys.sk
        ) as inner:
            version = inner.get_model_version(target, "1").to_dict()["Result"]
            assert version == old.expected["models"][target]["versions"][0]
        check_pending_upload(old, admin, server, keys, tmp_path)
        if old.expected["service_status"] == "Running":  # served again, by this release
            service = admin.get_service(old.expected["service"])
            assert service.wait_for("Running", timeout=120, interval=0.5) == "Running"
            answer = service.predict({"features": [[5.1, 3.5, 1.4, 0.2]]})
            assert len(answer["probabilities"][0]) == 3, answer
    finally:
        team.close()
        admin.close()


def check_pending_upload(old: Old, admin: Model, server: MlpServe, keys: Keys, tmp_path: Path) -> None:
    """The files a crashed client uploaded under the old release, but never registered, outlive a sweep
    within the grace period and register by their Path (CreateModel), every file downloadable."""
    swept = mlp(
        "gc",
        "--endpoint",
        server.url,
        "--grace",
        old.grace,
        home=old.home,
        VOLC_ACCESSKEY=keys.ak,
        VOLC_SECRETKEY=keys.sk,
    )
    assert swept.returncode == 0, swept
    objects = old.data_dir / "objects"
    (notes,) = [p for p in objects.glob("[!.]*/**/sub/notes.txt") if p.read_text().startswith("pending:")]
    path = f"tos://{notes.parent.parent.relative_to(objects).as_posix()}/"
    with Api(server.url, keys) as api:
        created = api.register(path, name="pending-after-upgrade", ModelType="ONNX:1.23")
    old.registered.append(path)
    target = tmp_path / "pending"
    admin.download(created["ModelID"], "1", str(target))
    assert digests(target) == old.expected["pending_files"]


def test_mlp_serve_refuses_then_migrates_an_old_data_folder(old: Old, tmp_path: Path) -> None:
    if old.revision() != HEAD_REVISION:
        refused = mlp("serve", "--port", "0", "--data-dir", str(old.data_dir), home=old.home)
        assert refused.returncode == 1, refused
        assert "mlp db upgrade" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    server = MlpServe(
        old.data_dir, env=clean_env(old.home, MLP_GC_GRACE=old.grace), extra_args=("--migrate",)
    ).start()
    try:
        check_served(old, server, tmp_path)
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()


def test_a_sweep_after_the_upgrade_keeps_every_version_and_finishes_reclaims(
    old: Old, isolated: None, tmp_path: Path
) -> None:
    """``mlp gc --grace 0`` on the upgraded folder: the pending upload and the deleted versions' leftovers
    go, every kept version still downloads whole, and no pending reclaim is left."""
    upgraded = mlp("db", "upgrade", "--data-dir", str(old.data_dir), home=old.home)
    assert upgraded.returncode == 0, upgraded
    swept = mlp("gc", "--grace", "0", "--data-dir", str(old.data_dir), home=old.home)
    assert swept.returncode == 0, swept
    assert not old.reclaims_pending()
    assert_only_kept_objects(old)
    admin = Model(data_dir=old.data_dir)
    team = team_model(old, data_dir=old.data_dir)
    try:
        check_files(old, admin, team, tmp_path / "downloads")
    finally:
        team.close()
        admin.close()


def assert_only_kept_objects(old: Old) -> None:
    """After a sweep with no grace: the objects of the kept versions (and their manifests), nothing
    else (the crashed client's upload, deleted versions' leftovers)."""
    kept = [
        v["Path"].removeprefix("tos://")
        for model in old.expected["models"].values()
        for v in model["versions"]
    ] + [path.removeprefix("tos://") for path in old.registered]
    objects = old.data_dir / "objects"
    left = [
        key
        for key in (p.relative_to(objects).as_posix() for p in objects.rglob("*") if p.is_file())
        if not key.startswith(".")
        and not any(key.startswith(path) or key == f"{path.rstrip('/')}{MANIFEST}" for path in kept)
    ]
    assert left == [], "objects of no version (the pending upload, deleted versions) were not reclaimed"


# ---- PostgreSQL --------------------------------------------------------------------------------------


class OldTeam(Old):
    """A team's data folder and its PostgreSQL database (restored from the old release's dump)."""

    def __init__(self, release: str, root: Path, cluster: PgCluster) -> None:
        super().__init__(release, root)
        self.url = cluster.database("old")
        restored = subprocess.run(
            [
                str(cluster.bindir / "psql"),
                "-q",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                cluster.dsn(self.url.rsplit("/", 1)[1]),
                "-f",
                str(root / "database.sql"),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert restored.returncode == 0, restored.stderr

    def revision(self) -> str:
        engine = create_engine(self.url)
        try:
            revision = current_revision(engine)
        finally:
            engine.dispose()
        assert revision is not None
        return revision

    def reclaims_pending(self) -> bool:
        engine = create_engine(self.url)
        try:
            with engine.connect() as conn:
                return bool(conn.execute(text("SELECT path FROM pending_reclaims")).all())
        finally:
            engine.dispose()


@pytest.fixture(params=PG_RELEASES)
def old_team(request: pytest.FixtureRequest, tmp_path: Path, pg_cluster: PgCluster) -> OldTeam:
    return OldTeam(request.param, tmp_path, pg_cluster)


def test_mlp_serve_on_postgresql_refuses_then_migrates_an_old_database(
    old_team: OldTeam, tmp_path: Path
) -> None:
    old = old_team
    if old.revision() != HEAD_REVISION:
        refused = mlp(
            "serve", "--port", "0", "--data-dir", str(old.data_dir), home=old.home, MLP_DATABASE_URL=old.url
        )
        assert refused.returncode == 1, refused
        assert "mlp db upgrade" in refused.stderr and "Traceback" not in refused.stderr, refused.stderr
    upgraded = mlp("db", "upgrade", "--data-dir", str(old.data_dir), home=old.home, MLP_DATABASE_URL=old.url)
    assert upgraded.returncode == 0, upgraded
    assert old.revision() == HEAD_REVISION
    server = MlpServe(
        old.data_dir, env=clean_env(old.home, MLP_DATABASE_URL=old.url, MLP_GC_GRACE=old.grace)
    ).start()
    try:
        check_served(old, server, tmp_path)
    finally:
        server.stop()
    assert "Traceback" not in server.log(), server.log()
    swept = mlp(
        "gc", "--grace", "0", "--data-dir", str(old.data_dir), home=old.home, MLP_DATABASE_URL=old.url
    )
    assert swept.returncode == 0, swept
    assert_only_kept_objects(old)

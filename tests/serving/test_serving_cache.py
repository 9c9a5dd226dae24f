"""The serving cache (``<data dir>/serving/versions/<ModelVersionID>/``) gives a deleted version's
storage back: a delete evicts the version's copy at once, and what a delete could not evict (made
while no process of this folder ran, through another machine's server, or a crash midway) goes when
serving starts and at every storage sweep (`mlp gc`, `mlp serve`'s periodic one)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from mlp_server import scratch
from mlp_server.cli import print_gc
from mlp_server.context import Platform
from mlp_server.lifecycle import sweep
from mlp_server.platform import DEFAULT_ACCOUNT_ID, open_platform
from mlp_server.serving.files import EVICTED, PARTIAL, cache_root
from mlp_server.settings import ServerSettings
from mlp_server.store.ids import version_id
from mlp_testing import clean_env
from volcengine_ml_platform.models.model import Model

from .conftest import register
from .models import two_inputs
from .test_serving import wait_running

ACCOUNT = DEFAULT_ACCOUNT_ID


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_env(tmp_path / "home"))
    try:
        yield tmp_path / "platform"
    finally:
        os.environ.clear()
        os.environ.update(saved)


def onnx_objects(data_dir: Path) -> list[Path]:
    return list((data_dir / "objects").rglob("*.onnx"))


def test_deleting_a_version_or_its_model_removes_its_served_copy(data_dir: Path, tmp_path: Path) -> None:
    model = Model(data_dir=data_dir)
    model_id = register(model, two_inputs(tmp_path / "two"), "two")
    model.register(str(two_inputs(tmp_path / "two-again")), model_id=model_id)
    first = model.deploy(model_id, "1", "first", flavor="ml.c1i.large")
    second = model.deploy(model_id, "2", "second", flavor="ml.c1i.large")
    wait_running(first)
    wait_running(second)
    cache = cache_root(data_dir)
    assert sorted(p.name for p in cache.iterdir()) == [f"{model_id}-1", f"{model_id}-2"]

    first.delete()
    model.unregister(model_id, 1)  # DeleteModelVersion
    assert sorted(p.name for p in cache.iterdir()) == [f"{model_id}-2"]
    assert len(onnx_objects(data_dir)) == 1

    second.delete()
    model.unregister_all_versions(model_id)  # DeleteModel
    assert list(cache.iterdir()) == []
    assert onnx_objects(data_dir) == []


def aged(path: Path) -> Path:
    past = time.time() - 2 * scratch.GRACE_SECONDS
    os.utime(path, (past, past))
    return path


def cached(data_dir: Path, name: str) -> Path:
    folder = cache_root(data_dir) / name
    folder.mkdir(parents=True)
    (folder / "model.onnx").write_bytes(b"weights" * 100)
    return folder


class Leftovers:
    """A data folder whose serving cache holds what deletes could not evict, beside what it keeps."""

    def __init__(self, data_dir: Path) -> None:
        platform = open_platform(ServerSettings.from_env(data_dir))
        try:
            store = platform.store
            info = {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23"}
            kept = store.create_model(
                ACCOUNT, {"ModelName": "m", "VersionInfo": {**info, "Path": "tos://b/p/1/"}}
            )
            model_id = kept["ModelID"]
            for n in (2, 3):
                store.create_model(
                    ACCOUNT, {"ModelID": model_id, "VersionInfo": {**info, "Path": f"tos://b/p/{n}/"}}
                )
            # Version 2 deleted by a process that had no copy of it (another machine's server).
            store.delete_model_version(ACCOUNT, {"ModelVersionID": version_id(model_id, 2)})
            # Version 3 named by a service although its row is gone (an older release's race): its
            # copy may be all that is left of it, so it is kept.
            body = {"FlavorID": "ml.c1i.large", "Model": {"ModelVersionID": version_id(model_id, 3)}}
            store.create_service(ACCOUNT, {"ServiceName": "orphan", "ServiceDeployment": body})
            with store.engine.begin() as conn:
                conn.execute(
                    text("DELETE FROM model_versions WHERE id = :id"), {"id": version_id(model_id, 3)}
                )
        finally:
            platform.store.close()
        self.kept = [cached(data_dir, version_id(model_id, 1)), cached(data_dir, version_id(model_id, 3))]
        self.gone = cached(data_dir, version_id(model_id, 2))
        root = cache_root(data_dir)
        # A download and an eviction of this host that crashed (unlocked and old), one an older release
        # left (no owner in its name: nothing proves it dead, so it stays), and a download just begun.
        tag = scratch.this_host().tag
        self.crashed = [
            root / f"{PARTIAL}{model_id}-1.{tag}abcd1234",
            root / f"{EVICTED}{model_id}-9.{tag}ef01ef01",
        ]
        self.unowned = root / f"{PARTIAL}{model_id}-1.oldrel"
        for folder in [*self.crashed, self.unowned]:
            folder.mkdir()
            (folder / "model.onnx").write_bytes(b"part")
            aged(folder)
        self.young = root / f"{PARTIAL}{model_id}-1.{tag}young123"
        self.young.mkdir()

    def names(self, data_dir: Path) -> list[str]:
        return sorted(p.name for p in cache_root(data_dir).iterdir())

    def expected_after(self) -> list[str]:
        return sorted([*(p.name for p in self.kept), self.young.name, self.unowned.name])


def test_serving_start_evicts_what_deletes_left_and_keeps_what_is_needed(data_dir: Path) -> None:
    left = Leftovers(data_dir)
    platform = open_platform(ServerSettings.from_env(data_dir))
    try:
        assert platform.serving is not None  # built: this process is about to serve
        assert left.names(data_dir) == left.expected_after()
        assert all((p / "model.onnx").is_file() for p in left.kept)
    finally:
        platform.store.close()


def sweep_output(platform: Platform, capsys: pytest.CaptureFixture[str], dry_run: bool) -> str:
    report = sweep(platform, grace_seconds=3600, dry_run=dry_run)
    capsys.readouterr()
    print_gc(report.as_dict())
    return capsys.readouterr().out


def test_the_storage_sweep_evicts_them_and_a_dry_run_only_says_so(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    left = Leftovers(data_dir)
    before = left.names(data_dir)
    platform = open_platform(ServerSettings.from_env(data_dir))
    try:
        out = sweep_output(platform, capsys, dry_run=True)
        assert f"would remove {left.gone} (the serving cache's copy of a deleted version)" in out
        assert left.names(data_dir) == before
        report = sweep(platform, grace_seconds=3600).as_dict()
        assert report["ServingCacheFolders"] == [str(left.gone)]
        assert report["ServingCacheBytes"] == 700
        assert left.names(data_dir) == left.expected_after()
        assert "serving cache" not in sweep_output(platform, capsys, dry_run=False)  # nothing left to say
    finally:
        platform.store.close()


def test_the_storage_sweep_removes_replica_files_of_deleted_services(data_dir: Path) -> None:
    """What a failed replica or an ended process left in serving/run and serving/logs goes once its
    service is gone; the files of a service that exists stay (a dry run removes nothing)."""
    platform = open_platform(ServerSettings.from_env(data_dir))
    try:
        store = platform.store
        info = {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23"}
        model_id = store.create_model(
            ACCOUNT, {"ModelName": "m", "VersionInfo": {**info, "Path": "tos://b/p/1/"}}
        )["ModelID"]
        body = {"FlavorID": "ml.c1i.large", "Model": {"ModelVersionID": version_id(model_id, 1)}}
        live = store.create_service(ACCOUNT, {"ServiceName": "live", "ServiceDeployment": body})["ServiceID"]
        gone = "s-20260101000000-gone0"
        serving = data_dir / "serving"
        for sid in (live, gone):
            for n in (0, 1):
                for name in (f"run/{sid}-{n}.json", f"logs/{sid}-{n}.log"):
                    (serving / name).parent.mkdir(parents=True, exist_ok=True)
                    (serving / name).write_text("x")
        other = serving / "logs" / "notes.txt"  # not a replica's: not the sweep's to judge
        other.write_text("mine")

        def names() -> list[str]:
            return sorted(
                p.relative_to(serving).as_posix() for d in ("run", "logs") for p in (serving / d).iterdir()
            )

        before = names()
        sweep(platform, grace_seconds=3600, dry_run=True)
        assert names() == before
        sweep(platform, grace_seconds=3600)
        assert names() == sorted(
            [
                f"run/{live}-0.json",
                f"run/{live}-1.json",
                f"logs/{live}-0.log",
                f"logs/{live}-1.log",
                "logs/notes.txt",
            ]
        )
    finally:
        platform.store.close()

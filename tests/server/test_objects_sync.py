"""A registration's files are on disk before its row commits: the shared syncfs (who it covers, what a
failure does), the file-by-file fallback, and CreateModel's order (files and manifest, sync, commit)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mlp_server.objects_sync import ObjectsSync
from volcengine_ml_platform.transfer import durability, manifest
from volcengine_ml_platform.transfer.folder import FolderStore

from .helpers import Api, LiveServer


class GatedSyncfs:
    """A syncfs that records its calls and, when told to, blocks until released."""

    def __init__(self) -> None:
        self.calls = 0
        self.started = threading.Event()
        self.release = threading.Event()
        self.release.set()
        self.fail_next: OSError | None = None

    def __call__(self, fd: int) -> None:
        self.calls += 1
        self.started.set()
        self.release.wait(10)
        if self.fail_next is not None:
            error, self.fail_next = self.fail_next, None
            raise error


def wait_for(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def test_a_caller_is_served_only_by_a_syncfs_that_started_after_it_asked(tmp_path: Path) -> None:
    gate = GatedSyncfs()
    sync = ObjectsSync(tmp_path, syncfs=gate)
    gate.release.clear()
    first = threading.Thread(target=sync.sync, args=([],))
    first.start()
    wait_for(gate.started.is_set)  # the first syncfs runs (blocked)
    # These ask while it runs: it may have started before their files were written, so it must not
    # answer them; one more syncfs serves all three together.
    late = [threading.Thread(target=sync.sync, args=([],)) for _ in range(3)]
    for thread in late:
        thread.start()
    wait_for(lambda: sync._asked == 4)
    time.sleep(0.05)
    assert all(t.is_alive() for t in late) and gate.calls == 1
    gate.release.set()
    for thread in [first, *late]:
        thread.join(10)
    assert gate.calls == 2 and sync.syncs == 2
    sync.sync([])  # nothing running: one syncfs of its own
    assert gate.calls == 3
    sync.close()


def test_a_failed_syncfs_fails_the_callers_it_was_to_cover_and_the_next_caller_tries_again(
    tmp_path: Path,
) -> None:
    gate = GatedSyncfs()
    sync = ObjectsSync(tmp_path, syncfs=gate)
    gate.fail_next = OSError(5, "syncfs: Input/output error")
    with pytest.raises(OSError, match="Input/output"):
        sync.sync([])
    sync.sync([])  # a new ticket: a new syncfs, which succeeds
    assert gate.calls == 2
    sync.close()


def test_the_real_syncfs_runs_on_linux(tmp_path: Path) -> None:
    sync = ObjectsSync(tmp_path, syncfs=True)
    if not sync.shared:
        pytest.skip("no syncfs in this C library")  # pragma: no cover - Linux has it
    (tmp_path / "f").write_bytes(b"x")
    sync.sync([tmp_path / "f"])
    assert sync.syncs == 1
    sync.close()


def fsynced_paths(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record what every os.fsync of this process flushes (by the descriptor's path)."""
    seen: list[str] = []
    real = os.fsync

    def recording(fd: int) -> None:
        seen.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", recording)
    return seen


def test_without_syncfs_each_file_and_every_folder_up_to_the_root_is_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "objects"
    files = [root / "b" / "m" / "1" / "a.bin", root / "b" / "m" / "1" / "sub" / "c.bin"]
    for path in files:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"bytes")
    folders = ["b/m/1/sub", "b/m/1", "b/m", "b", ""]
    expected = [str(f) for f in files] + [str(root / f).rstrip("/") for f in folders]
    for threads in (1, 8):  # one after another (in this order), or at once: each name exactly once
        sync = ObjectsSync(root, syncfs=False, threads=threads)
        seen = fsynced_paths(monkeypatch)
        sync.sync(files)
        assert (seen if threads == 1 else sorted(seen)) == (expected if threads == 1 else sorted(expected))
        assert sync.groups == 1 and sync.flushes == len(expected)
        with pytest.raises(FileNotFoundError):  # a file that is gone cannot be made durable
            sync.sync([root / "b" / "gone"])
        with pytest.raises(ValueError, match="not below"):
            sync.sync([tmp_path / "elsewhere"])
        sync.close()


def test_folder_store_fsync_covers_the_checksum_the_name_and_the_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = FolderStore(tmp_path / "root", fsync=True)
    source = tmp_path / "src"
    source.write_bytes(b"weights")
    seen = fsynced_paths(monkeypatch)
    store.put_file("bucket", "m/1/w.bin", source)
    root = store.root
    # The object before its rename (in .tmp), then the folders from its own up to the root.
    assert seen[0].startswith(str(root / ".tmp") + "/")
    assert seen[1:] == [str(root / "bucket/m/1"), str(root / "bucket/m"), str(root / "bucket"), str(root)]
    with pytest.raises(ValueError, match="not below"):
        durability.sync_dirs(tmp_path, root)


def test_create_model_syncs_the_files_and_manifest_before_the_row_commits(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "platform") as server:
        platform = server.platform
        assert platform.objects_sync is not None and not platform.objects_sync.shared  # the default
        events: list[tuple[str, Any]] = []
        real_sync, real_create = platform.objects_sync.sync, platform.store.create_model

        def sync(written: list[Path]) -> None:
            # Everything it is asked to sync exists: the uploaded files and the manifest beside them.
            events.append(("sync", sorted(str(p.relative_to(platform.objects_sync.root)) for p in written)))
            assert all(p.is_file() for p in written)
            real_sync(written)

        def create_model(account_id: int, body: Any) -> Any:
            events.append(("commit", body["VersionInfo"]["Path"]))
            return real_create(account_id, body)

        platform.objects_sync.sync = sync  # type: ignore[method-assign]
        platform.store.create_model = create_model  # type: ignore[method-assign]
        keys = server.default_keys()
        with Api(server.url, keys) as api:
            path = server.upload(keys.account_id, "models/sync-order")
            api.ok("CreateModel", {"ModelName": "m", "VersionInfo": {
                "Path": path, "ModelFormat": "ONNX", "ModelType": "ONNX:1.10"}})  # fmt: skip
            bucket = platform.bucket_for(keys.account_id)
            prefix = path.removeprefix(f"tos://{bucket}/")
            assert events == [
                ("sync", sorted([
                    f"{bucket}/{prefix}saved_model.pb",
                    f"{bucket}/{prefix}variables/v.index",
                    f"{bucket}/{manifest.manifest_key(prefix)}",
                ])),
                ("commit", path),
            ]  # fmt: skip
            # A resend of the same Path answers the committed version: nothing new to sync.
            api.ok("CreateModel", {"ModelName": "m", "VersionInfo": {
                "Path": path, "ModelFormat": "ONNX", "ModelType": "ONNX:1.10"}})  # fmt: skip
            assert [e[0] for e in events] == ["sync", "commit", "commit"]


def test_a_failed_sync_registers_nothing(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "platform") as server:
        platform = server.platform
        assert platform.objects_sync is not None

        def failing(written: list[Path]) -> None:
            raise OSError(5, "syncfs: Input/output error")

        platform.objects_sync.sync = failing  # type: ignore[method-assign]
        keys = server.default_keys()
        with Api(server.url, keys) as api:
            path = server.upload(keys.account_id, "models/sync-fails")
            status, code, _ = api.fails("CreateModel", {"ModelName": "m", "VersionInfo": {
                "Path": path, "ModelFormat": "ONNX", "ModelType": "ONNX:1.10"}})  # fmt: skip
            assert status >= 500, code
            assert api.ok("ListModels", {})["Total"] == 0


def test_register_checks_its_body_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from volcengine_ml_platform.models import _common
    from volcengine_ml_platform.models.model import Model

    checked: list[dict[str, Any]] = []
    real_check = _common.check_body

    def counting(body_cls: type[Any], body: dict[str, Any]) -> None:
        checked.append(body)
        real_check(body_cls, body)

    monkeypatch.setattr(_common, "check_body", counting)
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x07weights")
    (folder / "README").write_text("tiny\n")
    with LiveServer(tmp_path / "platform") as server:
        keys = server.default_keys()
        model = Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk, region="cn-beijing")
        first = model.register(str(folder), model_name="m", model_format="ONNX", model_type="ONNX:1.10")
        assert len(checked) == 1
        again = model.register(str(folder), model_id=first.result.model_id)
        assert len(checked) == 2 and again.result.version_info.model_version == 2
        model.register(str(folder), model_name="m", model_format="ONNX", model_type="ONNX:1.10",
                       if_exists="new_version")  # fmt: skip
        assert len(checked) == 3


def test_mlp_objects_syncfs_chooses_one_shared_syncfs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLP_OBJECTS_SYNCFS", "1")
    with LiveServer(tmp_path / "platform") as server:
        sync = server.platform.objects_sync
        assert sync is not None and sync.shared
        keys = server.default_keys()
        with Api(server.url, keys) as api:
            path = server.upload(keys.account_id, "models/syncfs")
            api.ok("CreateModel", {"ModelName": "m", "VersionInfo": {
                "Path": path, "ModelFormat": "ONNX", "ModelType": "ONNX:1.10"}})  # fmt: skip
        assert sync.syncs == 1

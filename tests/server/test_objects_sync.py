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


def test_register_checks_its_body_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from volcengine_ml_platform.models import validation
    from volcengine_ml_platform.models.model import Model

    checked: list[dict[str, Any]] = []
    real_check = validation.check_named

    def counting(schema_name: str, body: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        if schema_name == "CreateModelRequest":
            checked.append(body)
        real_check(schema_name, body, *args, **kwargs)

    monkeypatch.setattr(validation, "check_named", counting)
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


# -- sync groups (file by file, the default) -----------------------------------------------------


class GatedFsync:
    """An fsync of names that records what it flushed, in order, and can hold or fail some names."""

    def __init__(self, log: list[tuple[str, str]] | None = None) -> None:
        self.log = log if log is not None else []  # ("fsync", name) once flushed
        self.lock = threading.Lock()
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self.failing: set[str] = set()  # names that fail (EIO)

    def __call__(self, name: str, is_dir: bool) -> None:
        self.entered.set()
        assert self.release.wait(10), "held too long"
        if name in self.failing:
            raise OSError(5, f"fsync {name}: Input/output error")
        with self.lock:
            self.log.append(("fsync", name))

    def flushed(self, name: str) -> int:
        with self.lock:
            return sum(1 for kind, n in self.log if kind == "fsync" and n == name)


def make_files(root: Path, *names: str) -> list[Path]:
    paths = [root / name for name in names]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"weights")
    return paths


class Caller(threading.Thread):
    """One ``sync`` call in a thread of its own, keeping its outcome."""

    def __init__(self, sync: ObjectsSync, files: list[Path]) -> None:
        super().__init__(daemon=True)
        self.sync, self.files = sync, files
        self.error: BaseException | None = None
        self.returned = threading.Event()

    def run(self) -> None:
        try:
            self.sync.sync(self.files)
        except BaseException as exc:
            self.error = exc
        self.returned.set()


def queue_behind_a_held_group(
    sync: ObjectsSync, gate: GatedFsync, first: list[Path], members: list[list[Path]]
) -> tuple[Caller, list[Caller]]:
    """Start one caller whose group is held in its fsyncs, then ``members``, which queue for the next."""
    gate.release.clear()
    leader = Caller(sync, first)
    leader.start()
    assert gate.entered.wait(10)
    queued = [Caller(sync, files) for files in members]
    for caller in queued:
        caller.start()
    wait_for(lambda: len(sync._pending) == len(members))
    return leader, queued


def test_callers_that_arrive_together_share_one_group_and_each_folder_is_flushed_once(
    tmp_path: Path,
) -> None:
    root = tmp_path / "objects"
    root.mkdir()
    gate = GatedFsync()
    sync = ObjectsSync(root, fsync=gate, threads=4)
    first = make_files(root, "bucket/m/0/a.bin")
    members = [make_files(root, f"bucket/m/{k}/a.bin", f"bucket/m/{k}/b.bin") for k in (1, 2, 3)]
    leader, queued = queue_behind_a_held_group(sync, gate, first, members)
    time.sleep(0.05)
    # Nobody is answered while the fsyncs that cover them have not finished: not the group that runs,
    # and not those that asked while it ran (it may have started before their files were written).
    assert not leader.returned.is_set() and not any(c.returned.is_set() for c in queued)
    gate.release.set()
    for caller in [leader, *queued]:
        assert caller.returned.wait(10) and caller.error is None
    assert sync.groups == 2  # the three that queued went together
    for files in members:
        for path in files:
            assert gate.flushed(str(path)) == 1
        assert gate.flushed(str(files[0].parent)) == 1  # each member's own folder
    # The folders the four share: once by the first group, once by the second (not once per member).
    for shared in ("bucket/m", "bucket", ""):
        assert gate.flushed(str(root / shared).rstrip("/")) == 2
    # first group: its file, its 3 folders and the root; second: 6 files, 3 own folders, 3 shared
    assert sync.flushes == 5 + (6 + 3 + 3)
    sync.close()


def test_a_failed_fsync_fails_exactly_the_members_that_needed_it(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    root.mkdir()
    gate = GatedFsync()
    sync = ObjectsSync(root, fsync=gate, threads=3)
    first = make_files(root, "b1/m/0/a.bin")
    members = [
        make_files(root, "b1/m/1/a.bin", "b1/m/1/b.bin"),
        make_files(root, "b1/m/2/a.bin", "b1/m/2/b.bin"),  # its b.bin fails
        make_files(root, "b2/m/3/a.bin"),  # another bucket, whose folder fails
        make_files(root, "b2/m/4/a.bin"),
        make_files(root, "b1/m/5/a.bin"),
    ]
    gate.failing = {str(members[1][1]), str(root / "b2")}
    leader, queued = queue_behind_a_held_group(sync, gate, first, members)
    gate.release.set()
    for caller in [leader, *queued]:
        assert caller.returned.wait(10)
    assert leader.error is None
    outcomes = [c.error for c in queued]
    assert outcomes[0] is None and outcomes[4] is None
    assert isinstance(outcomes[1], OSError) and str(members[1][1]) in str(outcomes[1])
    assert all(isinstance(e, OSError) and str(root / "b2") in str(e) for e in outcomes[2:4])
    # The failures were this group's: the next caller gets a group of its own, which flushes again.
    gate.failing.clear()
    sync.sync(members[1])
    assert gate.flushed(str(members[1][1])) == 1
    sync.close()


def gated_platform_sync(server: LiveServer, gate: GatedFsync) -> ObjectsSync:
    platform = server.platform
    assert platform.objects_sync is not None
    platform.objects_sync.close()
    platform.objects_sync = ObjectsSync(platform.objects_sync.root, fsync=gate, threads=4)
    return platform.objects_sync


def test_a_group_of_create_models_each_commits_after_its_own_files_are_synced(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "platform") as server:
        platform = server.platform
        log: list[tuple[str, str]] = []
        gate = GatedFsync(log)
        sync = gated_platform_sync(server, gate)
        real_create = platform.store.create_model

        def create_model(account_id: int, body: Any) -> Any:
            with gate.lock:
                log.append(("commit", body["VersionInfo"]["Path"]))
            result = real_create(account_id, body)
            with gate.lock:
                log.append(("committed", body["VersionInfo"]["Path"]))
            return result

        platform.store.create_model = create_model  # type: ignore[method-assign]
        keys = server.default_keys()
        bucket = platform.bucket_for(keys.account_id)
        paths = [server.upload(keys.account_id, f"models/group-{k}") for k in range(5)]
        # The third's weights cannot be made durable: it alone fails, and nothing is registered for it.
        gate.failing = {str(sync.root / bucket / "models/group-2/saved_model.pb")}
        answers: dict[str, tuple[int, str]] = {}

        def register(path: str) -> None:
            with Api(server.url, keys) as api:
                response = api.call("CreateModel", {"ModelName": path[-7:], "VersionInfo": {
                    "Path": path, "ModelFormat": "ONNX", "ModelType": "ONNX:1.10"}})  # fmt: skip
                answers[path] = (response.status_code, response.text)

        gate.release.clear()
        threads = [threading.Thread(target=register, args=(p,), daemon=True) for p in paths]
        threads[0].start()
        assert gate.entered.wait(10)
        for thread in threads[1:]:
            thread.start()
        wait_for(lambda: len(sync._pending) == 4)
        time.sleep(0.05)
        assert answers == {} and not any(kind.startswith("commit") for kind, _ in log)
        gate.release.set()
        for thread in threads:
            thread.join(10)
        assert sync.groups == 2
        for k, path in enumerate(paths):
            prefix = path.removeprefix(f"tos://{bucket}/")
            names = [str(sync.root / bucket / prefix / f) for f in ("saved_model.pb", "variables/v.index")]
            names.append(str(sync.root / bucket / manifest.manifest_key(prefix)))
            if k == 2:
                assert answers[path][0] >= 500, answers[path]
                assert ("commit", path) not in log
                continue
            assert answers[path][0] == 200, answers[path]
            # Its files, its manifest and every folder up to the root flushed before its commit began;
            # answered (200 above) only after the commit ended.
            synced_at = max(log.index(("fsync", n)) for n in [*names, str(sync.root)])
            assert synced_at < log.index(("commit", path)) < log.index(("committed", path))
        with Api(server.url, keys) as api:
            listed = api.ok("ListModels", {"Limit": 100})
            assert sorted(m["ModelName"] for m in listed["List"]) == sorted(
                p[-7:] for k, p in enumerate(paths) if k != 2
            )


def test_register_keeps_its_upload_when_the_platform_cannot_sync_it(tmp_path: Path) -> None:
    from volcengine_ml_platform.config import resolve_settings
    from volcengine_ml_platform.errors import OutcomeUnknownError
    from volcengine_ml_platform.models.model import Model
    from volcengine_ml_platform.session import Session
    from volcengine_ml_platform.transfer.retry import RetryPolicy

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x07weights")
    with LiveServer(tmp_path / "platform") as server:
        gate = GatedFsync()
        sync = gated_platform_sync(server, gate)
        real = gate.__call__

        def fail_weights(name: str, is_dir: bool) -> None:
            if name.endswith("model.onnx"):
                raise OSError(5, "fsync: Input/output error")
            real(name, is_dir)

        sync._fsync_path = fail_weights
        keys = server.default_keys()
        settings = resolve_settings(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk)
        fast = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05)
        model = Model(session=Session(settings, retry=fast))
        with pytest.raises(OutcomeUnknownError) as caught:
            model.register(str(folder), model_name="m", model_format="ONNX", model_type="ONNX:1.10")
        url = caught.value.upload_url
        assert url is not None
        bucket, _, prefix = url.removeprefix("tos://").partition("/")
        kept = [o.key for o in server.platform.objects.list_objects(bucket, prefix)]
        assert any(k.endswith("model.onnx") for k in kept)  # the upload is kept for a resend
        with Api(server.url, keys) as api:
            assert api.ok("ListModels", {})["Total"] == 0


def test_a_group_runs_at_most_one_lane_per_file(tmp_path: Path) -> None:
    # Folders rarely have anything pending once their files are synced: lanes beyond the files'
    # count cost a thread hand-off each for no shorter wait.
    root = tmp_path / "objects"
    root.mkdir()
    threads_seen: dict[str, int] = {}
    lock = threading.Lock()

    def recording(path: str, is_dir: bool) -> None:
        with lock:
            threads_seen[path] = threading.get_ident()

    sync = ObjectsSync(root, fsync=recording, threads=8)
    one = make_files(root, "bucket/modelrepo/a/b/c/model.onnx")  # 1 file, 6 folders
    sync.sync(one)
    assert len(threads_seen) == 7 and set(threads_seen.values()) == {threading.get_ident()}
    threads_seen.clear()
    three = make_files(root, *(f"bucket/modelrepo/x/{name}" for name in ("a.bin", "b.bin", "c.bin")))
    sync.sync(three)
    assert len(threads_seen) == 3 + 4 and 1 < len(set(threads_seen.values())) <= 3
    assert sync.flushes == 7 + 7
    sync.close()

"""A delete that dies after its commit, before its objects are removed: the pending-reclaim record
written in the delete's transaction lets the storage sweep finish the job, for any Path layout
(``mine/...`` is not an upload unit that the grace-period sweep would judge), on SQLite + the folder
store and on PostgreSQL + S3 (``platform_settings``).

The crash is the process ending at the first object removal: the object store raises a
``BaseException`` there (nothing after it runs, as after SIGKILL). The last test kills ``mlp serve``
with SIGKILL for real."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlp_server import lifecycle
from mlp_server.context import Caller, Platform
from mlp_server.handlers.models import delete_model, delete_model_version
from mlp_server.lifecycle import RECORD_MARGIN_SECONDS, SweepReport, finish_reclaims, split_path, sweep
from mlp_server.platform import DEFAULT_ACCOUNT_ID, open_platform
from mlp_server.settings import ServerSettings
from mlp_server.store import group_commit
from mlp_server.store.reclaims import CLAIM_FOR
from mlp_testing import MlpServe, clean_env, mlp_script, read_default_keys
from volcengine_ml_platform.transfer.manifest import manifest_key

from .helpers import Api, LiveServer, MovableClock, error_of, upload_into, version_info
from .test_sweep_order import DuringRegistration

FILES = {f"part-{i:02d}.bin": bytes([i]) * 100 for i in range(12)}
CALLER = Caller(DEFAULT_ACCOUNT_ID, 1, is_admin=True)


class Crash(BaseException):
    """The process ending where it is raised."""


@pytest.fixture(autouse=True)
def clean_slate(request: pytest.FixtureRequest) -> None:
    """In team mode the S3 store lives for the session: upload folders other tests left unregistered
    (old stamps from their movable clocks) would show in these tests' sweep reports. Sweep them first."""
    if "server" in request.fixturenames:
        server: LiveServer = request.getfixturevalue("server")
        sweep(server.platform, grace_seconds=3600)


def unique(prefix: str) -> str:
    # Team mode's S3 store lives for the session: a Path of this test alone.
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def no_records_left(platform: Platform) -> bool:
    """Whether every reclaim record is dropped (the drop is not waited for: give it a moment)."""
    deadline = time.monotonic() + 10
    while platform.store.pending_reclaims() and time.monotonic() < deadline:
        time.sleep(0.01)
    return platform.store.pending_reclaims() == []


def keys_under(platform: Platform, path: str) -> list[str]:
    bucket, prefix = split_path(path)
    return sorted(o.key for o in platform.objects.list_objects(bucket, prefix))


def crash_during(
    server: LiveServer, monkeypatch: pytest.MonkeyPatch, action: str, body: dict[str, Any]
) -> None:
    def crash(bucket: str, what: Any) -> int:
        raise Crash(f"killed while removing {what} of tos://{bucket}")

    # The objects are removed on a background thread (the answer does not wait on a hung store): the
    # crash ends that thread; the handler waits for it, as it does for a healthy store.
    crashed: list[BaseException | None] = []
    handler = {"DeleteModelVersion": delete_model_version, "DeleteModel": delete_model}[action]
    with monkeypatch.context() as patch:
        patch.setattr(server.platform.objects, "delete_prefix", crash)
        patch.setattr(server.platform.objects, "delete_keys", crash)
        patch.setattr(lifecycle, "RECLAIM_WAIT_SECONDS", 60.0)
        patch.setattr(threading, "excepthook", lambda args: crashed.append(args.exc_value))
        handler(server.platform, CALLER, body)
        deadline = time.monotonic() + 10  # the hook runs just after the thread's last line
        while not crashed and time.monotonic() < deadline:
            time.sleep(0.01)
    assert len(crashed) == 1 and isinstance(crashed[0], Crash), crashed


@pytest.mark.parametrize("action", ["DeleteModelVersion", "DeleteModel"])
def test_a_delete_killed_after_its_commit_is_finished_by_the_sweep(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch, action: str
) -> None:
    platform = server.platform
    # A delete that completes leaves no record.
    done = admin.register(server.upload(DEFAULT_ACCOUNT_ID, unique("mine/done"), FILES), name="done")[
        "VersionInfo"
    ]
    admin.ok("DeleteModelVersion", {"ModelVersionID": done["ModelVersionID"]})
    assert no_records_left(platform)

    path = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/big"), FILES)
    created = admin.register(path, name="big")
    version_id = created["VersionInfo"]["ModelVersionID"]
    paths = [path]
    if action == "DeleteModelVersion":
        body = {"ModelVersionID": version_id}
    else:  # a model of two versions: one record each, from one INSERT
        paths.append(server.upload(DEFAULT_ACCOUNT_ID, unique("mine/second"), FILES))
        admin.register(paths[1], model_id=created["ModelID"])
        body = {"ModelID": created["ModelID"]}
    crash_during(server, monkeypatch, action, body)

    assert admin.fails("GetModelVersion", {"ModelVersionID": version_id})[0] == 404
    kept = {p: keys_under(platform, p) for p in paths}
    assert all(len(keys) == len(FILES) for keys in kept.values())
    assert sorted(p.path for p in platform.store.pending_reclaims()) == sorted(paths)
    # A dry run reports the files and the manifest, whatever the grace, and removes nothing.
    preview = sweep(platform, grace_seconds=3600, dry_run=True)
    assert (preview.objects, sorted(preview.prefixes)) == (len(paths) * (len(FILES) + 1), sorted(paths))
    assert {p: keys_under(platform, p) for p in paths} == kept

    report = sweep(platform, grace_seconds=3600)
    assert (report.objects, sorted(report.prefixes)) == (preview.objects, sorted(paths))
    assert report.bytes == preview.bytes > len(paths) * sum(map(len, FILES.values()))  # + manifests
    for p in paths:
        bucket, prefix = split_path(p)
        assert keys_under(platform, p) == [] and platform.objects.head(bucket, manifest_key(prefix)) is None
    assert no_records_left(platform)


def test_a_record_whose_path_cannot_be_listed_stops_neither_the_others_nor_the_sweep(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = server.platform
    bad = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/bad"), FILES)
    good = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/good"), FILES)
    for path, name in ((bad, "bad"), (good, "good")):
        version_id = admin.register(path, name=name)["VersionInfo"]["ModelVersionID"]
        crash_during(server, monkeypatch, "DeleteModelVersion", {"ModelVersionID": version_id})
    listed, bad_prefix = platform.objects.list_objects, split_path(bad)[1]

    def unlistable(bucket: str, prefix: str) -> Any:
        if prefix.startswith(bad_prefix):
            raise OSError("503 SlowDown")
        return listed(bucket, prefix)

    with monkeypatch.context() as patch:
        patch.setattr(platform.objects, "list_objects", unlistable)
        report = sweep(platform, grace_seconds=3600)  # does not raise
    assert report.prefixes == [good] and keys_under(platform, good) == []
    assert len(keys_under(platform, bad)) == len(FILES)  # left, with its record, for a later sweep
    assert [p.path for p in platform.store.pending_reclaims()] == [bad]


def test_a_create_model_on_a_path_a_recorded_reclaim_covers_finishes_that_reclaim_first(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete decided the fate of its objects. A CreateModel on the Path, or on a Path below it,
    while the record waits (its store failed) finishes that reclaim itself: while the store still
    fails it is refused (a retryable 503) and nothing is removed or registered; once the store works,
    the deleted version's files are gone, the record with them, and the CreateModel is told so (404),
    without waiting for the next sweep."""
    platform = server.platform
    path = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/big"), FILES)
    first = admin.register(path, name="big")["VersionInfo"]["ModelVersionID"]
    crash_during(server, monkeypatch, "DeleteModelVersion", {"ModelVersionID": first})

    def failing(bucket: str, what: Any) -> int:
        raise OSError(f"503 SlowDown removing {what} of tos://{bucket}")

    with monkeypatch.context() as patch:
        patch.setattr(platform.objects, "delete_prefix", failing)
        patch.setattr(platform.objects, "delete_keys", failing)
        for where in (path, path + "part-01.bin"):
            body = {"ModelName": "again", "VersionInfo": version_info(where)}
            status, code, message = error_of(admin.call("CreateModel", body))
            assert (status, code) == (503, "ServiceUnavailableTemp"), message
            assert "VersionInfo.Path" in message and "being removed" in message
    assert len(keys_under(platform, path)) == len(FILES)
    assert [p.path for p in platform.store.pending_reclaims()] == [path]

    body = {"ModelName": "again", "VersionInfo": version_info(path + "part-01.bin")}
    status, code, message = error_of(admin.call("CreateModel", body))
    assert (status, code) == (404, "NotFound"), message
    assert keys_under(platform, path) == [] and platform.store.pending_reclaims() == []
    assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "again"] == []


def test_a_dry_run_does_not_report_a_reclaim_that_a_registration_in_flight_keeps(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``outer/`` is being registered (it holds the files of the version at ``outer/inner/``) when that
    version is deleted: the delete's reclaim waits for the registration's turn and then keeps the files
    (the new version uses them). A dry run meanwhile reports what the reclaim will do: it decides in the
    same exclusive turn, after the registration has committed (before, it reported the files as ones
    it would remove)."""
    platform = server.platform
    inner = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/outer") + "/inner", FILES)
    outer = inner.removesuffix("inner/")
    version_id = admin.register(inner, name="inner")["VersionInfo"]["ModelVersionID"]
    kept = keys_under(platform, outer)
    monkeypatch.setattr(lifecycle, "RECLAIM_WAIT_SECONDS", 0.1)  # the delete answers, its reclaim waits

    def delete_then_report() -> SweepReport:
        delete_model_version(platform, CALLER, {"ModelVersionID": version_id})
        assert [p.path for p in platform.store.pending_reclaims()] == [inner]  # still to be decided
        return sweep(platform, grace_seconds=3600, dry_run=True)

    raced = DuringRegistration(monkeypatch, delete_then_report)
    admin.register(outer, name="outer")
    (report,) = raced.join()

    assert report.prefixes == [] and report.objects == 0, report
    assert no_records_left(platform)
    assert set(kept) <= set(keys_under(platform, outer))  # the registered version's files, all kept


def late_upload_after_a_crashed_delete(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The Path of a version whose delete crashed before its reclaim (recorded, left to the sweep), with
    ``late.bin`` uploaded to it after the delete was recorded."""
    path = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/big"), FILES)
    version_id = admin.register(path, name="big")["VersionInfo"]["ModelVersionID"]
    crash_during(server, monkeypatch, "DeleteModelVersion", {"ModelVersionID": version_id})
    # Needed, not a widened window: a later write is told apart from the deleted files only when newer
    # than the record by more than the margin, plus a second as S3 keeps LastModified in whole seconds.
    time.sleep(RECORD_MARGIN_SECONDS + 1.2)
    bucket, prefix = split_path(path)
    server.platform.objects.put_bytes(bucket, prefix + "late.bin", b"uploaded after the delete")
    return path


def test_files_uploaded_to_a_path_after_its_delete_are_registered_once_create_model_finishes_the_reclaim(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Someone uploads to a deleted version's Path again while the delete's reclaim waits for the
    sweep: the CreateModel finishes the reclaim (the files of the delete go, the new one stays) and
    registers what was uploaded since, instead of a 503 until the sweep comes."""
    platform = server.platform
    path = late_upload_after_a_crashed_delete(server, admin, monkeypatch)
    bucket, prefix = split_path(path)

    created = admin.register(path, name="again")
    assert created["VersionInfo"]["ModelVersion"] == 1
    assert keys_under(platform, path) == [prefix + "late.bin"]
    assert platform.store.pending_reclaims() == []
    manifest = platform.objects.head(bucket, manifest_key(prefix))
    assert manifest is not None, "the new version's manifest"


def test_files_uploaded_to_a_deleted_path_after_the_delete_are_not_reclaimed(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recorded reclaim removes what existed when the delete was recorded. A file written to the
    Path after that (someone uploading there again before the sweep finished the reclaim after a
    crash) is not the deleted version's: it stays, and the report counts only what was removed."""
    platform = server.platform
    path = late_upload_after_a_crashed_delete(server, admin, monkeypatch)
    prefix = split_path(path)[1]

    report = sweep(platform, grace_seconds=3600)
    assert keys_under(platform, path) == [prefix + "late.bin"]
    assert (report.prefixes, report.objects) == ([path], len(FILES) + 1)  # the files and the manifest
    assert report.bytes > sum(map(len, FILES.values())) and no_records_left(platform)


def test_finishing_a_recorded_reclaim_reads_its_path_once(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep's report (objects, bytes) comes from the listing that chose what to remove: the Path
    is listed once and each single key (its manifest) looked up once, not again to count."""
    platform = server.platform
    path = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/big"), FILES)
    version_id = admin.register(path, name="big")["VersionInfo"]["ModelVersionID"]
    crash_during(server, monkeypatch, "DeleteModelVersion", {"ModelVersionID": version_id})
    bucket, prefix = split_path(path)
    recorded = platform.objects.head(bucket, manifest_key(prefix))
    assert recorded is not None
    reads: list[tuple[str, str]] = []
    listed, headed = platform.objects.list_objects, platform.objects.head

    def list_objects(bucket: str, under: str) -> Any:
        reads.append(("list", under))
        return listed(bucket, under)

    def head(bucket: str, key: str) -> Any:
        reads.append(("head", key))
        return headed(bucket, key)

    with monkeypatch.context() as patch:
        patch.setattr(platform.objects, "list_objects", list_objects)
        patch.setattr(platform.objects, "head", head)
        report = finish_reclaims(platform)
    assert (report.prefixes, report.objects) == ([path], len(FILES) + 1)
    assert report.bytes == sum(map(len, FILES.values())) + recorded.size
    assert reads == [("list", prefix), ("head", manifest_key(prefix))], reads
    assert keys_under(platform, path) == [] and no_records_left(platform)


def test_a_sweep_killed_after_its_claim_leaves_the_record_to_the_next(
    server: LiveServer, admin: Api, server_clock: MovableClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = server.platform
    path = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/big"), FILES)
    version_id = admin.register(path, name="big")["VersionInfo"]["ModelVersionID"]
    crash_during(server, monkeypatch, "DeleteModelVersion", {"ModelVersionID": version_id})

    assert [p.path for p in platform.store.claim_reclaims(platform.clock())] == [
        path
    ]  # ... and the sweep dies here
    assert finish_reclaims(platform).objects == 0  # another sweep leaves the claimed record alone
    assert len(keys_under(platform, path)) == len(FILES)
    server_clock.advance(CLAIM_FOR.total_seconds() + 1)
    assert finish_reclaims(platform).prefixes == [path]
    assert keys_under(platform, path) == [] and no_records_left(platform)


def test_two_servers_sweeping_at_once_finish_each_record_once(
    server: LiveServer,
    admin: Api,
    platform_settings: ServerSettings,
    server_clock: MovableClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    paths = []
    for i in range(16):
        path = server.upload(DEFAULT_ACCOUNT_ID, unique(f"mine/m{i:02d}"), {"a.bin": b"a", "b.bin": b"b"})
        version_id = admin.register(path, name=f"m{i}")["VersionInfo"]["ModelVersionID"]
        crash_during(server, monkeypatch, "DeleteModelVersion", {"ModelVersionID": version_id})
        paths.append(path)
    other = open_platform(platform_settings, clock=server_clock)  # a second server on the same stores
    try:
        start = threading.Barrier(2)
        reports: list[SweepReport] = []

        def run(platform: Platform) -> None:
            start.wait()
            reports.append(finish_reclaims(platform))

        threads = [threading.Thread(target=run, args=(p,)) for p in (server.platform, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
    finally:
        other.store.close()
    assert len(reports) == 2
    finished = [p for report in reports for p in report.prefixes]
    assert sorted(finished) == sorted(paths)  # each once: no record reclaimed by both
    assert sum(r.objects for r in reports) == 3 * len(paths)
    assert all(keys_under(server.platform, p) == [] for p in paths)
    assert no_records_left(server.platform)


def test_mlp_serve_killed_during_a_delete_leaves_nothing_behind(tmp_path: Path) -> None:
    """SIGKILL while DeleteModelVersion removes 1,000 files of a Path outside the upload layout:
    ``mlp gc`` on the data folder reports the rest, and the next ``mlp serve`` removes it at start-up."""
    data, env = tmp_path / "platform", clean_env(tmp_path)
    files = {f"f{i:04d}.bin": b"x" * 100 for i in range(1000)}
    serve = MlpServe(data, env=env, log_path=tmp_path / "serve.log").start()
    keys = read_default_keys(data)
    path = upload_into(data, keys.account_id, "mine/big", files)
    folder = data / "objects" / path.removeprefix("tos://")

    def count() -> int:
        return sum(len(names) for _, _, names in os.walk(folder))

    try:
        with Api(serve.url, keys) as api:
            version_id = api.register(path, name="big")["VersionInfo"]["ModelVersionID"]
            body = {"ModelVersionID": version_id}
            delete = threading.Thread(target=_ignore_errors, args=(api.call, "DeleteModelVersion", body))
            delete.start()
            deadline = time.monotonic() + 30
            while count() >= len(files) and time.monotonic() < deadline:
                time.sleep(0.002)  # the removal has begun: kill the server now
            os.kill(serve.proc.pid, signal.SIGKILL)
            serve.proc.wait()
            delete.join()
    finally:
        serve.stop()
    left = count()
    assert 0 < left < len(files), "the kill did not land during the removal"
    gc = [mlp_script(), "gc", "--data-dir", str(data), "--grace", "0", "--dry-run"]
    out = subprocess.run(gc, env=env, capture_output=True, text=True, timeout=120).stdout
    assert f"would remove {left + 1} objects" in out and path in out  # the files and the manifest

    serve = MlpServe(data, env=env, log_path=tmp_path / "serve2.log").start()
    try:
        deadline = time.monotonic() + 30
        while count() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert count() == 0, "the restarted server did not finish the interrupted reclaim"
        with Api(serve.url, keys) as api:
            assert api.fails("GetModelVersion", {"ModelVersionID": version_id})[0] == 404
    finally:
        serve.stop()


def _ignore_errors(call: Any, *args: Any) -> None:
    with contextlib.suppress(httpx.HTTPError):  # the server was killed under it
        call(*args)


def test_a_path_still_being_reclaimed_is_not_registered_again(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The delete answers while its reclaim still runs (a slow store). Registering the same Path then
    would record files about to be removed under the new version: it is refused with a retryable 503
    until the reclaim is done, and then the files are gone (404), never a live version without files."""
    platform = server.platform
    path = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/again"), FILES)
    first = admin.register(path, name="first")["VersionInfo"]["ModelVersionID"]
    release = threading.Event()
    real_list = platform.objects.list_objects

    def slow_list(bucket: str, prefix: str) -> Any:
        if threading.current_thread().name == "mlp-reclaim":
            release.wait(30)
        return real_list(bucket, prefix)

    monkeypatch.setattr(platform.objects, "list_objects", slow_list)
    monkeypatch.setattr(lifecycle, "RECLAIM_WAIT_SECONDS", 0.5)
    admin.ok("DeleteModelVersion", {"ModelVersionID": first})  # answered while the reclaim waits
    body = {"ModelName": "second", "VersionInfo": version_info(path)}
    status, code, message = error_of(admin.call("CreateModel", body))
    assert (status, code) == (503, "ServiceUnavailableTemp"), message
    assert "VersionInfo.Path" in message and "being removed" in message
    release.set()
    assert no_records_left(platform)
    status, code, _ = error_of(admin.call("CreateModel", body))
    assert (status, code) == (404, "NotFound")
    assert keys_under(platform, path) == []


def test_a_path_whose_reclaim_finished_before_the_answer_is_gone_at_once(
    server: LiveServer, admin: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A delete whose reclaim finished before its answer (a healthy store) has freed its Path: a
    CreateModel on it right after the answer finds no files (404), not a retryable 503 "still being
    removed" while the finished record's drop waits for the next commit (on SQLite it rides along
    another write's commit, or is committed alone when the writer is idle: held here, so that the
    answer certainly comes first, as it does under any write-free moment of 0.5 s). Found by the
    schemathesis run's stateful phase (DeleteModelVersion, then CreateModel on its Path)."""
    monkeypatch.setattr(group_commit, "RIDE_WAIT", 60.0)
    prefix = unique("mine/freed")
    path = server.upload(DEFAULT_ACCOUNT_ID, prefix, FILES)
    first = admin.register(path, name="freed")["VersionInfo"]["ModelVersionID"]
    admin.ok("DeleteModelVersion", {"ModelVersionID": first})
    assert keys_under(server.platform, path) == []  # the answer came once the files were gone
    body = {"ModelName": "again", "VersionInfo": version_info(path)}
    status, code, message = error_of(admin.call("CreateModel", body))
    assert (status, code) == (404, "NotFound"), message
    # Files uploaded there again register as a new version.
    assert server.upload(DEFAULT_ACCOUNT_ID, prefix, FILES) == path
    again = admin.register(path, name="again")["VersionInfo"]
    assert again["ModelVersionID"] != first and keys_under(server.platform, path)


def test_a_platform_clock_behind_the_stores_still_frees_the_deleted_versions_files(
    server: LiveServer, admin: Api
) -> None:
    """The record's time is the platform's clock, the objects' times the store's (S3 LastModified, a
    file's mtime): with the platform 3 s behind, the version's own files are still removed (its
    manifest, written at CreateModel, dates them), not kept for ever with the record dropped."""
    platform = server.platform
    real = platform.store._clock
    platform.store._clock = lambda: real() - timedelta(seconds=3)
    try:
        path = server.upload(DEFAULT_ACCOUNT_ID, unique("mine/skew"), FILES)
        version = admin.register(path, name="skew")["VersionInfo"]["ModelVersionID"]
        admin.ok("DeleteModelVersion", {"ModelVersionID": version})
        assert no_records_left(platform)
    finally:
        platform.store._clock = real
    assert keys_under(platform, path) == []

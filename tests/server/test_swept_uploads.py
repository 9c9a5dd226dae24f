"""An upload the storage sweep judged is never registered in part. A client still writing its files
can lose the first ones to a short grace (its newest object is older than the grace between two files);
a CreateModel of that upload afterwards is refused (404 ``UploadRemoved``: nothing was registered,
upload again to a new Path), never a version of only the later files. The sweep runs on a second
platform on the same database and store, on SQLite + the folder store and on PostgreSQL + S3."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from iam_s3 import REGION
from mlp_server import handlers, lifecycle
from mlp_server.context import Caller, Platform
from mlp_server.errors import ApiError
from mlp_server.lifecycle import split_path, sweep
from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_server.store.schema import SweptUploadRow
from volcengine_ml_platform.errors import NotFoundError
from volcengine_ml_platform.models import inner_model
from volcengine_ml_platform.models.model import AsyncModel, Model
from volcengine_ml_platform.transfer.manifest import decode, manifest_key, upload_unit
from volcengine_ml_platform.transfer.progress import TransferProgress

from .helpers import Api, LiveServer, MovableClock, add_account, error_of, version_info

FIRST = {"a-first.bin": b"a" * 100}
LATER = {"b-later.bin": b"b" * 100}


def upload_prefix(admin: Api) -> str:
    result: str = admin.ok("GetTOSUploadPath", {"ServiceName": "modelrepo", "Path": ["from-sdk-repo"]})[
        "KeyPrefix"
    ]
    return result


def unit_url(server: LiveServer, prefix: str) -> str:
    return f"tos://{server.platform.bucket_for(DEFAULT_ACCOUNT_ID)}/{prefix}"


def reclaims_dropped(platform: Platform) -> None:
    """The sweep's record is dropped after its removal without waiting for that write (it rides along
    the next commit); wait for it, so that what follows meets no reclaim still running."""
    deadline = time.monotonic() + 10
    while platform.store.pending_reclaims() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert platform.store.pending_reclaims() == []


def recorded(server: LiveServer, path: str) -> list[str]:
    """The keys the version of ``path`` records (its manifest)."""
    bucket, prefix = split_path(path)
    found = server.platform.objects.get_bytes(bucket, manifest_key(prefix))
    assert found is not None, f"no manifest of {path}"
    files = decode(found[1])[1]
    return sorted(f.key for f in files)


def refused_as_removed(server: LiveServer, answer: Any, path: str) -> str:
    """The answer is the 404 that says nothing was registered (not a version of part of the upload)."""
    if answer.status_code == 200:
        pytest.fail(f"registered {recorded(server, path)} of an upload the sweep judged: {answer.text}")
    status, code, message = error_of(answer)
    assert (status, code) == (404, "UploadRemoved"), (status, code, message)
    assert "VersionInfo.Path" in message and "upload the files again" in message
    return message


def test_a_sweep_between_two_files_of_an_upload_makes_its_registration_fail_not_record_a_part(
    server: LiveServer, admin: Api, other: Platform
) -> None:
    prefix = upload_prefix(admin)
    path = server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", FIRST)
    # The client is between two files; the sweep (grace 0: its newest object is older) judges them.
    assert unit_url(server, prefix) in sweep(other, grace_seconds=0).prefixes
    reclaims_dropped(other)
    server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", LATER)  # the upload goes on, then registers

    answer = admin.call("CreateModel", {"ModelName": "partial", "VersionInfo": version_info(path)})

    message = refused_as_removed(server, answer, path)
    assert unit_url(server, prefix) in message
    assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "partial"] == []
    # A resend of it is refused alike (the sweep's decision stays on record).
    again = admin.call("CreateModel", {"ModelName": "partial", "VersionInfo": version_info(path)})
    refused_as_removed(server, again, path)


def test_a_registration_after_the_sweeps_decision_before_its_removal_registers_nothing(
    server: LiveServer, admin: Api, other: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep recorded its decision and was killed before it removed anything (its reclaim is still
    to be done). The upload goes on and registers: CreateModel must not finish that reclaim and then
    register the files uploaded since (only those survive it), but refuse."""
    prefix = upload_prefix(admin)
    path = server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", FIRST)
    with monkeypatch.context() as killed:
        killed.setattr(lifecycle, "reclaim", lambda *args, **kwargs: [])
        sweep(other, grace_seconds=0)
    # (PostgreSQL + S3: the session's bucket may hold other tests' uploads, which it judged too)
    assert unit_url(server, prefix) in [p.path for p in other.store.pending_reclaims()]
    # Newer than the record by more than its margin (S3's LastModified is in whole seconds): a reclaim
    # of the record keeps it, as a file uploaded to the Path after the decision.
    time.sleep(lifecycle.RECORD_MARGIN_SECONDS + 1.2)
    server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", LATER)

    answer = admin.call("CreateModel", {"ModelName": "partial", "VersionInfo": version_info(path)})

    refused_as_removed(server, answer, path)
    assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "partial"] == []


def test_the_sweeps_decisions_are_forgotten_after_a_week_not_before(
    server: LiveServer, admin: Api, other: Platform, server_clock: MovableClock
) -> None:
    prefix = upload_prefix(admin)
    path = server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", FIRST)
    unit = unit_url(server, prefix)
    assert unit in sweep(other, grace_seconds=0).prefixes
    reclaims_dropped(other)
    keep = lifecycle.SWEPT_UPLOADS_KEPT_SECONDS
    assert keep == 7 * 86400
    sweep(other, grace_seconds=0, now=server_clock() + timedelta(seconds=keep - 60))
    assert lifecycle.swept_upload(other, DEFAULT_ACCOUNT_ID, path) == unit
    sweep(other, grace_seconds=0, now=server_clock() + timedelta(seconds=keep + 60))
    assert lifecycle.swept_upload(other, DEFAULT_ACCOUNT_ID, path) is None


def test_a_decision_whose_removal_is_still_recorded_is_not_forgotten(
    server: LiveServer, admin: Api, other: Platform, server_clock: MovableClock
) -> None:
    """A removal that kept failing for a week leaves its reclaim record: forgetting the decision then
    would let a CreateModel finish the reclaim and register the files written after it."""
    unit = unit_url(server, upload_prefix(admin))
    (record,) = other.store.record_reclaims(DEFAULT_ACCOUNT_ID, [unit])
    later = server_clock() + timedelta(seconds=lifecycle.SWEPT_UPLOADS_KEPT_SECONDS + 60)
    try:
        assert other.store.forget_swept_uploads(later) == 0
        assert other.store.swept_upload(DEFAULT_ACCOUNT_ID, unit) is not None
    finally:
        other.store.reclaim_done(record.id, wait=True)
    assert other.store.forget_swept_uploads(later) == 1
    assert other.store.swept_upload(DEFAULT_ACCOUNT_ID, unit) is None


def swept_rows(platform: Platform, unit: str) -> list[datetime]:
    """The times of the rows that record the sweep's decisions to remove ``unit`` (table swept_uploads)."""
    query = select(SweptUploadRow.create_time).where(
        SweptUploadRow.account_id == DEFAULT_ACCOUNT_ID, SweptUploadRow.prefix == unit
    )
    with platform.store._engine.connect() as conn:
        return [row[0] for row in conn.execute(query)]


def test_a_sweep_whose_removal_keeps_failing_records_its_decision_once(
    server: LiveServer, admin: Api, other: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each sweep decides again to remove an upload whose removal failed (the store refuses): its
    decision is one row, at the time of the latest (which removes what was written before it)."""
    prefix = upload_prefix(admin)
    server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", FIRST)
    unit = unit_url(server, prefix)

    def store_fails(*args: Any, **kwargs: Any) -> Any:
        raise OSError("the object store refuses to remove anything")

    with monkeypatch.context() as failing:
        failing.setattr(lifecycle, "_remove_unused", store_fails)
        first = None
        for _ in range(3):
            sweep(other, grace_seconds=0)
            first = first or swept_rows(other, unit)
    assert unit in [p.path for p in other.store.pending_reclaims()]  # still to be removed
    rows = swept_rows(other, unit)
    assert len(rows) == 1, rows
    assert first is not None and len(first) == 1 and rows[0] > first[0]  # the latest decision's time
    assert lifecycle.swept_upload(other, DEFAULT_ACCOUNT_ID, unit + "model") == unit


# ---- the client uploads again ---------------------------------------------------------------------


def model_folder(root: Path) -> dict[str, bytes]:
    files = {"a-first.bin": b"a" * 1000, "b-second.bin": b"b" * 1000, "c-third.bin": b"c" * 1000}
    root.mkdir()
    for name, data in files.items():
        (root / name).write_bytes(data)
    return files


class SweepAfterFirstFile:
    """A progress callback: once the first file of an upload is written (a small upload writes one file
    after another, on this thread), the sweep with grace 0 judges that upload, as a short grace does
    between two files of a slow one; for the first ``times`` uploads."""

    def __init__(self, other: Platform, times: int = 1) -> None:
        # First what earlier tests left in the bucket (PostgreSQL + S3: one bucket for the session, the
        # database emptied): what the sweeps report then is this test's uploads.
        sweep(other, grace_seconds=0)
        reclaims_dropped(other)
        self.other = other
        self.left = times
        self.swept: list[str] = []
        self.done = 0

    def __call__(self, progress: TransferProgress) -> None:
        first_done = self.done == 0 and progress.files_done == 1  # not the next file's bytes
        self.done = progress.files_done
        if first_done and self.left > 0:
            self.left -= 1
            self.swept.extend(sweep(self.other, grace_seconds=0).prefixes)
            reclaims_dropped(self.other)


@pytest.fixture(autouse=True)
def s3_signing_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """The client signs its object-store requests for the S3 store's region (team mode's)."""
    monkeypatch.setenv("VOLC_TOS_REGION", REGION)


def client_register(server: LiveServer, api: str, folder: Path, progress: Any) -> Any:
    keys = server.default_keys()
    kwargs: dict[str, Any] = {
        "endpoint": server.url,
        "access_key": keys.ak,
        "secret_key": keys.sk,
        "region": "cn-beijing",
    }
    register = {
        "model_name": "swept",
        "model_format": "SavedModel",
        "model_type": "TensorFlow:2.4",
        "progress": progress,
    }
    if api == "sync":
        with Model(**kwargs) as model:
            return model.register(str(folder), **register)

    async def run() -> Any:
        async with AsyncModel(**kwargs) as model:
            return await model.register(str(folder), **register)

    return asyncio.run(run())


@pytest.mark.parametrize("api", ["sync", "async"])
def test_register_uploads_again_to_a_new_path_when_the_sweep_took_its_upload(
    server: LiveServer, other: Platform, tmp_path: Path, api: str
) -> None:
    files = model_folder(tmp_path / "model")
    progress = SweepAfterFirstFile(other)

    created = client_register(server, api, tmp_path / "model", progress)

    assert len(progress.swept) == 1  # the first upload was judged
    (first_unit,) = progress.swept
    keys = server.default_keys()
    with Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk, region="cn-beijing") as model:
        version = model.get_model_version(created.result.model_id, "1").result
        assert not version.path.startswith(first_unit)  # registered from a new upload
        assert recorded(server, version.path) == sorted(split_path(version.path)[1] + n for n in files)
        model.download(created.result.model_id, "1", str(tmp_path / "copy"))
        assert model.list_models().result.total == 1
    assert {p.name: p.read_bytes() for p in (tmp_path / "copy").iterdir()} == files
    # What survived of the first upload was removed: nothing will reference it.
    bucket, first_prefix = split_path(first_unit)
    assert list(server.platform.objects.list_objects(bucket, first_prefix)) == []


@pytest.mark.parametrize("api", ["sync", "async"])
def test_register_uploads_again_once_only(
    server: LiveServer, other: Platform, tmp_path: Path, api: str
) -> None:
    model_folder(tmp_path / "model")
    progress = SweepAfterFirstFile(other, times=3)

    with pytest.raises(NotFoundError) as raised:
        client_register(server, api, tmp_path / "model", progress)

    assert raised.value.code == "UploadRemoved" and raised.value.status_code == 404
    assert len(progress.swept) == 2 and progress.left == 1  # two uploads, two refusals, no third
    keys = server.default_keys()
    with Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk, region="cn-beijing") as model:
        assert model.list_models().result.total == 0
    for unit in progress.swept:
        bucket, prefix = split_path(unit)
        assert list(server.platform.objects.list_objects(bucket, prefix)) == []


@pytest.mark.parametrize("api", ["sync", "async"])
def test_register_uploads_again_when_a_resend_is_told_the_upload_was_removed(
    server: LiveServer, other: Platform, tmp_path: Path, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep took the first file of the upload; the first CreateModel is answered a 503 (an attempt
    that may have acted: the client resends it, same Path), the resend is told the upload was removed.
    The code says that no attempt of that Path registered anything, nor will: register removes what is
    left of that upload (the files written after the sweep), uploads again and registers."""
    files = model_folder(tmp_path / "model")
    progress = SweepAfterFirstFile(other)
    real = handlers.SPECIAL["CreateModel"]
    attempts: list[str] = []

    def unavailable_once(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        attempts.append(body["VersionInfo"]["Path"])
        if len(attempts) == 1:
            raise ApiError("ServiceUnavailableTemp", "try again")
        return real(platform, caller, body)

    monkeypatch.setitem(handlers.SPECIAL, "CreateModel", unavailable_once)

    created = client_register(server, api, tmp_path / "model", progress)

    (first_unit,) = progress.swept
    assert len(attempts) == 3 and attempts[0] == attempts[1] != attempts[2]  # 503, resend, new Path
    assert attempts[0].startswith(first_unit)
    keys = server.default_keys()
    with Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk, region="cn-beijing") as model:
        version = model.get_model_version(created.result.model_id, "1").result
        assert version.path == attempts[2]
        assert recorded(server, version.path) == sorted(split_path(version.path)[1] + n for n in files)
        assert model.list_models().result.total == 1
    bucket, first_prefix = split_path(first_unit)
    assert list(server.platform.objects.list_objects(bucket, first_prefix)) == []


# ---- the forms of a Path that name a swept upload (review of s12-reupload) --------------------------


def upload_prefix_in(admin: Api, folders: list[str]) -> str:
    result: str = admin.ok("GetTOSUploadPath", {"ServiceName": "modelrepo", "Path": folders})["KeyPrefix"]
    return result


def swept_with_leftovers(server: LiveServer, admin: Api, other: Platform, folders: list[str]) -> str:
    """An upload in ``folders`` whose first file the sweep (grace 0) judged, and a later file written
    after that decision: its upload prefix (a key prefix)."""
    prefix = upload_prefix_in(admin, folders)
    server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", FIRST)
    judged = upload_unit(prefix)  # the first stamp of the key: a folder of 13 digits is one
    assert judged is not None and unit_url(server, judged.prefix) in sweep(other, grace_seconds=0).prefixes
    reclaims_dropped(other)
    server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", LATER)
    return prefix


@pytest.mark.parametrize("form", ["prefix without its /", "prefix", "folder without its /", "one file"])
def test_every_form_of_a_path_in_a_swept_upload_is_refused(
    server: LiveServer, admin: Api, other: Platform, form: str
) -> None:
    """The Path ``tos://b/.../{stamp}-{tag}`` (the upload prefix without its trailing /) names the same
    objects as ``.../{stamp}-{tag}/``: CreateModel lists everything under it as a folder. It must be
    refused as the other forms are, not register the files written after the sweep's decision."""
    prefix = swept_with_leftovers(server, admin, other, ["from-sdk-repo"])
    unit = unit_url(server, prefix)
    path = {
        "prefix without its /": unit.rstrip("/"),
        "prefix": unit,
        "folder without its /": unit + "model",
        "one file": unit + "model/b-later.bin",
    }[form]

    answer = admin.call("CreateModel", {"ModelName": "partial", "VersionInfo": version_info(path)})

    refused_as_removed(server, answer, path)
    assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "partial"] == []


def test_a_path_above_a_swept_upload_does_not_register_its_leftovers(
    server: LiveServer, admin: Api, other: Platform
) -> None:
    """A Path above upload prefixes (``tos://b/modelrepo/{folder}/``) lists every upload under it: one
    of them the sweep judged must not be registered in part through it. (Nor may register's clean-up
    of that upload then remove files a version records.)"""
    folder = f"review-{uuid.uuid4().hex[:8]}"
    swept_with_leftovers(server, admin, other, [folder])
    bucket = server.platform.bucket_for(DEFAULT_ACCOUNT_ID)
    parent = f"tos://{bucket}/modelrepo/{folder}/"

    for path in (parent, parent.rstrip("/")):
        answer = admin.call("CreateModel", {"ModelName": "parent", "VersionInfo": version_info(path)})
        refused_as_removed(server, answer, path)
    assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "parent"] == []


def test_a_path_above_uploads_none_of_which_was_swept_registers(
    server: LiveServer, admin: Api, other: Platform
) -> None:
    """The check of a Path above upload prefixes refuses only for a swept upload under it: not for one
    in a folder whose name differs only where the other has a ``_`` (no LIKE wildcard)."""
    tag = uuid.uuid4().hex[:8]
    swept_with_leftovers(server, admin, other, [f"rX{tag}"])
    fresh = upload_prefix_in(admin, [f"r_{tag}"])
    server.upload(DEFAULT_ACCOUNT_ID, fresh + "model", FIRST | LATER)
    bucket = server.platform.bucket_for(DEFAULT_ACCOUNT_ID)
    parent = f"tos://{bucket}/modelrepo/r_{tag}/"

    created = admin.ok("CreateModel", {"ModelName": "whole", "VersionInfo": version_info(parent)})

    assert created["VersionInfo"]["ModelVersion"] == 1
    assert recorded(server, parent) == sorted(f"{fresh}model/{name}" for name in FIRST | LATER)


def test_an_upload_after_the_sweeps_decision_in_a_folder_named_like_a_stamp_registers(
    server: LiveServer, admin: Api, other: Platform
) -> None:
    """GetTOSUploadPath's Path may name a folder of 13 digits (a timestamp, say): the sweep then judges
    everything under that folder as one upload (the first stamp of a key). Its decision must not refuse
    for a week the uploads handed out in that folder after it, which it never judged (main registered
    them); the upload it judged stays refused."""
    folders = [f"16{uuid.uuid4().int % 10**11:011d}"]
    judged = swept_with_leftovers(server, admin, other, folders)
    time.sleep(lifecycle.RECORD_MARGIN_SECONDS + 0.2)
    fresh = upload_prefix_in(admin, folders)
    path = server.upload(DEFAULT_ACCOUNT_ID, fresh + "model", FIRST | LATER)

    created = admin.ok("CreateModel", {"ModelName": "after", "VersionInfo": version_info(path)})

    assert created["VersionInfo"]["ModelVersion"] == 1
    assert recorded(server, path) == sorted(f"{fresh}model/{name}" for name in FIRST | LATER)
    old = unit_url(server, judged) + "model/"
    refused_as_removed(
        server, admin.call("CreateModel", {"ModelName": "old", "VersionInfo": version_info(old)}), old
    )


def test_inner_register_uploads_again_to_a_new_path_when_the_sweep_took_its_upload(
    server: LiveServer, other: Platform, tmp_path: Path
) -> None:
    """The inner door's register (a platform service for a target account) does as the public one."""
    target_account, target_user = 42, 7
    add_account(server, target_account, user_id=target_user)
    files = model_folder(tmp_path / "model")
    progress = SweepAfterFirstFile(other)
    keys = server.default_keys()
    where: dict[str, Any] = {
        "endpoint": server.url,
        "access_key": keys.ak,
        "secret_key": keys.sk,
        "region": "cn-beijing",
    }

    with inner_model.Model(target_account, target_user, **where) as inner:
        created = inner.register(
            str(tmp_path / "model"),
            model_name="swept",
            model_format="ONNX",
            model_type="ONNX:1.10",
            progress=progress,
        )
        (first_unit,) = progress.swept
        assert first_unit.startswith(f"tos://{server.platform.bucket_for(target_account)}/")
        version = inner.get_model_version(created.result.model_id, "1").result
    assert not version.path.startswith(first_unit)
    assert recorded(server, version.path) == sorted(split_path(version.path)[1] + n for n in files)
    versions = server.platform.store.registered_paths([target_account]).get(target_account, [])
    assert versions == [version.path]
    bucket, first_prefix = split_path(first_unit)
    assert list(server.platform.objects.list_objects(bucket, first_prefix)) == []


@pytest.mark.parametrize("api", ["sync", "async"])
def test_a_resend_of_a_registration_that_committed_answers_its_version_and_removes_nothing(
    server: LiveServer, other: Platform, tmp_path: Path, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first CreateModel committed, its answer was lost (a 503 instead) and a sweep with grace 0 ran
    before the resend: the sweep keeps the registered upload, the resend answers the same version, and
    register removes nothing (no second registration, no upload again)."""
    files = model_folder(tmp_path / "model")
    sweep(other, grace_seconds=0)  # what earlier tests left in the bucket (PostgreSQL + S3)
    reclaims_dropped(other)
    real = handlers.SPECIAL["CreateModel"]
    attempts: list[str] = []
    swept: list[str] = []

    def lost_answer_once(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        attempts.append(body["VersionInfo"]["Path"])
        created = real(platform, caller, body)
        if len(attempts) == 1:
            swept.extend(sweep(other, grace_seconds=0).prefixes)
            raise ApiError("ServiceUnavailableTemp", "the answer was lost")
        return created

    monkeypatch.setitem(handlers.SPECIAL, "CreateModel", lost_answer_once)

    created = client_register(server, api, tmp_path / "model", None)

    assert swept == [] and len(attempts) == 2 and attempts[0] == attempts[1]
    keys = server.default_keys()
    with Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk, region="cn-beijing") as model:
        assert model.list_models().result.total == 1
        assert [v.model_version for v in model.iter_model_versions(created.result.model_id)] == [1]
        model.download(created.result.model_id, "1", str(tmp_path / "copy"))
    assert {p.name: p.read_bytes() for p in (tmp_path / "copy").iterdir()} == files
    assert recorded(server, attempts[0]) == sorted(split_path(attempts[0])[1] + n for n in files)


@pytest.mark.parametrize("name", ["9999999999999", "0000000001000", "9999999999999-abcdef12", "soon"])
def test_a_folder_named_like_a_stamp_inside_a_swept_upload_is_refused_too(
    server: LiveServer, admin: Api, other: Platform, name: str
) -> None:
    """A folder of the upload's own files named like a stamp (a checkpoint's step, a far date, a folder
    named like an upload prefix of a moment after the decision) does not make its upload look handed
    out after the sweep's decision."""
    prefix = upload_prefix(admin)
    if name == "soon":
        name = f"{round(time.time() * 1000) + 2500}-abcdef12"
    path = server.upload(DEFAULT_ACCOUNT_ID, f"{prefix}{name}", FIRST)
    assert unit_url(server, prefix) in sweep(other, grace_seconds=0).prefixes
    reclaims_dropped(other)
    time.sleep(lifecycle.RECORD_MARGIN_SECONDS + 1.7)
    server.upload(DEFAULT_ACCOUNT_ID, f"{prefix}{name}", LATER)

    answer = admin.call("CreateModel", {"ModelName": "partial", "VersionInfo": version_info(path)})

    refused_as_removed(server, answer, path)


def test_a_registration_between_the_sweeps_decision_and_its_removal_sees_the_decision(
    server: LiveServer, admin: Api, other: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sweep gives its turn back after recording its decision and takes it again to remove: a
    CreateModel between the two (another server, its own connection; SQLite's group commit on both)
    must already see the decision, or it would register files the removal then takes."""
    prefix = upload_prefix(admin)
    path = server.upload(DEFAULT_ACCOUNT_ID, prefix + "model", FIRST | LATER)
    real = lifecycle._remove_unused
    answers: list[Any] = []

    def register_first(platform: Platform, account_id: int, where: str, recorded_at: Any) -> Any:
        if where == unit_url(server, prefix) and not answers:
            body = {"ModelName": "between", "VersionInfo": version_info(path)}
            answers.append(admin.call("CreateModel", body))
        return real(platform, account_id, where, recorded_at)

    monkeypatch.setattr(lifecycle, "_remove_unused", register_first)
    assert unit_url(server, prefix) in sweep(other, grace_seconds=0).prefixes

    (answer,) = answers
    refused_as_removed(server, answer, path)
    assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "between"] == []
    bucket, key_prefix = split_path(unit_url(server, prefix))
    assert list(server.platform.objects.list_objects(bucket, key_prefix)) == []


def test_other_spellings_of_a_swept_uploads_path_register_nothing(
    server: LiveServer, admin: Api, other: Platform
) -> None:
    """Spellings of the Path that the swept-uploads check does not derive the prefix from (an empty
    segment) name no objects of the upload on either store, and another scheme or its case is refused
    by the schema: nothing is registered of it either."""
    prefix = swept_with_leftovers(server, admin, other, ["from-sdk-repo"])
    bucket = server.platform.bucket_for(DEFAULT_ACCOUNT_ID)
    for path in (
        f"tos://{bucket}//{prefix}model/",
        f"tos://{bucket}/{prefix}/model/",
        f"tos://{bucket}/{prefix.replace('/', '//', 1)}model/",
        f"TOS://{bucket}/{prefix}model/",
        f"s3://{bucket}/{prefix}model/",
    ):
        answer = admin.call("CreateModel", {"ModelName": "spelled", "VersionInfo": version_info(path)})
        assert answer.status_code in (400, 404), (path, answer.text)  # a 400: the schema refuses it
    assert [m for m in admin.list_all("ListModels") if m["ModelName"] == "spelled"] == []

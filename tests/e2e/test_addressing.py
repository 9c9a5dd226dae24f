"""What users of huggingface_hub, MLflow and boto3 expect of the Python API: iterators over every
page, models addressed by name and versions as ``latest``, upload selection, a missing ``model_id``
refused before any upload, downloads that keep matching files and refuse to overwrite differing ones,
and a readable ``repr``."""

from __future__ import annotations

import asyncio
import os
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from volcengine_ml_platform.async_session import AsyncSession
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.embedded import embedded_app
from volcengine_ml_platform.errors import ConflictError, NotFoundError, ValidationError
from volcengine_ml_platform.models._name_lock import NameLock
from volcengine_ml_platform.models._plan import Stopped
from volcengine_ml_platform.models.model import AsyncModel

from .helpers import (
    CPU_FLAVORS,
    MISSING_MODEL,
    PERF_TENSOR_CONFIG,
    Peer,
    RecordingTransport,
    read_tree,
    split_tos,
    unwrapped,
)


def _model_folder(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def _register(peer: Peer, folder: Path, name: str, **kw: object) -> str:
    resp = peer.model().register(
        str(folder),
        model_name=name,
        model_format="ONNX",
        model_type="ONNX:1.23",
        **kw,  # type: ignore[arg-type]
    )
    return resp.result.model_id


@pytest.fixture
def small_model(tmp_path: Path) -> Path:
    return _model_folder(tmp_path / "small", {"model.onnx": b"onnx-bytes", "config.json": b"{}"})


# ---- iterators --------------------------------------------------------------------------------------


def test_iterators_page_through_everything_with_the_filters(peer: Peer, small_model: Path) -> None:
    prefix = f"iter-{uuid.uuid4().hex[:8]}"
    ids = [_register(peer, small_model, f"{prefix}-{i}") for i in range(7)]
    model, transport = peer.recording_model()

    found = list(model.iter_models(model_name_contains=prefix, page_size=2))
    assert [m.model_id for m in found] == ids[::-1]  # newest first, the default order
    assert transport.actions.count("ListModels") == 4  # 2 + 2 + 2 + 1: more than 3 pages
    ascending = model.iter_models(model_name_contains=prefix, sort_order="Ascend", page_size=3)
    assert [m.model_id for m in ascending] == ids

    for _ in range(6):  # 7 versions in all
        peer.model().register(str(small_model), model_id=ids[0])
    versions = list(model.iter_model_versions(ids[0], page_size=2, sort_order="Ascend"))
    assert [v.model_version for v in versions] == list(range(1, 8))

    job = model.create_perf_job(
        ids[0], "1", PERF_TENSOR_CONFIG, "PERF_ONLY", [{"FlavorIDList": list(CPU_FLAVORS)}]
    ).result.job_id
    jobs = list(model.iter_perf_jobs(model_id=ids[0], model_version="1", page_size=1))
    assert [j.job_id for j in jobs] == [job]
    tasks = list(model.iter_perf_tasks(job_id=job, page_size=1))
    assert len(tasks) == len(CPU_FLAVORS) and {t.job_id for t in tasks} == {job}

    services = [model.deploy(ids[0], "1", f"{prefix}-svc-{i}", flavor="ml.c1i.large") for i in range(4)]
    listed = list(model.iter_services(service_name_contains=prefix, page_size=1))
    assert {s.service_id for s in listed} == {s.service_id for s in services}
    for service in services:
        service.delete()


def test_an_iterator_fetches_pages_only_as_it_goes(peer: Peer, small_model: Path) -> None:
    prefix = f"lazy-{uuid.uuid4().hex[:8]}"
    for i in range(3):
        _register(peer, small_model, f"{prefix}-{i}")
    model, transport = peer.recording_model()
    items = model.iter_models(model_name_contains=prefix, page_size=1)
    assert transport.actions == []
    next(items)
    assert transport.actions == ["ListModels"]


def test_iterator_arguments_are_checked_like_the_list_methods(embedded_peer: Peer) -> None:
    with pytest.raises(ValidationError) as caught:
        next(embedded_peer.model().iter_models(page_size=0))
    assert caught.value.field == "page_size"


# ---- names and latest -----------------------------------------------------------------------------


def test_models_are_found_by_name_and_versions_as_latest(peer: Peer, small_model: Path) -> None:
    name = f"named-{uuid.uuid4().hex[:8]}"
    model = peer.model()
    model_id = _register(peer, small_model, name)
    _register(peer, small_model, f"{name}-longer")  # contains the name: not a match
    assert model.get_model_by_name(name).model_id == model_id
    assert model.resolve_model_id(name) == model_id and model.resolve_model_id(model_id) == model_id

    again = model.register(
        str(small_model), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
        if_exists="new_version",
    )  # fmt: skip
    assert again.result.model_id == model_id and again.result.version_info.model_version == 2
    assert model.get_model_version(model_id, "latest").result.model_version == 2
    assert model.get_model_versions(model_id, "latest").result.list_[0].model_version == 2

    with pytest.raises(ConflictError) as exists:
        model.register(
            str(small_model), model_name=name, model_format="ONNX", model_type="ONNX:1.23", if_exists="error"
        )
    assert model_id in str(exists.value)

    # The default keeps the documented behaviour: a second model of the same name ...
    twin = _register(peer, small_model, name)
    assert twin != model_id
    # ... after which the name is no longer an address, and the error says why.
    with pytest.raises(ConflictError) as ambiguous:
        model.get_model_by_name(name)
    assert model_id in str(ambiguous.value) and twin in str(ambiguous.value)
    with pytest.raises(ConflictError):
        model.register(
            str(small_model), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
            if_exists="new_version",
        )  # fmt: skip
    with pytest.raises(NotFoundError):
        model.get_model_by_name(f"{name}-none")


def test_every_method_taking_one_version_takes_latest_as_the_cli_does(peer: Peer, small_model: Path) -> None:
    """``deploy``, ``create_perf_job``, ``update_model_version`` and ``unregister`` take ``"latest"`` like
    ``download`` and ``get_model_version`` (and every ``mlp`` command): the highest version at the time
    of the call, which a service then keeps."""
    name = f"latest-{uuid.uuid4().hex[:8]}"
    model_id = _register(peer, small_model, name)
    peer.model().register(str(small_model), model_id=model_id)
    model, wire = peer.recording_model()

    service = model.deploy(model_id, "latest", f"{name}-svc", flavor="ml.c1i.large")
    assert wire.actions == ["ListResource", "GetModel", "CreateService"]  # resolved once, before it
    deployed = service.refresh().result.service_deployment.model
    assert (deployed.model_version_id, deployed.version) == (f"{model_id}-2", "2")

    job = model.create_perf_job(
        model_id, "Latest", PERF_TENSOR_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.c1i.large"]}]
    )
    assert job.result.model_version_id == f"{model_id}-2"
    # Listing a version's perf jobs takes "latest" too, as `mlp perf list --version latest` does.
    listed = model.list_perf_jobs(model_id=model_id, model_version="latest").result
    assert [j.job_id for j in listed.list_] == [job.result.job_id]
    assert [j.job_id for j in model.iter_perf_jobs(model_id=model_id, model_version="latest")] == [
        job.result.job_id
    ]
    assert model.list_perf_jobs(model_id=model_id, model_version="1").result.total == 0
    model.cancel_perf_job(job.result.job_id)
    updated = model.update_model_version(model_id, "LATEST", description="the newest")
    assert updated.result.model_version_id == f"{model_id}-2"
    assert model.get_model_version(model_id, "2").result.description == "the newest"

    peer.model().register(str(small_model), model_id=model_id)  # version 3: "latest" follows it ...
    assert model.unregister(model_id, "latest").result.model_version_id == f"{model_id}-3"
    # ... but the service keeps the version it was deployed with.
    assert service.refresh().result.service_deployment.model.version == "2"
    service.delete()


@pytest.mark.parametrize("bad", ["newest", "0", "-1", "", "1.5", "²"])
def test_a_version_that_is_neither_a_number_nor_latest_is_refused_naming_both(
    embedded_peer: Peer, bad: str
) -> None:
    model, wire = embedded_peer.recording_model()
    calls = [
        lambda: model.deploy(MISSING_MODEL, bad, "svc", flavor="ml.c1i.large"),
        lambda: model.create_perf_job(MISSING_MODEL, bad, PERF_TENSOR_CONFIG, "PERF_ONLY", []),
        lambda: model.update_model_version(MISSING_MODEL, bad, description="x"),
        lambda: model.unregister(MISSING_MODEL, bad),
        lambda: model.get_model_version(MISSING_MODEL, bad),
        lambda: model.download(MISSING_MODEL, bad, "never-written"),
        lambda: model.list_perf_jobs(model_id=MISSING_MODEL, model_version=bad),
    ]
    for call in calls:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == "model_version", info.value
        assert repr(bad) in info.value.message and "'latest'" in info.value.message
        assert "version number" in info.value.message
    assert wire.actions == []  # refused before anything was sent
    assert not Path("never-written").exists()


def test_if_exists_new_version_creates_the_model_when_none_has_the_name(
    embedded_peer: Peer, small_model: Path
) -> None:
    name = f"fresh-{uuid.uuid4().hex[:8]}"
    resp = embedded_peer.model().register(
        str(small_model), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
        if_exists="new_version",
    )  # fmt: skip
    assert resp.result.version_info.model_version == 1
    with pytest.raises(ValidationError) as caught:
        embedded_peer.model().register(str(small_model), model_name=name, if_exists="replace")
    assert caught.value.field == "if_exists" and "new_version" in str(caught.value)


def test_a_registration_that_creates_a_name_makes_another_of_that_name_wait(
    peer: Peer, small_model: Path
) -> None:
    """``if_exists="new_version"`` is a lookup then a CreateModel. A registration that finds no model of
    the name holds that name (on this machine) until its model exists; another one waiting for it looks
    again and adds its version to that model, instead of making a second model of the name (after which
    every ``new_version`` of it raised ConflictError)."""
    name = f"race-{uuid.uuid4().hex[:8]}"
    model, wire = peer.recording_model()
    core = unwrapped(model)._core  # type: ignore[attr-defined]
    held = NameLock(core.scope, core.credentials.access_key, name)
    held.acquire(threading.Event())  # another registration of the name is creating it
    outcome: list[object] = []

    def register() -> None:
        done = model.register(str(small_model), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
                              if_exists="new_version")  # fmt: skip
        outcome.append(done)

    waiting = threading.Thread(target=register)
    waiting.start()
    try:
        deadline = time.monotonic() + 60
        while wire.actions != ["ListModels"] and time.monotonic() < deadline:  # it found none, then waits
            time.sleep(0.01)
        assert wire.actions == ["ListModels"]
        first = _register(peer.using("sync"), small_model, name)  # ... which the other one creates now
    finally:
        held.release()
    waiting.join(60)

    (registered,) = outcome
    assert registered.result.model_id == first  # type: ignore[attr-defined]
    assert registered.result.version_info.model_version == 2  # type: ignore[attr-defined]
    assert [m.model_id for m in peer.model().find_models(name)] == [first]
    assert wire.actions[:2] == ["ListModels", "ListModels"]  # looked again once it had the name

    # "error" waits the same way, and then refuses before uploading anything.
    held.acquire(threading.Event())
    held.release()  # free again: nothing kept it after the registration ended
    with pytest.raises(ConflictError):
        model.register(str(small_model), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
                       if_exists="error")  # fmt: skip


def test_an_async_registration_cancelled_while_waiting_for_its_name_stops_waiting(
    embedded_peer: Peer, small_model: Path
) -> None:
    name = f"cancel-{uuid.uuid4().hex[:8]}"

    async def scenario() -> list[str]:
        wire = RecordingTransport(httpx.ASGITransport(app=embedded_app(embedded_peer.data_dir)))
        session = AsyncSession(resolve_settings(data_dir=embedded_peer.data_dir), transport=wire)
        async with AsyncModel(session=session) as model:
            held = NameLock(model._core.scope, model._core.credentials.access_key, name)
            held.acquire(threading.Event())  # another registration is creating the name
            try:
                task = asyncio.create_task(
                    model.register(
                        str(small_model),
                        model_name=name,
                        model_format="ONNX",
                        model_type="ONNX:1.23",
                        if_exists="new_version",
                    )
                )
                deadline = time.monotonic() + 60
                while wire.actions != ["ListModels"] and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                assert wire.actions == ["ListModels"]  # it found none and waits for the name
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            finally:
                held.release()
            assert wire.actions == ["ListModels"]  # nothing uploaded, nothing created
            again = NameLock(model._core.scope, model._core.credentials.access_key, name)
            again.acquire(threading.Event())  # the cancelled one does not hold it
            again.release()
            return [m.model_id for m in await model.find_models(name)]

    assert asyncio.run(scenario()) == []  # nothing was registered


def test_concurrent_registrations_of_a_new_name_make_one_model(peer: Peer, small_model: Path) -> None:
    name = f"together-{uuid.uuid4().hex[:8]}"
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def register() -> None:
        model = peer.model()
        barrier.wait()
        try:
            model.register(str(small_model), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
                           if_exists="new_version")  # fmt: skip
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=register) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    (only,) = peer.model().find_models(name)
    assert only.model_versions_count == 3


# ---- uploads ------------------------------------------------------------------------------------------


def test_upload_selection_default_ignores_mlpignore_and_patterns(peer: Peer, tmp_path: Path) -> None:
    folder = _model_folder(
        tmp_path / "repo",
        {
            "model.onnx": b"weights",
            "tokenizer/vocab.txt": b"a b c",
            "notes.md": b"# notes",
            "ckpt/step-1.ckpt": b"old",
            "ckpt/keep.ckpt": b"kept",
            ".git/HEAD": b"ref: refs/heads/main",
            "src/__pycache__/x.cpython-311.pyc": b"\x00",
            ".DS_Store": b"\x00",
            "sub/.DS_Store": b"\x00",
            ".mlpignore": b"# checkpoints stay home\n*.ckpt\n!keep.ckpt\n",
        },
    )
    model = peer.model()
    everything = model.register(
        str(folder), model_name=f"sel-{uuid.uuid4().hex[:8]}", model_format="ONNX", model_type="ONNX:1.23"
    )
    path = model.get_model_version(everything.result.model_id, "1").result.path
    _, prefix = split_tos(path)
    uploaded = {k.removeprefix(prefix) for k in peer.object_keys(prefix=prefix)}
    assert uploaded == {"model.onnx", "tokenizer/vocab.txt", "notes.md", "ckpt/keep.ckpt"}

    some = model.register(
        str(folder), model_id=everything.result.model_id,
        allow_patterns=["*.onnx", "tokenizer/"], ignore_patterns=["*.txt"],
    )  # fmt: skip
    path = model.get_model_version(some.result.model_id, str(some.result.version_info.model_version))
    _, prefix = split_tos(path.result.path)
    assert {k.removeprefix(prefix) for k in peer.object_keys(prefix=prefix)} == {"model.onnx"}


def test_a_missing_model_id_is_refused_before_any_upload(embedded_peer: Peer, small_model: Path) -> None:
    model, transport = embedded_peer.recording_model()
    before = embedded_peer.snapshot()
    with pytest.raises(NotFoundError):
        model.register(str(small_model), model_id=MISSING_MODEL)
    assert transport.actions == ["GetModel"]  # no upload path asked, no CreateModel
    assert embedded_peer.snapshot() == before


# ---- downloads ----------------------------------------------------------------------------------------


def test_download_keeps_matching_files_and_refuses_differing_ones(
    any_peer: Peer, small_model: Path, tmp_path: Path
) -> None:
    model = any_peer.model()
    model_id = _register(any_peer, small_model, f"dl-{uuid.uuid4().hex[:8]}")
    dest = tmp_path / "copy"
    model.download(model_id, "latest", str(dest))
    assert read_tree(dest) == read_tree(small_model)

    kept = dest / "model.onnx"
    before = kept.stat().st_mtime_ns, kept.stat().st_ino
    model.download(model_id, "1", str(dest))  # everything matches: nothing is moved again
    assert (kept.stat().st_mtime_ns, kept.stat().st_ino) == before

    kept.write_bytes(b"edited by hand")
    (dest / "config.json").unlink()
    with pytest.raises(ValidationError) as refused:
        model.download(model_id, "1", str(dest))
    assert "model.onnx" in str(refused.value) and "overwrite=True" in str(refused.value)
    assert kept.read_bytes() == b"edited by hand" and not (dest / "config.json").exists()  # untouched

    files = model.download(model_id, "1", str(dest), overwrite=True)
    assert sorted(p.name for p in files) == ["config.json", "model.onnx"]
    assert read_tree(dest) == read_tree(small_model)


# ---- repr ---------------------------------------------------------------------------------------------


def test_repr_of_a_response_shows_set_fields_only(embedded_peer: Peer, small_model: Path) -> None:
    model = embedded_peer.model()
    model_id = _register(embedded_peer, small_model, f"repr-{uuid.uuid4().hex[:8]}")
    text = repr(model.get_model(model_id))
    assert text.startswith("GetModelResponse(response_metadata=ResponseMetadata(") and model_id in text
    assert "Unset" not in text and "object at 0x" not in text and "dataset_id" not in text


def test_a_name_lock_leaves_no_file_behind_and_stays_exclusive_across_its_removal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A released name's lock file is removed (the folder does not keep a file per name ever created);
    a registration that was waiting on the removed file locks the path's new one, and still only one
    registration holds the name at a time."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    first = NameLock("scope", "AK", "name")
    first.acquire(threading.Event())
    second = NameLock("scope", "AK", "name")
    waiting = threading.Thread(target=second.acquire, args=(threading.Event(),))
    waiting.start()
    deadline = time.monotonic() + 30
    while not _waits_on(first.path) and time.monotonic() < deadline:  # second has the file open
        time.sleep(0.01)
    first.release()
    waiting.join(30)
    assert not waiting.is_alive()
    assert second.path.exists()  # the new file, held by second

    third, stop = NameLock("scope", "AK", "name"), threading.Event()
    outcome: list[BaseException] = []

    def try_third() -> None:
        try:
            third.acquire(stop)
        except Stopped as exc:
            outcome.append(exc)

    blocked = threading.Thread(target=try_third)
    blocked.start()
    time.sleep(0.2)
    assert blocked.is_alive()  # second holds the name: third waits
    stop.set()
    blocked.join(30)
    assert len(outcome) == 1  # it gave up, never having held the name
    second.release()
    assert list(second.path.parent.iterdir()) == []


def _waits_on(path: Path) -> bool:
    """Whether a thread of this process other than the holder has ``path`` open (Linux /proc)."""
    target = path.resolve()
    opened = [
        fd for fd in Path("/proc/self/fd").iterdir() if fd.is_symlink() and Path(fd.readlink()) == target
    ]
    return len(opened) >= 2


@pytest.mark.parametrize("in_the_way", ["a file", "a folder others may write"])
def test_registering_goes_on_without_the_name_lock_when_its_folder_is_not_this_users_own(
    peer: Peer, small_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_the_way: str
) -> None:
    """The lock only guards duplicate names: a temp folder where it cannot be made safely (something
    else at its path, or a folder other users may write, where they could hold a lock forever or plant
    links) means registering without it, not failing."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    spot = temp / f"volcengine-ml-platform-{os.getuid()}"
    if in_the_way == "a file":
        spot.write_text("")
    else:
        spot.mkdir()
        spot.chmod(0o777)
    monkeypatch.setattr("tempfile.tempdir", str(temp))
    name = f"unlocked-{uuid.uuid4().hex[:8]}"
    done = peer.model().register(
        str(small_model),
        model_name=name,
        model_format="ONNX",
        model_type="ONNX:1.23",
        if_exists="new_version",
    )
    assert [m.model_id for m in peer.model().find_models(name)] == [done.result.model_id]
    assert not (spot / "names").exists()  # nothing was made inside a folder that is not ours alone

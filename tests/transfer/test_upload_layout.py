"""What upload_path sends where (wire protocol section 6), and what it refuses."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from volcengine_ml_platform.errors import TransferError, UploadWarning, ValidationError
from volcengine_ml_platform.transfer import FolderStore, download_prefix, manager, parse_tos_url, upload_path
from volcengine_ml_platform.transfer.manager import _files_below
from volcengine_ml_platform.transfer.retry import RetryPolicy
from volcengine_ml_platform.transfer.selection import file_filter

from .conftest import StoreCase


def keys(store: FolderStore) -> list[str]:
    return [o.key for o in store.list_objects("models", "")]


@pytest.mark.parametrize(
    ("url", "parsed"),
    [
        ("tos://bucket-1/a/b/", ("bucket-1", "a/b/")),
        ("tos://bucket-1/a/b", ("bucket-1", "a/b")),
        ("tos://bucket-1/", ("bucket-1", "")),
        ("tos://bucket-1", ("bucket-1", "")),
        (
            "tos://ml-platform-auto-created-required-2100000050-cn-north-4/modelrepo/from-sdk-repo/1631236594036/1/",
            (
                "ml-platform-auto-created-required-2100000050-cn-north-4",
                "modelrepo/from-sdk-repo/1631236594036/1/",
            ),
        ),
    ],
)
def test_parse_tos_url(url: str, parsed: tuple[str, str]) -> None:
    assert parse_tos_url(url) == parsed


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("s3://bucket/a", "not a tos:// URL"),
        ("bucket/a", "not a tos:// URL"),
        ("tos:///a", "no bucket"),
        ("tos://Bad_Bucket/a", "invalid bucket name 'Bad_Bucket'"),
        ("tos://b/a", "invalid bucket name 'b'"),
    ],
)
def test_parse_tos_url_errors(url: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_tos_url(url)


def test_folder_goes_under_its_basename(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    (tmp_path / "work" / "resnet" / "sub").mkdir(parents=True)
    (tmp_path / "work" / "resnet" / "sub" / "w.bin").write_bytes(b"w")
    (tmp_path / "work" / "resnet" / "config.json").write_bytes(b"{}")

    url = upload_path(store, tmp_path / "work" / "resnet", "models", "repo/123/")

    assert url == "tos://models/repo/123/resnet/"
    assert keys(store) == ["repo/123/resnet/config.json", "repo/123/resnet/sub/w.bin"]


def test_folder_given_as_dot_uses_its_real_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FolderStore(tmp_path / "root")
    (tmp_path / "resnet").mkdir()
    (tmp_path / "resnet" / "a").write_bytes(b"a")
    monkeypatch.chdir(tmp_path / "resnet")

    assert upload_path(store, Path("."), "models", "p/") == "tos://models/p/resnet/"
    assert keys(store) == ["p/resnet/a"]


def test_single_file_goes_directly_under_the_prefix(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    (tmp_path / "model.pt").write_bytes(b"pt")

    assert upload_path(store, tmp_path / "model.pt", "models", "repo/123/") == "tos://models/repo/123/"
    assert keys(store) == ["repo/123/model.pt"]


def test_symlinks_are_followed_without_looping(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "blob").write_bytes(b"blob")
    model = tmp_path / "model"
    model.mkdir()
    (model / "weights.bin").symlink_to(shared / "blob")
    (model / "linked").symlink_to(shared)
    (model / "loop").symlink_to(model)
    (model / "dangling").symlink_to(tmp_path / "missing")

    # What is left out is said as an UploadWarning, which a program sees without configuring logging.
    with pytest.warns(UploadWarning) as said:
        upload_path(store, model, "models", "")

    assert keys(store) == ["model/linked/blob", "model/weights.bin"]
    assert {w.filename for w in said} == {manager.__file__}  # one place, whichever check skipped it
    assert sorted(str(w.message) for w in said) == [
        f"skipping {model / 'dangling'}: a symlink to {tmp_path / 'missing'}, which does not exist",
        f"skipping {model / 'loop'}: a symlink back to a folder that contains it",
    ]


@pytest.mark.parametrize("prefix", ["no-slash", "/abs/", "a//b/", "../up/"])
def test_bad_key_prefix_is_refused(tmp_path: Path, prefix: str) -> None:
    (tmp_path / "f").write_bytes(b"f")
    with pytest.raises(ValidationError, match="key_prefix"):
        upload_path(FolderStore(tmp_path / "root"), tmp_path / "f", "models", prefix)


def test_missing_path_is_refused(tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="no such file or folder"):
        upload_path(FolderStore(tmp_path / "root"), tmp_path / "missing", "models", "p/")


def test_file_name_that_cannot_be_a_key_is_refused_before_anything_is_sent(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "a.bin").write_bytes(b"a")
    (tmp_path / "m" / "back\\slash").write_bytes(b"b")

    with pytest.raises(TransferError, match="backslash"):
        upload_path(store, tmp_path / "m", "models", "p/")
    assert keys(store) == []


@pytest.mark.parametrize("where", ["file", "folder", "single-file"])
def test_a_name_that_is_not_utf8_is_refused_before_anything_is_sent(
    case: StoreCase, tmp_path: Path, where: str
) -> None:
    """Object keys are UTF-8 (S3 refuses other bytes half-way through an upload; the folder store
    would take them): every store refuses such a name up front, naming the file as its bytes read."""
    root = tmp_path / ("m\xff" if where == "folder" else "m")
    os.makedirs(os.fsencode(root))
    (root / "ok.txt").write_bytes(b"ok")
    bad = os.path.join(os.fsencode(root), b"w\xff.bin")
    with open(bad, "wb") as f:
        f.write(b"x")
    target = root if where != "single-file" else Path(os.fsdecode(bad))

    with pytest.raises(ValidationError, match=r"cannot upload .*\\xff.*its name is not UTF-8") as info:
        upload_path(case.store, target, case.bucket, "p/")

    assert info.value.field == "local_path"
    assert list(case.store.list_objects(case.bucket, "p/")) == []


def test_a_name_that_is_not_utf8_but_left_out_is_no_concern(case: StoreCase, tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "ok.txt").write_bytes(b"ok")
    with open(os.path.join(os.fsencode(tmp_path / "m"), b"w\xff.ckpt"), "wb") as f:
        f.write(b"x")
    select = file_filter(tmp_path / "m", ignore_patterns=["*.ckpt"])

    url = upload_path(case.store, tmp_path / "m", case.bucket, "p/", select=select)

    assert [o.key for o in case.store.list_objects(*parse_tos_url(url))] == ["p/m/ok.txt"]


def test_unreadable_folder_is_an_error_not_a_silent_skip(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # chmod 0 does not stop root (CI runs as root), so the OS's refusal is made by os.scandir itself.
    locked = tmp_path / "m" / "locked"
    locked.mkdir(parents=True)
    (tmp_path / "m" / "a.bin").write_bytes(b"a")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if Path(path) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    store = FolderStore(tmp_path / "root")
    with pytest.raises(TransferError, match=r"cannot read .*locked: Permission denied"):
        upload_path(store, tmp_path / "m", "models", "p/")
    assert keys(store) == []


class ThreadRecordingStore(FolderStore):
    """A folder store that records which thread wrote each object."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.threads: set[str] = set()
        self.by_key: dict[str, str] = {}
        self.fail_key: str | None = None

    def put_file(self, bucket: str, key: str, path: Path, **kwargs: Any) -> Any:
        import threading

        self.threads.add(threading.current_thread().name)
        self.by_key[key] = threading.current_thread().name
        if key == self.fail_key:
            raise TransferError(f"refusing {key}")
        return super().put_file(bucket, key, path, **kwargs)

    def get_file(self, bucket: str, obj: Any, dest: Path, **kwargs: Any) -> Any:
        import threading

        self.by_key[obj.key] = threading.current_thread().name
        return super().get_file(bucket, obj, dest, **kwargs)


def test_a_few_small_files_upload_in_the_calling_thread_and_many_on_the_pool(tmp_path: Path) -> None:
    import threading

    from volcengine_ml_platform.transfer.manager import SMALL_UPLOAD_FILES

    small, many = tmp_path / "small", tmp_path / "many"
    for folder, count in ((small, 2), (many, SMALL_UPLOAD_FILES + 1)):
        folder.mkdir()
        for i in range(count):
            (folder / f"f{i}").write_bytes(os.urandom(64))
    store = ThreadRecordingStore(tmp_path / "root")
    store.small_files_in_one_lane = None  # one task per file, as for S3
    upload_path(store, small, "models", "a/")
    assert store.threads == {threading.current_thread().name}  # no pool for two small files
    assert sorted(keys(store)) == ["a/small/f0", "a/small/f1"]
    store.threads.clear()
    upload_path(store, many, "models", "b/")
    assert all(name.startswith("mlp-upload") for name in store.threads)
    assert len([k for k in keys(store) if k.startswith("b/")]) == SMALL_UPLOAD_FILES + 1


def test_listing_stats_each_file_once_and_takes_sizes_from_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    for name, data in {"a.bin": b"a" * 10, "sub/b.bin": b"b" * 20, "sub/c.bin": b"c" * 30}.items():
        (model / name).write_bytes(data)
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path: Any, *args: Any, **kwargs: Any) -> os.stat_result:
        stats.append(os.fspath(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", counting_stat)
    listed = _files_below(model)
    monkeypatch.undo()

    assert [(rel, size) for _, rel, size in listed] == [("a.bin", 10), ("sub/b.bin", 20), ("sub/c.bin", 30)]
    files = [os.fspath(path) for path, _, _ in listed]
    assert sorted(p for p in stats if p in files) == files  # each file once, no second stat for its size


def test_a_file_removed_while_the_folder_is_listed_is_skipped_with_a_warning(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    model = tmp_path / "model"
    model.mkdir()
    (model / "kept.bin").write_bytes(b"kept")
    (model / "gone.bin").write_bytes(b"gone")

    def select(rel: str) -> bool:  # runs after the folder was read and before the file's stat
        if rel == "gone.bin":
            (model / rel).unlink()
        return True

    with pytest.warns(UploadWarning, match="disappeared while the folder was listed") as said:
        upload_path(store, model, "models", "", select=select)

    assert keys(store) == ["model/kept.bin"]
    assert said[0].filename == manager.__file__  # attributed to upload_path, as every left-out file is


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_names_its_temporaries_with_its_own_process_id(tmp_path: Path) -> None:
    from volcengine_ml_platform.transfer import folder

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it would name temporaries with, then leave at once
        try:
            os.write(write, f"{folder._PID[0]} {os.getpid()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    reported = os.read(read, 100).decode().split()
    os.close(read)
    os.waitpid(pid, 0)
    assert reported[0] == reported[1] == str(pid)
    assert folder._PID[0] == os.getpid() != pid


def test_the_folder_store_moves_small_files_in_one_lane_beside_the_large_ones(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    store = ThreadRecordingStore(tmp_path / "root")
    assert store.small_files_in_one_lane is not None
    (model / "big.bin").write_bytes(os.urandom(store.small_files_in_one_lane + 1))
    small = {f"s{i:02d}.bin": os.urandom(100 + i) for i in range(20)}
    for name, data in small.items():
        (model / name).write_bytes(data)

    upload_path(store, model, "models", "")
    uploaded = dict(store.by_key)
    store.by_key.clear()
    download_prefix(store, "tos://models/model/", tmp_path / "out")

    for moved, pool in ((uploaded, "mlp-upload"), (store.by_key, "mlp-download")):
        lanes = {moved[f"model/{name}"] for name in small}
        assert len(lanes) == 1  # every small file in one thread...
        assert lanes.pop().startswith(pool)  # ...of the pool, which runs the large file's task beside it
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == {
        "big.bin": (model / "big.bin").read_bytes(),
        **small,
    }


def test_a_failure_in_the_small_files_lane_stops_it_at_the_next_file(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    for i in range(10):
        (model / f"f{i}.bin").write_bytes(b"x")  # equal sizes: the lane keeps the listing's order
    store = ThreadRecordingStore(tmp_path / "root")
    store.fail_key = "model/f3.bin"

    with pytest.raises(TransferError, match=r"refusing model/f3\.bin"):
        upload_path(store, model, "models", "", retry=RetryPolicy(max_attempts=1))

    assert keys(store) == ["model/f0.bin", "model/f1.bin", "model/f2.bin"]
    assert sorted(store.by_key) == [f"model/f{i}.bin" for i in range(4)]  # nothing tried after f3

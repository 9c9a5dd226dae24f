"""FolderStore: keys stay inside root, checksums live outside the key space, writers never tear objects."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from pathlib import Path

import pytest
from blake3 import blake3

from volcengine_ml_platform.errors import TransferError, ValidationError
from volcengine_ml_platform.transfer import FolderStore, ObjectInfo


def put_bytes(store: FolderStore, tmp_path: Path, key: str, data: bytes) -> ObjectInfo:
    src = tmp_path / f"src-{hashlib.md5(data).hexdigest()}"
    src.write_bytes(data)
    return store.put_file("models", key, src)


def test_object_is_the_file_root_bucket_key(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    info = put_bytes(store, tmp_path, "a/b/c.bin", b"hello")

    assert (tmp_path / "root" / "models" / "a" / "b" / "c.bin").read_bytes() == b"hello"
    assert info == ObjectInfo("a/b/c.bin", 5, blake3=blake3(b"hello").hexdigest())
    assert store.head("models", "a/b/c.bin") == info
    assert store.head("models", "a/b") is None  # a folder is not an object
    assert store.head("models", "nope") is None


def test_checksums_are_outside_the_key_space(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    for key in ("x.bin", "d/y.bin", "d/e/z.bin"):
        put_bytes(store, tmp_path, key, key.encode())

    assert [o.key for o in store.list_objects("models", "")] == ["d/e/z.bin", "d/y.bin", "x.bin"]
    assert sorted(p.name for p in (tmp_path / "root" / "models").rglob("*") if p.is_file()) == [
        "x.bin",
        "y.bin",
        "z.bin",
    ]
    assert list((tmp_path / "root" / ".tmp").iterdir()) == []
    with pytest.raises(ValidationError):
        store.head(".meta", "models/x.bin")  # bookkeeping folders are not buckets


def test_listing_matches_string_prefixes_like_s3(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    for key in ("m/1/a", "m/10/b", "m/2/c", "n/d"):
        put_bytes(store, tmp_path, key, key.encode())

    assert [o.key for o in store.list_objects("models", "m/1")] == ["m/1/a", "m/10/b"]
    assert [o.key for o in store.list_objects("models", "m/1/")] == ["m/1/a"]
    assert [o.key for o in store.list_objects("models", "m/")] == ["m/1/a", "m/10/b", "m/2/c"]
    assert list(store.list_objects("models", "zzz/")) == []
    assert list(store.list_objects("other-bucket", "")) == []


@pytest.mark.parametrize(
    "key", ["../x", "a/../../x", "/etc/passwd", "a\\b", "a\x00b", "a//b", "./a", "a/", ""]
)
def test_keys_that_could_escape_root_are_refused(tmp_path: Path, key: str) -> None:
    store = FolderStore(tmp_path / "root")
    (tmp_path / "f").write_bytes(b"x")

    with pytest.raises(ValidationError, match="invalid object key"):
        store.put_file("models", key, tmp_path / "f")
    with pytest.raises(ValidationError):
        store.head("models", key)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "root"]


def test_a_key_cannot_also_be_a_folder(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    put_bytes(store, tmp_path, "a/b", b"1")

    with pytest.raises(TransferError, match="collide"):
        put_bytes(store, tmp_path, "a", b"2")
    with pytest.raises(TransferError, match="collide"):
        put_bytes(store, tmp_path, "a/b/c", b"3")
    assert [o.key for o in store.list_objects("models", "")] == ["a/b"]


def test_delete_prefix_removes_objects_checksums_and_empty_folders(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    for key in ("m/1/a", "m/1/sub/b", "m/2/c"):
        put_bytes(store, tmp_path, key, key.encode())

    assert store.delete_prefix("models", "m/1/") == 2

    assert [o.key for o in store.list_objects("models", "")] == ["m/2/c"]
    assert not (tmp_path / "root" / "models" / "m" / "1").exists()
    assert not (tmp_path / "root" / ".meta" / "models" / "m" / "1").exists()


def test_symlinks_planted_in_the_store_are_not_objects(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    put_bytes(store, tmp_path, "m/a", b"a")
    (tmp_path / "secret").write_bytes(b"secret")
    (tmp_path / "root" / "models" / "m" / "link").symlink_to(tmp_path / "secret")

    assert [o.key for o in store.list_objects("models", "m/")] == ["m/a"]
    with pytest.raises(TransferError, match="does not exist"):
        store.get_file("models", ObjectInfo("m/link", 6), tmp_path / "out")


def _writer(root: str, key: str, payloads: list[bytes], rounds: int, xattrs: bool) -> None:
    store = FolderStore(Path(root), xattrs=xattrs)
    src = Path(root).parent / f"src-{os.getpid()}-{threading.get_ident()}"
    for i in range(rounds):
        src.write_bytes(payloads[i % len(payloads)])
        store.put_file("models", key, src)


@pytest.mark.parametrize("xattrs", [True, False], ids=["xattr", "sidecar"])
def test_concurrent_writers_never_show_a_torn_or_mismatched_object(tmp_path: Path, xattrs: bool) -> None:
    root = tmp_path / "root"
    store = FolderStore(root, xattrs=xattrs)
    payloads = [bytes([i]) * (256 * 1024 + i * 4096) for i in range(4)]
    put_bytes(store, tmp_path, "k", payloads[0])
    fork = multiprocessing.get_context("fork")
    writers: list[threading.Thread | multiprocessing.process.BaseProcess] = [
        fork.Process(target=_writer, args=(str(root), "k", payloads, 30, xattrs)) for _ in range(2)
    ]
    writers += [
        threading.Thread(target=_writer, args=(str(root), "k", payloads[::-1], 30, xattrs)) for _ in range(2)
    ]
    for w in writers:
        w.start()
    reads = 0
    try:
        while any(w.is_alive() for w in writers) or reads < 20:
            info = store.head("models", "k")
            assert info is not None
            out = tmp_path / "out"
            try:
                # get_file verifies the checksum: a torn object or a mismatched sidecar would fail it.
                got = store.get_file("models", info, out)
            except TransferError as exc:
                assert "changed since it was listed" in str(exc)  # a writer got in after head(): fine
                continue
            assert out.read_bytes() in payloads
            assert got.blake3 == blake3(out.read_bytes()).hexdigest()
            reads += 1
    finally:
        for w in writers:
            w.join()
    assert all(getattr(w, "exitcode", 0) == 0 for w in writers)
    assert list((root / ".tmp").iterdir()) == []

"""Where the folder store keeps checksums (a user xattr on the object, else a sidecar), and that stores
written by earlier releases (sha256 sidecars, sha256 manifests) still verify."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from blake3 import blake3

from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import FolderStore, ObjectInfo, download_prefix, manifest
from volcengine_ml_platform.transfer.existing import same_content
from volcengine_ml_platform.transfer.folder import XATTR
from volcengine_ml_platform.transfer.integrity import SMALL_FILE, copy_file_hashed

BUCKET = "models"


def legacy_put(root: Path, key: str, data: bytes) -> str:
    """An object as releases before BLAKE3 wrote it: the file, and a sha256 sidecar beside the key space."""
    obj, meta = root / BUCKET / key, root / ".meta" / BUCKET / key
    obj.parent.mkdir(parents=True, exist_ok=True)
    meta.parent.mkdir(parents=True, exist_ok=True)
    obj.write_bytes(data)
    sha256 = hashlib.sha256(data).hexdigest()
    meta.write_text(json.dumps({"sha256": sha256, "size": len(data)}))
    return sha256


def test_checksum_is_an_xattr_of_the_object_and_no_sidecar_is_written(tmp_path: Path) -> None:
    store = FolderStore(tmp_path / "root")
    assert store.xattrs  # ext4, xfs, btrfs and tmpfs since Linux 6.6 keep user xattrs
    src = tmp_path / "f.bin"
    src.write_bytes(os.urandom(5000))

    info = store.put_file(BUCKET, "m/f.bin", src)

    digest = blake3(src.read_bytes()).hexdigest()
    assert info == ObjectInfo("m/f.bin", 5000, blake3=digest)
    assert os.getxattr(tmp_path / "root" / BUCKET / "m" / "f.bin", XATTR) == digest.encode()
    assert [p for p in (tmp_path / "root" / ".meta").rglob("*") if p.is_file()] == []
    assert store.head(BUCKET, "m/f.bin") == info


def test_without_xattrs_the_checksum_goes_to_a_sidecar_and_any_store_reads_it(tmp_path: Path) -> None:
    root = tmp_path / "root"
    src = tmp_path / "f.bin"
    src.write_bytes(b"payload")
    info = FolderStore(root, xattrs=False).put_file(BUCKET, "m/f.bin", src)

    sidecar = json.loads((root / ".meta" / BUCKET / "m" / "f.bin").read_text())
    assert sidecar == {"blake3": blake3(b"payload").hexdigest(), "size": 7}
    with pytest.raises(OSError):
        os.getxattr(root / BUCKET / "m" / "f.bin", XATTR)
    assert FolderStore(root).head(BUCKET, "m/f.bin") == info  # a store that writes xattrs reads sidecars


@pytest.mark.parametrize("size", [1000, SMALL_FILE + 3 * 1024 * 1024 + 17], ids=["small", "large"])
def test_a_store_written_before_blake3_still_verifies_with_sha256(tmp_path: Path, size: int) -> None:
    root = tmp_path / "root"
    data = os.urandom(size)
    sha256 = legacy_put(root, "p/model/w.bin", data)
    # ... and the manifest such a platform recorded at CreateModel (Sha256 entries)
    legacy_manifest = manifest.encode("tos://models/p/model/", [ObjectInfo("p/model/w.bin", size, sha256)])
    (root / BUCKET / manifest.manifest_key("p/model/")).write_bytes(legacy_manifest)
    store = FolderStore(root)

    assert store.head(BUCKET, "p/model/w.bin") == ObjectInfo("p/model/w.bin", size, sha256)
    out = tmp_path / "out"
    download_prefix(store, "tos://models/p/model/", out)
    assert (out / "w.bin").read_bytes() == data
    assert same_content(ObjectInfo("p/model/w.bin", size, sha256), out / "w.bin")

    (root / BUCKET / "p" / "model" / "w.bin").write_bytes(os.urandom(size))  # same size, other bytes
    with pytest.raises(TransferError, match=r"w\.bin: sha256 mismatch"):
        download_prefix(store, "tos://models/p/model/", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()


def test_a_legacy_manifest_still_pins_its_files_after_a_rewrite(tmp_path: Path) -> None:
    root = tmp_path / "root"
    sha256 = legacy_put(root, "p/model/w.bin", b"registered")
    recorded = manifest.encode("tos://models/p/model/", [ObjectInfo("p/model/w.bin", 10, sha256)])
    (root / BUCKET / manifest.manifest_key("p/model/")).write_bytes(recorded)
    store = FolderStore(root)
    src = tmp_path / "other"
    src.write_bytes(b"other byte")  # the same size, written by this release: a BLAKE3 xattr only
    store.put_file(BUCKET, "p/model/w.bin", src)

    with pytest.raises(TransferError, match="changed since it was listed"):
        download_prefix(store, "tos://models/p/model/", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_an_object_rewritten_over_a_legacy_one_is_checked_by_its_own_xattr(tmp_path: Path) -> None:
    root = tmp_path / "root"
    legacy_put(root, "k", b"old bytes")
    store = FolderStore(root)
    src = tmp_path / "new"
    src.write_bytes(b"the new bytes")

    info = store.put_file(BUCKET, "k", src)

    assert store.head(BUCKET, "k") == info  # the stale sha256 sidecar is not what describes it
    assert store.get_file(BUCKET, info, tmp_path / "out") == info
    assert (tmp_path / "out").read_bytes() == b"the new bytes"
    # A description pinned to the old checksum no longer matches: the object changed.
    with pytest.raises(TransferError, match="changed since it was listed"):
        store.get_file(BUCKET, ObjectInfo("k", 13, hashlib.sha256(b"old bytes").hexdigest()), tmp_path / "o2")


def recorded_version(tmp_path: Path, data: bytes) -> tuple[FolderStore, Path]:
    """A version's file and its manifest, then the file's checksum attribute lost (as ``cp -r`` loses
    it: the bytes are the registered ones, the store no longer says so)."""
    root = tmp_path / "root"
    store = FolderStore(root)
    src = tmp_path / "w.bin"
    src.write_bytes(data)
    info = store.put_file(BUCKET, "p/model/w.bin", src)
    store.put_bytes(
        BUCKET, manifest.manifest_key("p/model/"), manifest.encode("tos://models/p/model/", [info])
    )
    obj = root / BUCKET / "p" / "model" / "w.bin"
    os.removexattr(obj, XATTR)
    return store, obj


@pytest.mark.parametrize("size", [1000, SMALL_FILE + 17], ids=["small", "large"])
def test_an_object_that_lost_its_checksum_is_verified_against_the_manifest(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    store, _ = recorded_version(tmp_path, data)
    assert store.head(BUCKET, "p/model/w.bin") == ObjectInfo("p/model/w.bin", size)  # nothing recorded

    download_prefix(store, "tos://models/p/model/", tmp_path / "out")

    assert (tmp_path / "out" / "w.bin").read_bytes() == data


def test_an_object_that_lost_its_checksum_and_changed_fails_the_manifest_checksum(tmp_path: Path) -> None:
    store, obj = recorded_version(tmp_path, b"registered")
    obj.write_bytes(b"other byte")  # the same size, other bytes, and no checksum of its own

    with pytest.raises(TransferError, match=r"w\.bin: blake3 mismatch"):
        download_prefix(store, "tos://models/p/model/", tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source_dir", ["/dev/shm", None], ids=["other-file-system", "same-file-system"])
def test_a_large_copy_in_pieces_hashes_exactly_the_bytes_written(
    tmp_path: Path, source_dir: str | None
) -> None:
    # Across file systems copy_file_range may refuse (EXDEV) and the copy falls back to read/write.
    if source_dir is not None and not os.access(source_dir, os.W_OK):
        pytest.skip(f"{source_dir} is not writable here")
    folder = Path(source_dir) if source_dir else tmp_path
    src = folder / f"mlp-test-{os.getpid()}-{tmp_path.name}.bin"
    data = os.urandom(40 * 1024 * 1024 + 12345)  # several 16 MiB pieces and a ragged end
    src.write_bytes(data)
    dst = tmp_path / "dst.bin"
    moved: list[int] = []
    try:
        fd_src = os.open(src, os.O_RDONLY)
        fd_dst = os.open(dst, os.O_RDWR | os.O_CREAT | os.O_EXCL)
        try:
            digest = copy_file_hashed(fd_src, fd_dst, len(data), "blake3", moved.append)
        finally:
            os.close(fd_src)
            os.close(fd_dst)
    finally:
        src.unlink()
    assert dst.read_bytes() == data
    assert digest == blake3(data).hexdigest()
    assert sum(moved) == len(data) and len(moved) == 3


def test_a_source_shorter_than_its_size_is_refused(tmp_path: Path) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(os.urandom(SMALL_FILE + 10))
    fd_src = os.open(src, os.O_RDONLY)
    fd_dst = os.open(dst, os.O_RDWR | os.O_CREAT)
    try:
        with pytest.raises(TransferError, match="shrank"):
            copy_file_hashed(fd_src, fd_dst, SMALL_FILE + 10 + 5 * 1024 * 1024, "blake3")
    finally:
        os.close(fd_src)
        os.close(fd_dst)


def test_a_listing_by_path_says_what_head_says_for_every_kind_of_object(tmp_path: Path) -> None:
    root = tmp_path / "root"
    store = FolderStore(root)
    assert store.xattrs  # the listing reads the attribute by path; the others fall back to head
    (tmp_path / "new.bin").write_bytes(b"new object")
    store.put_file(BUCKET, "p/new.bin", tmp_path / "new.bin")
    legacy_put(root, "p/legacy.bin", b"written before blake3")
    (root / BUCKET / "p" / "bare.bin").write_bytes(b"no checksum recorded")  # dropped in by hand
    (root / BUCKET / "p" / "link.bin").symlink_to(tmp_path / "new.bin")  # never an object

    listed = list(store.list_objects(BUCKET, "p/"))

    assert [o.key for o in listed] == ["p/bare.bin", "p/legacy.bin", "p/new.bin"]
    assert listed == [store.head(BUCKET, o.key) for o in listed]
    assert [(o.blake3 is not None, o.sha256 is not None) for o in listed] == [
        (False, False),
        (False, True),
        (True, False),
    ]


@pytest.mark.parametrize("xattrs", [True, False])
def test_put_bytes_records_and_verifies_like_put_file(tmp_path: Path, xattrs: bool) -> None:
    store = FolderStore(tmp_path / "root", xattrs=xattrs)
    data = os.urandom(3000)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    from_bytes = store.put_bytes(BUCKET, "m/bytes.bin", data)
    from_file = store.put_file(BUCKET, "m/file.bin", src)
    assert from_bytes.blake3 == from_file.blake3 == blake3(data).hexdigest()
    assert store.head(BUCKET, "m/bytes.bin") == from_bytes
    dest = tmp_path / "back.bin"
    store.get_file(BUCKET, from_bytes, dest)
    assert dest.read_bytes() == data
    assert not list((store.root / ".tmp").iterdir())  # nothing left behind

"""A failed download never leaves a half-written or unverified file at its destination."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import S3Store, download_prefix, upload_path

from .conftest import PART, StoreCase
from .helpers import ExtraKeys, FailAfterBytes, Wrapper, leftovers, make_tree, read_tree


def upload_one(case: StoreCase, tmp_path: Path, size: int) -> str:
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(size))
    return upload_path(case.store, src, case.bucket, "m/")


@pytest.mark.parametrize("size", [1000, 2 * PART + 5], ids=["small", "multipart"])
def test_corrupt_object_is_refused_and_nothing_is_left(case: StoreCase, tmp_path: Path, size: int) -> None:
    url = upload_one(case, tmp_path, size)
    case.tamper("m/model.bin", os.urandom(size))  # same size, other bytes, old checksum
    out = tmp_path / "out"

    with pytest.raises(TransferError, match=r"m/model\.bin.*(sha256|blake3) mismatch"):
        download_prefix(case.store, url, out)

    assert not out.exists()


@pytest.mark.parametrize("size", [1000, 2 * PART + 5], ids=["small", "multipart"])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_one_flipped_byte_in_the_store_is_detected(
    case: StoreCase, tmp_path: Path, size: int, where: str
) -> None:
    url = upload_one(case, tmp_path, size)
    data = bytearray((tmp_path / "model.bin").read_bytes())
    at = {"first": 0, "middle": size // 2, "last": size - 1}[where]
    data[at] ^= 0x01  # one bit of one byte: the size and the recorded checksum stay as they were
    case.tamper("m/model.bin", bytes(data))
    out = tmp_path / "out"

    with pytest.raises(TransferError, match=r"m/model\.bin.*(sha256|blake3) mismatch"):
        download_prefix(case.store, url, out)

    assert not out.exists()  # neither the file nor its .incomplete temporary, nor the folder made for it


def test_truncated_object_is_refused(case: StoreCase, tmp_path: Path) -> None:
    url = upload_one(case, tmp_path, 1000)
    case.tamper("m/model.bin", b"short")

    with pytest.raises(TransferError, match=r"m/model\.bin"):
        download_prefix(case.store, url, tmp_path / "out")

    assert not (tmp_path / "out").exists()


def test_failure_midway_leaves_no_file_and_no_incomplete(case: StoreCase, tmp_path: Path) -> None:
    url = upload_one(case, tmp_path, 2 * PART + 5)
    store = FailAfterBytes(case.store, limit=PART, error=OSError("simulated disk failure"))
    (tmp_path / "out").mkdir()

    with pytest.raises(TransferError, match=r"m/model\.bin.*simulated disk failure"):
        download_prefix(store, url, tmp_path / "out")

    assert list((tmp_path / "out").iterdir()) == []


def test_failure_in_one_file_of_many(case: StoreCase, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "m", small=40, big=2 * PART)
    url = upload_path(case.store, tmp_path / "m", case.bucket, "p/")
    store = FailAfterBytes(case.store, limit=PART, error=OSError("simulated disk failure"))
    out = tmp_path / "out"

    with pytest.raises(TransferError, match=r"weights/big\.bin"):
        download_prefix(store, url, out, concurrency=4)

    # Files verified before the failure may stay; nothing else does.
    assert leftovers(tmp_path) == []
    got = read_tree(out) if out.exists() else {}
    assert "weights/big.bin" not in got
    assert all(files[rel] == data for rel, data in got.items())


def test_object_deleted_after_listing(case: StoreCase, tmp_path: Path) -> None:
    url = upload_one(case, tmp_path, 1000)

    class DeletesAfterListing(Wrapper):
        def list_objects(self, bucket: str, prefix: str):  # type: ignore[no-untyped-def]
            listed = list(self.inner.list_objects(bucket, prefix))
            self.inner.delete_prefix(bucket, prefix)
            return iter(listed)

    with pytest.raises(TransferError, match=r"m/model\.bin"):
        download_prefix(DeletesAfterListing(case.store), url, tmp_path / "out")

    assert not (tmp_path / "out").exists()


def test_object_replaced_after_listing(case: StoreCase, tmp_path: Path) -> None:
    url = upload_one(case, tmp_path, 1000)

    class ReplacesAfterListing(Wrapper):
        def list_objects(self, bucket: str, prefix: str):  # type: ignore[no-untyped-def]
            listed = list(self.inner.list_objects(bucket, prefix))
            other = tmp_path / "other.bin"
            other.write_bytes(b"new version, other size")
            self.inner.put_file(bucket, "m/model.bin", other)
            return iter(listed)

    with pytest.raises(TransferError, match=r"m/model\.bin changed since it was listed"):
        download_prefix(ReplacesAfterListing(case.store), url, tmp_path / "out")


@pytest.mark.parametrize(
    "evil",
    ["m/../x", "m/../../etc/passwd", "m//etc/passwd", "m/a/../../x", "m/a\\..\\..\\x", "m/./x", "m/a//b"],
)
def test_keys_escaping_the_destination_are_refused_before_any_write(
    case: StoreCase, tmp_path: Path, evil: str
) -> None:
    upload_one(case, tmp_path, 100)
    store = ExtraKeys(case.store, [evil])
    out = tmp_path / "dl" / "out"

    with pytest.raises(TransferError, match="refusing to download"):
        download_prefix(store, f"tos://{case.bucket}/m/", out)

    assert "get_file" not in store.calls
    assert not (tmp_path / "dl").exists()
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("evil", ["m/../x", "m/../../etc/passwd", "m//etc/passwd", "m/a\\..\\..\\x"])
def test_traversal_keys_stored_in_s3_are_refused(
    s3_store: S3Store, s3_bucket: str, tmp_path: Path, evil: str
) -> None:
    s3_store.client.put_object(Bucket=s3_bucket, Key="m/ok.txt", Body=b"ok")
    s3_store.client.put_object(Bucket=s3_bucket, Key=evil, Body=b"x")  # S3 stores such keys literally

    with pytest.raises(TransferError, match="refusing to download"):
        download_prefix(s3_store, f"tos://{s3_bucket}/m/", tmp_path / "dl" / "out")

    assert not (tmp_path / "dl").exists()
    assert not (tmp_path / "x").exists()


def test_symlink_in_destination_cannot_carry_files_out(case: StoreCase, tmp_path: Path) -> None:
    make_tree(tmp_path / "m", small=5)
    url = upload_path(case.store, tmp_path / "m", case.bucket, "p/")
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "d0").symlink_to(outside)

    with pytest.raises(TransferError, match="leads outside"):
        download_prefix(case.store, url, out)

    assert list(outside.iterdir()) == []


def test_key_that_is_both_file_and_folder(case: StoreCase, tmp_path: Path) -> None:
    upload_one(case, tmp_path, 10)
    store = ExtraKeys(case.store, ["m/model.bin/inner"])

    with pytest.raises(TransferError, match="both a file and a folder"):
        download_prefix(store, f"tos://{case.bucket}/m/", tmp_path / "out")

    assert not (tmp_path / "out").exists()

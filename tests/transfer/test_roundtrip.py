"""Upload and download through both stores, with the key layout of wire protocol section 6."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from blake3 import blake3

from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import S3Store, download_prefix, upload_path

from .conftest import PART, StoreCase
from .helpers import make_tree, read_tree

PREFIX = "modelrepo/from-sdk-repo/1631236594036/"


def keys(case: StoreCase, prefix: str = "") -> list[str]:
    return [o.key for o in case.store.list_objects(case.bucket, prefix)]


def test_folder_round_trip(case: StoreCase, tmp_path: Path) -> None:
    src = tmp_path / "my-model"
    files = make_tree(src, small=300, big=12 * 1024 * 1024)  # 12 MiB: 3 parts of 5 MiB

    url = upload_path(case.store, src, case.bucket, PREFIX, concurrency=8)

    assert url == f"tos://{case.bucket}/{PREFIX}my-model/"
    assert keys(case, PREFIX) == sorted(f"{PREFIX}my-model/{rel}" for rel in files)
    dest = tmp_path / "out"
    written = download_prefix(case.store, url, dest, concurrency=8)
    assert read_tree(dest) == files
    assert sorted(written) == sorted(dest / rel for rel in files)


def test_single_file_round_trip(case: StoreCase, tmp_path: Path) -> None:
    src = tmp_path / "model.onnx"
    src.write_bytes(os.urandom(100_000))

    url = upload_path(case.store, src, case.bucket, PREFIX)

    assert url == f"tos://{case.bucket}/{PREFIX}"
    assert keys(case, PREFIX) == [f"{PREFIX}model.onnx"]
    assert download_prefix(case.store, url, tmp_path / "out") == [tmp_path / "out" / "model.onnx"]
    assert (tmp_path / "out" / "model.onnx").read_bytes() == src.read_bytes()


def test_single_large_file_round_trip(case: StoreCase, tmp_path: Path) -> None:
    src = tmp_path / "weights.bin"
    src.write_bytes(os.urandom(2 * PART + 123))

    url = upload_path(case.store, src, case.bucket, "")

    assert url == f"tos://{case.bucket}/"
    download_prefix(case.store, url, tmp_path / "out")
    assert (tmp_path / "out" / "weights.bin").read_bytes() == src.read_bytes()


def test_empty_file(case: StoreCase, tmp_path: Path) -> None:
    src = tmp_path / "empty.bin"
    src.write_bytes(b"")

    url = upload_path(case.store, src, case.bucket, PREFIX)

    assert download_prefix(case.store, url, tmp_path / "out") == [tmp_path / "out" / "empty.bin"]
    assert (tmp_path / "out" / "empty.bin").read_bytes() == b""


def test_url_of_one_object_downloads_that_object(case: StoreCase, tmp_path: Path) -> None:
    src = tmp_path / "m"
    make_tree(src, small=3)
    url = upload_path(case.store, src, case.bucket, PREFIX)

    written = download_prefix(case.store, f"{url}top.json", tmp_path / "out")

    assert written == [tmp_path / "out" / "top.json"]
    assert written[0].read_bytes() == b'{"a": 1}'


def test_url_without_trailing_slash_is_a_folder(case: StoreCase, tmp_path: Path) -> None:
    make_tree(tmp_path / "m", small=2)
    make_tree(tmp_path / "m2", small=1)  # shares the string prefix ".../m" but is another folder
    upload_path(case.store, tmp_path / "m", case.bucket, PREFIX)
    upload_path(case.store, tmp_path / "m2", case.bucket, PREFIX)

    download_prefix(case.store, f"tos://{case.bucket}/{PREFIX}m", tmp_path / "out")

    assert read_tree(tmp_path / "out") == read_tree(tmp_path / "m")


def test_download_into_existing_folder_replaces_files(case: StoreCase, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "m", small=5)
    url = upload_path(case.store, tmp_path / "m", case.bucket, PREFIX)
    out = tmp_path / "out"
    (out / "d0" / "sub0").mkdir(parents=True)
    (out / "d0" / "sub0" / "f0.bin").write_bytes(b"stale")
    (out / "keep.txt").write_bytes(b"mine")

    download_prefix(case.store, url, out)

    assert read_tree(out) == {**files, "keep.txt": b"mine"}


def test_empty_prefix_is_an_error_not_an_empty_success(case: StoreCase, tmp_path: Path) -> None:
    with pytest.raises(TransferError, match="no objects under"):
        download_prefix(case.store, f"tos://{case.bucket}/nothing/here/", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_s3_uses_multipart_ranged_gets_and_blake3_metadata(
    s3_store: S3Store, s3_bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(12 * 1024 * 1024))
    ranges: list[str] = []
    whole = s3_store._whole
    get_range = whole.get_range

    def record(bucket: str, key: str, etag: str | None, start: int, end: int) -> Any:
        ranges.append(f"bytes={start}-{end - 1}")
        return get_range(bucket, key, etag, start, end)

    monkeypatch.setattr(whole, "get_range", record)
    url = upload_path(s3_store, src, s3_bucket, PREFIX)
    download_prefix(s3_store, url, tmp_path / "out")

    head = s3_store.client.head_object(Bucket=s3_bucket, Key=f"{PREFIX}big.bin")
    assert head["ETag"].endswith('-3"')  # three parts
    assert head["Metadata"]["blake3"] == blake3(src.read_bytes()).hexdigest()
    assert sorted(ranges) == ["bytes=0-5242879", "bytes=10485760-12582911", "bytes=5242880-10485759"]
    assert (tmp_path / "out" / "big.bin").read_bytes() == src.read_bytes()


@pytest.mark.parametrize("size", [0, 10, PART + 1])
def test_s3_objects_from_other_tools_are_verified_by_size_and_etag(
    s3_store: S3Store, s3_bucket: str, tmp_path: Path, size: int
) -> None:
    data = os.urandom(size)
    s3_store.client.put_object(Bucket=s3_bucket, Key="other/file.bin", Body=data)  # no sha256 metadata

    download_prefix(s3_store, f"tos://{s3_bucket}/other/", tmp_path / "out")

    assert (tmp_path / "out" / "file.bin").read_bytes() == data


@pytest.mark.parametrize("size", [10, 2 * PART + 1])  # one GET, and ranged GETs hashed in order
def test_s3_objects_of_earlier_releases_are_verified_by_their_sha256(
    s3_store: S3Store, s3_bucket: str, tmp_path: Path, size: int
) -> None:
    # Releases before 0.3 recorded sha256 (x-amz-meta-sha256); those objects still verify, and a
    # corrupted one is refused even though nothing records a BLAKE3 checksum for it.
    data = os.urandom(size)
    sha256 = hashlib.sha256(data).hexdigest()
    s3_store.client.put_object(Bucket=s3_bucket, Key="old/ok.bin", Body=data, Metadata={"sha256": sha256})
    bad = bytes([data[0] ^ 1]) + data[1:]
    s3_store.client.put_object(Bucket=s3_bucket, Key="old2/bad.bin", Body=bad, Metadata={"sha256": sha256})

    download_prefix(s3_store, f"tos://{s3_bucket}/old/", tmp_path / "out")
    assert (tmp_path / "out" / "ok.bin").read_bytes() == data
    with pytest.raises(TransferError, match=r"old2/bad\.bin: sha256 mismatch"):
        download_prefix(s3_store, f"tos://{s3_bucket}/old2/", tmp_path / "out2")
    assert not (tmp_path / "out2").exists()  # nothing written, not even the folder


def test_s3_parts_are_not_hashed_again_to_be_signed(
    s3_store: S3Store, s3_bucket: str, tmp_path: Path
) -> None:
    # Over plain http botocore would sha256 every part to sign it; our own checksum already pins it.
    # (Whole-object PUTs go through obstore: tests/transfer/test_s3_wire.py.)
    sent: list[str] = []

    def record(request: object, **_: object) -> None:
        value = getattr(request, "headers", {}).get("X-Amz-Content-SHA256")
        sent.append(value.decode() if isinstance(value, bytes) else str(value))

    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(PART + 1))
    s3_store.client.meta.events.register("before-send.s3.UploadPart", record)
    try:
        s3_store.put_file(s3_bucket, "u/big.bin", src)
    finally:
        s3_store.client.meta.events.unregister("before-send.s3.UploadPart", record)

    assert sent == ["UNSIGNED-PAYLOAD"] * 2
    head = s3_store.head(s3_bucket, "u/big.bin")
    assert head is not None and head.blake3 == blake3(src.read_bytes()).hexdigest()

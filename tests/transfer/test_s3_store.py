"""S3Store against a real (moto) S3 server: multipart bookkeeping and what happens when things break."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import S3Store, tos_s3_endpoint
from volcengine_ml_platform.transfer.base import MiB
from volcengine_ml_platform.transfer.s3 import MAX_PARTS, part_size_for

from .conftest import PART

GiB = 1024 * MiB


def open_uploads(store: S3Store, bucket: str) -> list[str]:
    return [u["Key"] for u in store.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_failed_multipart_upload_is_aborted(s3_store: S3Store, s3_bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(3 * PART))

    def fail(_: int) -> None:
        raise OSError("simulated failure after a part")

    with pytest.raises(OSError, match="simulated"):
        s3_store.put_file(s3_bucket, "k/big.bin", src, on_bytes=fail)

    assert open_uploads(s3_store, s3_bucket) == []
    assert s3_store.head(s3_bucket, "k/big.bin") is None


def test_file_changed_during_upload_is_refused(s3_store: S3Store, s3_bucket: str, tmp_path: Path) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(2 * PART + 1))

    def touch(_: int) -> None:
        os.utime(src, ns=(0, 0))

    with pytest.raises(TransferError, match="changed while it was uploaded"):
        s3_store.put_file(s3_bucket, "k/big.bin", src, on_bytes=touch)

    assert open_uploads(s3_store, s3_bucket) == []
    assert s3_store.head(s3_bucket, "k/big.bin") is None


def test_lost_answer_to_complete_is_recognised(
    s3_store: S3Store, s3_bucket: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(PART + 1))
    lost: list[bool] = []

    def drop_answer(**_: object) -> None:
        if not lost:
            lost.append(True)
            raise ConnectionResetError("answer lost after the upload completed")

    s3_store.client.meta.events.register("after-call.s3.CompleteMultipartUpload", drop_answer)
    try:
        info = s3_store.put_file(s3_bucket, "k/big.bin", src)
    finally:
        s3_store.client.meta.events.unregister("after-call.s3.CompleteMultipartUpload", drop_answer)

    assert "completion of multipart upload of" in caplog.text  # the retry happened
    assert s3_store.head(s3_bucket, "k/big.bin") == info
    assert open_uploads(s3_store, s3_bucket) == []


def test_head_list_and_delete_prefix(s3_store: S3Store, s3_bucket: str, tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"12345")
    for key in ("m/1/a", "m/1/b/c", "m/10/d", "n/e"):
        s3_store.put_file(s3_bucket, key, tmp_path / "f")

    assert [o.key for o in s3_store.list_objects(s3_bucket, "m/1")] == ["m/1/a", "m/1/b/c", "m/10/d"]
    head = s3_store.head(s3_bucket, "m/1/a")
    assert head is not None and head.size == 5 and head.blake3 is not None
    assert s3_store.head(s3_bucket, "m/1") is None

    assert s3_store.delete_prefix(s3_bucket, "m/1/") == 2
    assert [o.key for o in s3_store.list_objects(s3_bucket, "")] == ["m/10/d", "n/e"]


def test_part_size_grows_to_stay_within_10000_parts() -> None:
    assert part_size_for(80 * GiB, 8 * MiB, "u") == 9 * MiB
    assert part_size_for(10_000 * 8 * MiB, 8 * MiB, "u") == 8 * MiB
    size = 5 * 1024 * GiB
    assert size / part_size_for(size, 8 * MiB, "u") <= MAX_PARTS
    with pytest.raises(TransferError, match="10,000 parts"):
        part_size_for(MAX_PARTS * 5 * GiB + 1, 8 * MiB, "u")


def test_part_size_limits() -> None:
    with pytest.raises(ValueError, match="5 MiB"):
        S3Store("http://127.0.0.1:1", "k", "s", part_size=4 * MiB)


def test_tos_endpoints() -> None:
    assert tos_s3_endpoint("cn-beijing") == "https://tos-s3-cn-beijing.volces.com"
    assert tos_s3_endpoint("cn-beijing", internal=True) == "https://tos-s3-cn-beijing.ivolces.com"


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-30T18:03:30.000Z",
        "2026-11-30T18:03:30Z",
        "2026-11-30T18:03:30+08:00",
        "Mon, 30 Nov 2026 18:03:30 GMT",
        "1700000000",
        "2026-11-30T18:03:30",
    ],
)
def test_timestamps_read_as_botocore_reads_them(text: str) -> None:
    # Listings read LastModified without dateutil; every form must still give botocore's own answer.
    from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

    from volcengine_ml_platform.transfer.s3 import _timestamp

    ours, theirs = _timestamp(text), DEFAULT_TIMESTAMP_PARSER(text)
    assert ours == theirs
    assert (ours.tzinfo is None) == (theirs.tzinfo is None)  # aware exactly when botocore's is


def test_the_client_still_gives_aware_datetimes(s3_store: S3Store, s3_bucket: str) -> None:
    s3_store.client.put_object(Bucket=s3_bucket, Key="t/a.bin", Body=b"a")
    [listed] = s3_store.client.list_objects_v2(Bucket=s3_bucket, Prefix="t/")["Contents"]
    head = s3_store.client.head_object(Bucket=s3_bucket, Key="t/a.bin")

    assert listed["LastModified"].tzinfo is not None
    assert abs((listed["LastModified"] - head["LastModified"]).total_seconds()) < 2

"""The platform keeping its objects in an S3-compatible store (moto on loopback), embedded and served:
multipart files, hundreds of small files, the documented layout in the bucket, cross-account uploads."""

from __future__ import annotations

from pathlib import Path

from blake3 import blake3

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_testing import bucket_for
from volcengine_ml_platform.transfer.base import MiB

from .helpers import UPLOAD_PREFIX, Peer, make_tree, read_tree, split_tos

BIG = 20 * MiB + 12345  # the S3Store's default part is 8 MiB: three parts, the last one short


def test_register_and_download_through_s3(s3_peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / f"bert-{s3_peer.name}"
    files = make_tree(source, small=300, big=BIG)
    model = s3_peer.model()

    resp = model.register(str(source), model_name=f"s3-{s3_peer.name}", model_format="TorchScript",
                          model_type="PyTorch:1.9")  # fmt: skip

    model_id = resp["Result"]["ModelID"]
    assert resp.result.version_info.model_version == 1
    path = model.get_model_version(model_id, "1").result.path
    bucket, prefix = split_tos(path)
    assert bucket == bucket_for(DEFAULT_ACCOUNT_ID)
    stamp_prefix = prefix.removesuffix(f"{source.name}/")
    assert UPLOAD_PREFIX.match(stamp_prefix), prefix

    # The objects are really in the bucket, under modelrepo/from-sdk-repo/<ms>/<dirname>/...
    client = s3_peer.s3()
    listed: dict[str, dict[str, object]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=stamp_prefix):
        listed.update({o["Key"]: o for o in page.get("Contents", [])})
    # ... and beside them the manifest the platform recorded at CreateModel.
    manifest = f"{stamp_prefix}{source.name}.mlp-manifest.json"
    assert set(listed) == {f"{stamp_prefix}{source.name}/{rel}" for rel in files} | {manifest}
    big_key = f"{prefix}weights/big.bin"
    assert listed[big_key]["Size"] == BIG
    assert str(listed[big_key]["ETag"]).strip('"').endswith("-3")  # a multipart upload of 3 parts
    head = client.head_object(Bucket=bucket, Key=big_key)
    assert head["Metadata"]["blake3"] == blake3(files["weights/big.bin"]).hexdigest()
    assert s3_peer.read_object(DEFAULT_ACCOUNT_ID, f"{prefix}empty.txt") == b""

    dest = tmp_path / "downloaded"
    written = model.download(model_id, "1", str(dest))
    assert len(written) == len(files)
    assert read_tree(dest) == files


def test_inner_model_on_s3(s3_peer: Peer, tmp_path: Path) -> None:
    """Cross-account: the target account's bucket is created on first use; GetSTSToken hands out the
    store's credentials."""
    account = 4300 + (1 if "http" in s3_peer.name else 0)
    s3_peer.add_account(account, 9)
    inner = s3_peer.inner(account, 9)
    source = tmp_path / "converted"
    files = make_tree(source, small=10)

    resp = inner.register(str(source), model_name="converted", model_format="TensorRT",
                          model_type="TensorRT:8.0", source_type="Perf")  # fmt: skip

    model_id = resp.result.model_id
    path = inner.get_model_version(model_id, "1").result.path
    bucket, prefix = split_tos(path)
    assert bucket == bucket_for(account)
    assert s3_peer.object_keys(account, prefix) == {prefix + rel for rel in files}
    dest = tmp_path / "back"
    inner.download(model_id, "1", str(dest))
    assert read_tree(dest) == files

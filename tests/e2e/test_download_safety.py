"""A failed download leaves no partial file, and no stored key can place a file outside the destination."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_testing import bucket_for
from volcengine_ml_platform.errors import TransferError, ValidationError
from volcengine_ml_platform.models.model import Model
from volcengine_ml_platform.transfer.base import MiB
from volcengine_ml_platform.transfer.folder import FolderStore
from volcengine_ml_platform.transfer.manager import download_prefix, upload_path

from .helpers import Peer, all_paths, make_tree, raising_after, read_tree, split_tos


def register(model: Model, path: Path) -> tuple[str, str]:
    """(model id, stored key prefix of version 1)."""
    model_id = model.register(
        str(path), model_name=f"safety-{path.name}", model_format="Custom", model_type="PyTorch:1.9"
    ).result.model_id
    _, prefix = split_tos(model.get_model_version(model_id, "1").result.path)
    return model_id, prefix


def incomplete_files(root: Path) -> list[Path]:
    return [p for p in all_paths(root) if ".incomplete" in p.name]


def test_corrupt_object_fails_and_writes_nothing(peer: Peer, tmp_path: Path) -> None:
    model = peer.model()
    weights = tmp_path / "weights.bin"
    weights.write_bytes(os.urandom(3 * MiB))
    model_id, prefix = register(model, weights)
    # Same size, other bytes: only the checksum recorded at upload can tell.
    stored = peer.object_file(DEFAULT_ACCOUNT_ID, prefix + "weights.bin")
    stored.write_bytes(os.urandom(3 * MiB))
    dest = tmp_path / "out" / "model"

    with pytest.raises(TransferError) as info:
        model.download(model_id, "1", str(dest))

    assert "blake3 mismatch" in info.value.message and "weights.bin" in info.value.message
    assert not dest.exists()  # the folders it created are gone, and no .incomplete file
    assert all_paths(tmp_path / "out") == []


def test_corrupt_one_of_many_keeps_only_verified_files(peer: Peer, tmp_path: Path) -> None:
    model = peer.model()
    source = tmp_path / "many"
    files = make_tree(source, small=60)
    model_id, prefix = register(model, source)
    victim = "d1/sub1/deeper1/f031.bin"
    stored = peer.object_file(DEFAULT_ACCOUNT_ID, prefix + victim)
    stored.write_bytes(b"X" * len(files[victim]))
    dest = tmp_path / "dest"

    with pytest.raises(TransferError) as info:
        model.download(model_id, "1", str(dest))

    assert victim in info.value.message
    assert incomplete_files(dest) == []
    assert not (dest / victim).exists()
    # Whatever did land is complete and verified (files move into place only once verified).
    for rel, data in read_tree(dest).items():
        assert data == files[rel], rel


@pytest.mark.parametrize(
    "error", [RuntimeError("disk on fire"), KeyboardInterrupt()], ids=["error", "interrupt"]
)
def test_interrupted_download_leaves_nothing(any_peer: Peer, tmp_path: Path, error: BaseException) -> None:
    model = any_peer.model()
    weights = tmp_path / "big.bin"
    weights.write_bytes(os.urandom(6 * MiB))
    model_id, _ = register(model, weights)
    dest = tmp_path / "dest"

    with pytest.raises((TransferError, KeyboardInterrupt)) as info:
        model.download(model_id, "1", str(dest), progress=raising_after(1, error))

    if isinstance(error, KeyboardInterrupt):
        assert info.type is KeyboardInterrupt
    else:
        assert info.type is TransferError and "disk on fire" in str(info.value)
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin", "home"]


def test_key_leading_outside_is_refused(s3_peer: Peer, tmp_path: Path) -> None:
    # The local platform's manifest lists only the files registered, so a planted key would not be
    # downloaded at all; a version of the Volcengine service (its upload layout: a bare stamp) has no
    # manifest, and the listing is what counts.
    plain = s3_peer.using("sync").model()
    store = plain._run(plain._core.object_store())  # the store as a client opens it
    source = tmp_path / "honest"
    make_tree(source, small=5)
    bucket = bucket_for(DEFAULT_ACCOUNT_ID)
    stamp = f"modelrepo/from-sdk-repo/{1631236594036 + int.from_bytes(os.urandom(3))}/"
    url = upload_path(store, source, bucket, stamp)
    s3_peer.s3().put_object(
        Bucket=bucket, Key=f"{stamp}honest/../x", Body=b"escaped"
    )  # S3 keys may hold ".."
    work = tmp_path / "work"
    dest = work / "inside" / "dest"
    dest.parent.mkdir(parents=True)

    try:
        with pytest.raises(TransferError) as info:
            download_prefix(store, url, dest)
    finally:  # the session's S3 store is shared: leave no unregistered upload for other tests' sweeps
        store.delete_prefix(bucket, stamp)

    assert "refusing to download" in info.value.message and "'../x'" in info.value.message
    assert all_paths(work) == [work / "inside"]  # nothing inside dest, nothing beside or above it
    assert not (tmp_path / "x").exists()


def test_folder_store_cannot_hold_such_a_key(peer: Peer, tmp_path: Path) -> None:
    """The folder store refuses the key outright, and ignores files planted by hand outside its keys."""
    store = FolderStore(peer.objects_dir)
    payload = tmp_path / "payload"
    payload.write_bytes(b"escaped")
    for key in ("modelrepo/x/../y", "../y", "/abs", "a\\b"):
        with pytest.raises(ValidationError):
            store.put_file(bucket_for(DEFAULT_ACCOUNT_ID), key, payload)


def test_a_data_folder_restored_from_a_copy_without_xattrs_still_downloads(tmp_path: Path) -> None:
    """``cp -r`` keeps no extended attributes: every object loses its checksum attribute, but the
    version's manifest still has it, and the bytes are verified against that."""
    source = tmp_path / "src"
    source.mkdir()
    (source / "model.onnx").write_bytes(os.urandom(100_000))
    data = tmp_path / "data"
    model_id, _ = register(Model(data_dir=data), source)
    subprocess.run(["cp", "-r", str(data), str(tmp_path / "backup")], check=True)
    shutil.rmtree(data)
    subprocess.run(["cp", "-r", str(tmp_path / "backup"), str(data)], check=True)

    Model(data_dir=data).download(model_id, "1", str(tmp_path / "out"))

    assert (tmp_path / "out" / "model.onnx").read_bytes() == (source / "model.onnx").read_bytes()

"""Small objects in memory (a version's manifest): ``put_bytes`` and ``get_bytes`` on the folder store
and on the S3 store against moto's server; a download reads its manifest in one GET; the platform
writes an S3 manifest with no scratch file that a crash could leave behind."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from blake3 import blake3

from mlp_server.lifecycle import write_manifest
from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import download_prefix, manifest, upload_path

from .conftest import StoreCase
from .helpers import Wrapper, make_tree

PREFIX = "modelrepo/from-sdk-repo/1631236594036/"


def test_put_bytes_then_get_bytes_gives_the_bytes_and_their_checksum(case: StoreCase) -> None:
    key = f"{PREFIX}m.mlp-manifest.json"
    for data in (b'{"Format": 1, "Files": []}', "é".encode() * 5000, b""):
        put = case.store.put_bytes(case.bucket, key, data)
        assert (put.key, put.size, put.blake3) == (key, len(data), blake3(data).hexdigest())
        got = case.store.get_bytes(case.bucket, key)
        assert got is not None
        info, read = got
        assert read == data
        assert (info.key, info.size, info.blake3) == (key, len(data), blake3(data).hexdigest())
        assert case.store.head(case.bucket, key) == info


def test_get_bytes_tells_missing_from_present(case: StoreCase) -> None:
    case.store.put_bytes(case.bucket, f"{PREFIX}folder/file", b"x")
    assert case.store.get_bytes(case.bucket, f"{PREFIX}nothing.mlp-manifest.json") is None
    assert case.store.get_bytes(case.bucket, f"{PREFIX}folder") is None  # a prefix of keys, no object


def test_get_bytes_refuses_an_object_that_fails_its_checksum(case: StoreCase) -> None:
    key = f"{PREFIX}m.mlp-manifest.json"
    case.store.put_bytes(case.bucket, key, b"the recorded bytes")
    case.tamper(key, b"the changed  bytes")  # same size, other bytes: only the checksum can tell
    with pytest.raises(TransferError, match="mismatch"):
        case.store.get_bytes(case.bucket, key)


def test_a_download_reads_its_manifest_in_one_get_without_a_head(case: StoreCase, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src", small=5)
    url = upload_path(case.store, tmp_path / "src", case.bucket, PREFIX)
    _, folder = url.split(f"{case.bucket}/", 1)
    listed = list(case.store.list_objects(case.bucket, folder))
    write_manifest(case.store, url, listed)  # as the platform does at CreateModel
    counted = Wrapper(case.store)
    download_prefix(counted, url, tmp_path / "out")
    assert counted.calls.get("get_bytes") == 1
    assert "head" not in counted.calls
    assert counted.calls["get_file"] == len(files)
    # No manifest: one GET answers "missing", and the download goes by the listing.
    other = upload_path(case.store, tmp_path / "src", case.bucket, f"{PREFIX}unrecorded/")
    counted = Wrapper(case.store)
    download_prefix(counted, other, tmp_path / "out2")
    assert (counted.calls.get("get_bytes"), counted.calls.get("head")) == (1, None)


def test_an_upload_folder_of_this_release_without_its_manifest_is_not_downloaded(
    case: StoreCase, tmp_path: Path
) -> None:
    make_tree(tmp_path / "src", small=3)
    tagged = "modelrepo/from-sdk-repo/1700000000000-3f9a0c1e/"  # every registration of it recorded one
    url = upload_path(case.store, tmp_path / "src", case.bucket, tagged)
    with pytest.raises(
        TransferError, match=f"lost its manifest, tos://{case.bucket}/{tagged}src.mlp-manifest"
    ):
        download_prefix(case.store, url, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    # Below the version's Path, and a bare stamp (the service's layout, releases before 0.8): a listing.
    download_prefix(case.store, f"{url}d0/", tmp_path / "part")
    bare = upload_path(case.store, tmp_path / "src", case.bucket, "modelrepo/from-sdk-repo/1700000000000/")
    download_prefix(case.store, bare, tmp_path / "bare")
    assert sorted(p.name for p in (tmp_path / "bare").rglob("*")) == sorted(
        p.name for p in (tmp_path / "src").rglob("*")
    )


def test_the_platform_writes_a_manifest_with_no_scratch_file(
    case: StoreCase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kill -9 of the server mid-write used to leave /tmp/mlp-manifest-*.json behind (S3 store):
    now nothing is written outside the store at all."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))

    def refused(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a temporary file was made")

    monkeypatch.setattr(tempfile, "mkstemp", refused)
    monkeypatch.setattr(tempfile, "mkdtemp", refused)
    path = f"tos://{case.bucket}/{PREFIX}model/"
    files = [case.store.put_bytes(case.bucket, f"{PREFIX}model/w.bin", b"weights")]
    write_manifest(case.store, path, files)
    got = case.store.get_bytes(case.bucket, manifest.manifest_key(f"{PREFIX}model/"))
    assert got is not None
    assert manifest.decode(got[1]) == (path, files)
    assert list(scratch.iterdir()) == []

"""The manifest's naming rules, shared by the platform (which writes and sweeps) and the client."""

from __future__ import annotations

import pytest

from volcengine_ml_platform.transfer.base import ObjectInfo
from volcengine_ml_platform.transfer.manifest import (
    UploadUnit,
    always_recorded,
    decode,
    encode,
    manifest_key,
    upload_unit,
)


def test_manifest_sits_beside_the_path_never_under_it() -> None:
    assert manifest_key("modelrepo/from-sdk-repo/1700000000000/resnet/") == (
        "modelrepo/from-sdk-repo/1700000000000/resnet.mlp-manifest.json"
    )
    assert manifest_key("modelrepo/from-sdk-repo/1700000000000/") == (
        "modelrepo/from-sdk-repo/1700000000000.mlp-manifest.json"
    )


@pytest.mark.parametrize(
    ("key", "unit"),
    [
        ("modelrepo/from-sdk-repo/1700000000000/resnet/a.bin", "modelrepo/from-sdk-repo/1700000000000/"),
        (
            "modelrepo/from-sdk-repo/1700000000000/resnet.mlp-manifest.json",
            "modelrepo/from-sdk-repo/1700000000000/",
        ),
        ("modelrepo/from-sdk-repo/1700000000000.mlp-manifest.json", "modelrepo/from-sdk-repo/1700000000000/"),
        ("modelrepo/1700000000000/x/1800000000000/y", "modelrepo/1700000000000/"),
        ("modelrepo/from-sdk-repo/1700000000000", None),  # a file named like a stamp is not a prefix
        ("hand-made/model.onnx", None),
        ("modelrepo/170000000000/x", None),  # 12 digits
        # 0.8.0 and later: a random tag after the stamp (several processes on one database).
        (
            "modelrepo/from-sdk-repo/1700000000000-0a1b2c3d/resnet/a.bin",
            "modelrepo/from-sdk-repo/1700000000000-0a1b2c3d/",
        ),
        (
            "modelrepo/from-sdk-repo/1700000000000-0a1b2c3d.mlp-manifest.json",
            "modelrepo/from-sdk-repo/1700000000000-0a1b2c3d/",
        ),
        ("modelrepo/1700000000000-0a1b2c3d/x/1800000000000-ffffffff/y", "modelrepo/1700000000000-0a1b2c3d/"),
        ("modelrepo/1700000000000-0A1B2C3D/x", None),  # the tag is lowercase hex
        ("modelrepo/1700000000000-0a1b2c/x", None),  # 6 hex digits
        ("modelrepo/from-sdk-repo/1700000000000-0a1b2c3d", None),  # a file, not a prefix
    ],
)
def test_upload_unit(key: str, unit: str | None) -> None:
    found = upload_unit(key)
    assert (found.prefix if found else None) == unit
    if found is not None:
        stamp = found.prefix.rstrip("/").rsplit("/", 1)[-1].partition("-")[0]
        assert found == UploadUnit(unit or "", int(stamp))


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("modelrepo/from-sdk-repo/1700000000000-3f9a0c1e/resnet/", True),  # a folder upload of 0.8.0
        ("modelrepo/from-sdk-repo/1700000000000-3f9a0c1e/", True),  # a single-file upload of 0.8.0
        ("modelrepo/from-sdk-repo/1700000000000-3f9a0c1e/resnet/sub/", False),  # below a version Path
        ("modelrepo/from-sdk-repo/1700000000000/resnet/", False),  # the service's and releases before 0.8
        ("modelrepo/from-sdk-repo/1700000000000/", False),
        ("my/own/models/resnet/", False),  # a Path laid out by hand
    ],
)
def test_only_paths_of_the_tagged_upload_layout_must_have_a_manifest(prefix: str, expected: bool) -> None:
    assert always_recorded(prefix) is expected


def test_round_trip() -> None:
    files = [
        ObjectInfo("p/a", 3, "ab" * 32),
        ObjectInfo("p/b", 0, None, "etag"),
        ObjectInfo("p/c", 5, blake3="cd" * 32),  # the folder store's checksum since 0.2
    ]
    assert decode(encode("tos://b/p/", files)) == ("tos://b/p/", files)
    with pytest.raises(ValueError):
        decode(b'{"Format": 99, "Files": []}')

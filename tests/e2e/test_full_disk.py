"""A registration on a platform whose disk is full: the 503 StorageUnavailable that says "nothing was
written" is true (no version), and is a refusal, not an unknown outcome: register removes its upload
from the full disk and raises the 503 itself. Needs root, to mount a small tmpfs for the data folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_testing import CAN_MOUNT, fill_disk, small_disk
from volcengine_ml_platform.errors import OutcomeUnknownError, ServerError
from volcengine_ml_platform.models.model import Model

pytestmark = pytest.mark.skipif(not CAN_MOUNT, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_fs(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "small") as mount:
        yield mount


def stored(objects: Path) -> set[Path]:
    """The objects of the folder store (not its bookkeeping folders: lock files, temporary files)."""
    return {p for p in objects.rglob("*") if p.is_file() and not str(p.relative_to(objects)).startswith(".")}


def test_a_registration_refused_on_a_full_disk_removes_its_upload(small_fs: Path, tmp_path: Path) -> None:
    model = Model(data_dir=small_fs / "data")
    first = tmp_path / "first"
    first.mkdir()
    (first / "w.bin").write_bytes(os.urandom(1000))
    model.register(str(first), model_name="first", model_format="ONNX", model_type="ONNX:1.10")
    source = tmp_path / "src"
    source.mkdir()
    (source / "w.bin").write_bytes(os.urandom(3000))
    objects = small_fs / "data" / "objects"
    before = stored(objects)
    filler = fill_disk(small_fs, leave_pages=1)  # room for the upload, none for the manifest or the commit

    with pytest.raises(ServerError) as caught:
        model.register(str(source), model_name="full", model_format="ONNX", model_type="ONNX:1.10")
    filler.unlink()

    error = caught.value
    assert (error.code, error.status_code) == ("StorageUnavailable", 503)
    assert "nothing was written" in str(error)
    assert not isinstance(error, OutcomeUnknownError), error
    assert stored(objects) == before  # the upload is gone
    assert model.list_models(model_name_contains="full").result.total == 0  # and no version was made

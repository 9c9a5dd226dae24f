"""Progress reports: exact totals, consistent snapshots, retries not double-counted."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pytest

from volcengine_ml_platform.transfer import TransferProgress, download_prefix, upload_path

from .conftest import FAST_RETRY, PART, StoreCase
from .helpers import Flaky, make_tree


class Recorder:
    def __init__(self) -> None:
        self.reports: list[TransferProgress] = []
        self.active = 0
        self.overlapped = False
        self._lock = threading.Lock()

    def __call__(self, progress: TransferProgress) -> None:
        with self._lock:
            self.active += 1
            self.overlapped |= self.active > 1
        self.reports.append(progress)
        with self._lock:
            self.active -= 1


@pytest.mark.parametrize("flaky", [False, True], ids=["clean", "with-retries"])
def test_totals_are_exact(case: StoreCase, tmp_path: Path, flaky: bool) -> None:
    files = make_tree(tmp_path / "m", small=50, big=2 * PART + 7)
    total = sum(len(d) for d in files.values())
    store = Flaky(case.store, failures=1) if flaky else case.store
    up, down = Recorder(), Recorder()

    url = upload_path(store, tmp_path / "m", case.bucket, "p/", progress=up, retry=FAST_RETRY)
    download_prefix(store, url, tmp_path / "out", progress=down, retry=FAST_RETRY)

    for rec in (up, down):
        assert rec.reports[0] == TransferProgress(0, total, 0, len(files), None)
        assert rec.reports[-1].bytes_done == rec.reports[-1].bytes_total == total
        assert rec.reports[-1].files_done == rec.reports[-1].files_total == len(files)
        assert [r.files_done for r in rec.reports] == sorted(r.files_done for r in rec.reports)
        assert all(0 <= r.bytes_done <= total for r in rec.reports)
        assert not rec.overlapped  # the callback is never called concurrently
        if not flaky:
            assert [r.bytes_done for r in rec.reports] == sorted(r.bytes_done for r in rec.reports)
    assert {r.current_file for r in down.reports} >= {"weights/big.bin", "top.json"}


def test_progress_is_frozen() -> None:
    progress = TransferProgress(1, 2, 0, 1, "a")
    with pytest.raises(dataclasses.FrozenInstanceError):
        progress.bytes_done = 2  # type: ignore[misc]

"""A download's ``.incomplete`` file is locked while written: another download into the same folder
(of this process or another) leaves it alone, and only files a killed download left are removed."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import download_prefix, partfile, upload_path
from volcengine_ml_platform.transfer.base import ByteCallback, ObjectInfo

from .conftest import StoreCase
from .helpers import Wrapper, make_tree, read_tree


def incomplete(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*.incomplete"))


class SecondDownloadFirst(Wrapper):
    """Before its first file is written, runs a whole second download into the same folder."""

    def __init__(self, case: StoreCase, url: str, dest: Path) -> None:
        super().__init__(case.store)
        self.url, self.dest = url, dest
        self.seen_during: list[str] = []

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        if self.count("get_file") == 1:
            self.seen_during = incomplete(self.dest)  # this download's part file, locked
            download_prefix(self.inner, self.url, self.dest)
        return self.inner.get_file(bucket, obj, dest, concurrency=concurrency, on_bytes=on_bytes)


def test_two_downloads_into_one_folder_at_once_both_succeed(case: StoreCase, tmp_path: Path) -> None:
    files = make_tree(tmp_path / "src", small=3)
    url = upload_path(case.store, tmp_path / "src", case.bucket, "m/")
    dest = tmp_path / "cache"
    store = SecondDownloadFirst(case, url, dest)

    download_prefix(store, url, dest, concurrency=1)

    assert len(store.seen_during) == 1  # the second download ran while the first one's file existed
    assert read_tree(dest) == files
    assert incomplete(dest) == []


def hold_lock(path: Path) -> subprocess.Popen[str]:
    """Another process writing ``path``: it holds the lock until its stdin closes."""
    code = (
        "import fcntl, os, sys\n"
        f"fd = os.open({str(path)!r}, os.O_RDWR)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
    return proc


def test_a_part_file_another_process_holds_is_kept_until_that_process_ends(tmp_path: Path) -> None:
    dest = tmp_path / "model.bin"
    live, left = tmp_path / "model.bin.0000abcd.incomplete", tmp_path / "model.bin.12345678.incomplete"
    live.write_bytes(b"being written")
    left.write_bytes(b"left by a killed download")
    other = tmp_path / "other.bin.0000abcd.incomplete"  # another file's: not this download's business
    other.write_bytes(b"x")
    proc = hold_lock(live)
    try:
        partfile.remove_left_behind([dest])
        assert live.exists() and not left.exists() and other.exists()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=30)
    partfile.remove_left_behind([dest])  # the kernel released the lock with the process
    assert not live.exists() and other.exists()


def test_a_new_part_file_never_takes_an_existing_name(tmp_path: Path) -> None:
    dest = tmp_path / "model.bin"
    taken = tmp_path / "model.bin.00000007.incomplete"
    taken.write_bytes(b"another download's")

    part = partfile.create(dest, itertools.count(7))
    try:
        assert part.path == tmp_path / "model.bin.00000008.incomplete"
        assert taken.read_bytes() == b"another download's"
        partfile.remove_left_behind([dest])  # ours is locked: kept; the unlocked one goes
        assert part.path.exists() and not taken.exists()
    finally:
        part.discard()
    assert not part.path.exists()


def test_without_flock_only_part_files_untouched_for_a_while_are_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partfile, "fcntl", None)  # as on a system without flock
    dest = tmp_path / "model.bin"
    part = partfile.create(dest, itertools.count(1))
    old = tmp_path / "model.bin.0000000f.incomplete"
    old.write_bytes(b"old")
    then = time.time() - partfile.GRACE_SECONDS - 5
    os.utime(old, (then, then))

    partfile.remove_left_behind([dest])

    assert part.path.exists() and not old.exists()
    part.discard()
    assert not part.path.exists()


class RemovesPartFile(Wrapper):
    """Writes the file, then its temporary file disappears (a user's clean-up, another tool)."""

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        info = self.inner.get_file(bucket, obj, dest, concurrency=concurrency, on_bytes=on_bytes)
        dest.unlink()
        return info


def test_a_part_file_removed_under_a_download_is_a_transfer_error_naming_it(
    case: StoreCase, tmp_path: Path
) -> None:
    (tmp_path / "w.bin").write_bytes(b"weights")
    url = upload_path(case.store, tmp_path / "w.bin", case.bucket, "m/")

    with pytest.raises(TransferError, match=r"temporary file .*w\.bin\.[0-9a-f]{8}\.incomplete") as info:
        download_prefix(RemovesPartFile(case.store), url, tmp_path / "out")

    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert not (tmp_path / "out").exists()  # the folder it made is gone: nothing half-done is left

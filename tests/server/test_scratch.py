"""Scratch folders a crash does not leave behind (``mlp_server.scratch``): the perf workers' task folders
and the serving cache's partial downloads. A real process holds one, is killed with SIGKILL, and the
next owner of that kind of folder removes it; a live owner's folder, or a young one, is kept."""

from __future__ import annotations

import errno
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlp_server import scratch
from mlp_server.serving.files import VersionCache
from mlp_server.workers.loop import TASK_DIR_PREFIX
from volcengine_ml_platform.transfer import FolderStore, upload_path

HOLD = """
import sys, time
from pathlib import Path
from mlp_server.scratch import make_locked
path, _ = make_locked(sys.argv[1], Path(sys.argv[2]))
(path / "model.onnx").write_bytes(b"weights")
print(path, flush=True)
time.sleep(600)
"""


def held_by_a_child(prefix: str, parent: Path) -> tuple[subprocess.Popen[str], Path]:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, prefix, str(parent)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    return child, Path(child.stdout.readline().strip())


def age(path: Path, seconds: float = 2 * scratch.GRACE_SECONDS) -> None:
    past = time.time() - seconds
    os.utime(path, (past, past))


@pytest.mark.skipif(sys.platform == "win32", reason="no flock: folders are neither locked nor swept")
def test_a_killed_owners_folder_is_removed_by_the_next_owner_and_a_live_ones_is_kept(tmp_path: Path) -> None:
    child, held = held_by_a_child(TASK_DIR_PREFIX, tmp_path)
    try:
        age(held)
        with scratch.scratch_dir(TASK_DIR_PREFIX, tmp_path) as mine:
            assert held.is_dir()  # its owner lives: kept, however old
            assert (mine / "..").resolve() == tmp_path.resolve()
        assert not mine.exists()  # removed when done
        child.send_signal(signal.SIGKILL)
        child.wait(10)
        assert (held / "model.onnx").is_file()  # the crash left it
        assert held.name.startswith(TASK_DIR_PREFIX + scratch.this_host().tag)
        young = tmp_path / f"{TASK_DIR_PREFIX}{scratch.this_host().tag}just-made"
        young.mkdir()  # unlocked, but its owner may be about to lock it
        other = tmp_path / "mlp-other-kind"
        other.mkdir()
        age(other)
        with scratch.scratch_dir(TASK_DIR_PREFIX, tmp_path):
            assert not held.exists()
            assert young.is_dir() and other.is_dir()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


@pytest.mark.skipif(sys.platform == "win32", reason="no flock: folders are neither locked nor swept")
def test_the_serving_cache_removes_a_partial_download_a_killed_process_left(tmp_path: Path) -> None:
    objects = FolderStore(tmp_path / "objects")
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.onnx").write_bytes(b"onnx bytes")
    url = upload_path(objects, model, "models", "modelrepo/p/1/")
    cache_root = tmp_path / "cache"
    cache_root.mkdir()
    child, partial = held_by_a_child(".partial-m1-1.", cache_root)
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    age(partial)
    folder = VersionCache(cache_root, objects).folder("m1-1", url)
    assert (folder / "model.onnx").read_bytes() == b"onnx bytes"
    assert sorted(p.name for p in cache_root.iterdir()) == ["m1-1"]


@pytest.mark.skipif(sys.platform == "win32", reason="no flock: folders are neither locked nor swept")
def test_a_sweep_removes_only_folders_it_can_prove_dead(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """flock may be per host on a network file system. Another host's folder, however old and unlocked,
    is left (logged once); so is one whose name records no owner (an earlier release's), and one of a
    machine of this name but another kernel, touched since this boot began. Removed: one of this kernel
    under another host name (a container of this machine: same locks), and one of this host's earlier
    boot, untouched since."""
    host = scratch.this_host()
    prefix = "mlp-scratch-test-"
    other_host = "0" * 8 if host.name != "0" * 8 else "1" * 8
    other_boot = "f" * 8 if host.boot != "f" * 8 else "e" * 8
    theirs = [tmp_path / f"{prefix}{other_host}-{other_boot}-abcdefg{n}" for n in range(2)]
    unrecorded = tmp_path / f"{prefix}k2j3h4g5"
    same_name_live = tmp_path / f"{prefix}{host.name}-{other_boot}-live1234"
    sibling = tmp_path / f"{prefix}{other_host}-{host.boot}-contain1"
    for folder in (*theirs, unrecorded, same_name_live, sibling):
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"weights")
        age(folder)
    caplog.set_level(logging.DEBUG, logger="mlp_server.scratch")
    scratch._told.clear()
    removed = scratch.sweep(prefix, tmp_path)
    assert scratch.sweep(prefix, tmp_path) == 0
    for folder in (*theirs, unrecorded, same_name_live):
        assert (folder / "model.onnx").is_file(), folder
    told = [r.getMessage() for r in caplog.records if f"{other_host}-{other_boot}-" in r.getMessage()]
    assert len(told) == 1 and "another host" in told[0], told  # once, not per folder or per sweep
    if host.boot == "0" * 8:  # no boot id: the host name alone tells this kernel's folders
        assert removed == 0 and sibling.is_dir()
        return
    assert removed == 1 and not sibling.exists()
    # Made under a longer prefix (a version's partial download), swept by a shorter one (every version's).
    longer = tmp_path / f"{prefix}m-1-2.{host.tag}xyz12345"
    longer.mkdir()
    age(longer)
    assert scratch.sweep(prefix, tmp_path) == 1 and not longer.exists()
    if host.booted_at is None:
        return  # no boot time from the kernel: a folder of another boot is never proven dead
    earlier_boot = tmp_path / f"{prefix}{host.name}-{other_boot}-old12345"
    earlier_boot.mkdir()
    age(earlier_boot, time.time() - host.booted_at + 60)  # last touched a minute before this boot
    assert scratch.sweep(prefix, tmp_path) == 1
    assert not earlier_boot.exists() and same_name_live.is_dir()


def test_a_folder_that_cannot_be_locked_is_removed_and_its_descriptor_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """flock refused (ENOLCK: a file system without locks): the error is raised, and neither the new
    folder nor its descriptor is left behind."""
    assert scratch.fcntl is not None

    def refuse(fd: int, operation: int) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(scratch.fcntl, "flock", refuse)
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(OSError) as refused:
        scratch.make_locked("mlp-scratch-test-", tmp_path)
    assert refused.value.errno == errno.ENOLCK
    assert list(tmp_path.iterdir()) == []
    assert set(os.listdir("/proc/self/fd")) <= before


def test_without_fcntl_a_folder_is_made_unlocked_and_never_swept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scratch, "fcntl", None)
    with scratch.scratch_dir("mlp-scratch-test-", tmp_path) as made:
        assert made.is_dir()
        age(made)
        assert scratch.sweep("mlp-scratch-test-", tmp_path) == 0  # nothing tells a live owner's apart
        assert made.is_dir()
    assert list(tmp_path.iterdir()) == []

"""Scratch folders that a crash does not leave behind.

A scratch folder is locked (``flock`` on the folder itself) for as long as its owner holds it open. A
``kill -9`` or a power loss ends the owner and so releases the lock, which the kernel does: the next
process to make a scratch folder of the same kind removes every such folder whose lock it can take.
A folder younger than ``GRACE_SECONDS`` is left alone, because its owner may not have locked it yet
(``mkdtemp`` then ``flock``). Without ``fcntl`` (Windows) folders are not locked and never swept.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

GRACE_SECONDS = 60.0


def make_locked(prefix: str, parent: Path | None = None) -> tuple[Path, int]:
    """A new folder ``{parent}/{prefix}XXXXXXXX`` (the system's temporary folder by default), locked;
    older, abandoned ones of the same prefix removed first. Close the returned descriptor to unlock."""
    where = Path(tempfile.gettempdir()) if parent is None else parent
    sweep(prefix, where)
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=where))
    if fcntl is None:  # nothing to lock with (a folder cannot even be opened there): never swept
        return path, os.open(os.devnull, os.O_RDONLY)
    fd = -1
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))  # not inherited: a child's crash
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # then releases nothing it should not
    except BaseException:
        if fd >= 0:
            os.close(fd)
        shutil.rmtree(path, ignore_errors=True)
        raise
    return path, fd


@contextlib.contextmanager
def scratch_dir(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """``tempfile.TemporaryDirectory``, locked while in use (see the module)."""
    path, fd = make_locked(prefix, parent)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        os.close(fd)


def sweep(prefix: str, parent: Path) -> int:
    """Remove the folders ``{parent}/{prefix}*`` that no live process holds; return how many."""
    if fcntl is None:
        return 0
    removed = 0
    try:
        entries = list(os.scandir(parent))
    except FileNotFoundError:
        return 0
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or now - entry.stat().st_mtime < GRACE_SECONDS:
                continue
            fd = os.open(entry.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            continue  # gone meanwhile, or not ours to open
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                continue  # its owner is alive
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += 1
        finally:
            os.close(fd)
    return removed

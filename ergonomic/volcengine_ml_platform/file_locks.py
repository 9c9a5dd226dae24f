"""Locks on files that their holder removes as it lets go (shared by the client and the platform).

A lock file left in place for every name or task ever locked would pile up; removed while held, it
does not. The price is a check: a waiter may lock the removed file (it opened it before the removal),
so whoever locks a file then checks that its path still names it, and opens the path again if not.
Only where ``fcntl`` exists (POSIX); callers decide what to do without it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

AVAILABLE = fcntl is not None
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)  # not inherited: a child's exit then releases nothing of ours


def names(path: str | Path, fd: int) -> bool:
    """Whether ``path`` (not followed, if a link) still names the file open as ``fd``."""
    try:
        named, opened = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except OSError:
        return False
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def lock(path: str | Path, *, retry: Callable[[], None] | None = None) -> int:
    """Open (or create) ``path``, never through a link, and lock it exclusively; the descriptor.

    ``retry``: None waits in ``flock``; otherwise each try does not block, and ``retry()`` runs
    between tries (it waits a while, or raises to give up). OSError if the file cannot be opened."""
    assert fcntl is not None, "no fcntl: nothing to lock with (see AVAILABLE)"
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | _CLOEXEC, 0o600)
        try:
            if retry is None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            else:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        retry()
            if names(path, fd):
                return fd
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)  # the holder before us removed this file as it let go: lock the path's new one


def unlock(path: str | Path, fd: int) -> None:
    """Remove ``path`` while still holding its lock, then let go (see the module)."""
    with contextlib.suppress(OSError):
        os.unlink(path)
    os.close(fd)

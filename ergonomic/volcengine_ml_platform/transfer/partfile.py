"""A download's temporary files, ``{name}.{8 hex}.incomplete``, locked while they are written.

A download holds an ``flock`` on its part file from creating it until the file is moved into place or
removed. The kernel drops the lock when the process ends, however it ends, so a part file whose lock
can be taken was left by a download that was killed: the next download of the same file removes it,
and never one that another download (of this process or another) is still writing. Where ``flock`` is
unavailable (no ``fcntl``, or a file system that refuses it) part files are not locked, and only those
untouched for ``GRACE_SECONDS`` count as left behind. (The same idea as the platform's scratch folders;
the client keeps its own copy: it never imports the server.)
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from .. import file_locks
from ..errors import TransferError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

GRACE_SECONDS = 60.0
SUFFIX = re.compile(r"\.[0-9a-f]{8}\.incomplete")
_SUFFIX_LEN = 20  # len(".0123abcd.incomplete")
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)  # not inherited: a child's exit then releases nothing of ours
_NAME_TRIES = 64
# flock refused by the file system (some network file systems): work unlocked, as without fcntl.
_UNSUPPORTED = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS})


class PartFile:
    """One download's temporary file: created (never an existing one), and locked while it is open."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path = path
        self._fd = fd

    def size(self) -> int:
        """The size of what was written (of the file we created, even if its name went meanwhile)."""
        try:
            return os.fstat(self._fd).st_size if self._fd is not None else os.stat(self.path).st_size
        except OSError as exc:
            raise TransferError(
                f"cannot read the download's temporary file {self.path}: {exc.strerror}"
            ) from exc

    def move_to(self, dest: Path) -> None:
        try:
            os.replace(self.path, dest)
        except OSError as exc:
            raise TransferError(
                f"cannot move the download's temporary file {self.path} into place at {dest}: {exc.strerror}"
            ) from exc

    def discard(self) -> None:
        """Remove the file if it is still there (after a failure) and release the lock."""
        try:
            with contextlib.suppress(FileNotFoundError):
                if self._fd is None or file_locks.names(self.path, self._fd):
                    os.unlink(self.path)
        finally:
            self.release()

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def create(dest: Path, serial: Iterator[int]) -> PartFile:
    """A new, locked part file for ``dest``, named by the next number of ``serial``."""
    for _ in range(_NAME_TRIES):
        path = Path(f"{dest}.{next(serial) & 0xFFFFFFFF:08x}.incomplete")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _CLOEXEC, 0o666)
        except FileExistsError:
            continue  # another download's name
        except OSError as exc:
            raise TransferError(
                f"cannot create the download's temporary file {path}: {exc.strerror}"
            ) from exc
        if fcntl is None:
            os.close(fd)  # nothing to lock with; an open file could not be renamed on Windows anyway
            return PartFile(path, None)
        locked = _try_lock(fd)
        if locked is None:
            return PartFile(path, fd)  # flock unsupported here: unlocked, swept by age only
        # A sweeper that opened the file before we locked it may hold the lock, or have removed the name.
        if locked and file_locks.names(path, fd):
            return PartFile(path, fd)
        os.close(fd)
    raise TransferError(f"cannot create a temporary file for {dest}: {_NAME_TRIES} names taken")


def remove_left_behind(dests: Iterable[Path]) -> None:
    """Remove the part files of ``dests`` that no running download holds (see the module)."""
    by_folder: dict[Path, set[str]] = {}
    for dest in dests:
        by_folder.setdefault(dest.parent, set()).add(dest.name)
    now = time.time()
    for folder, names in by_folder.items():
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            base, tail = entry.name[:-_SUFFIX_LEN], entry.name[-_SUFFIX_LEN:]
            if base in names and SUFFIX.fullmatch(tail):
                _remove_if_abandoned(Path(entry.path), now)


def _remove_if_abandoned(path: Path, now: float) -> None:
    try:
        if not path.is_file() or path.is_symlink():
            return
        fd = os.open(path, os.O_RDONLY | _CLOEXEC)
    except OSError:
        return  # gone meanwhile (moved into place), or not ours to open
    try:
        locked = _try_lock(fd) if fcntl is not None else None
        if locked is False:
            return  # a running download writes it
        if locked is None and now - os.fstat(fd).st_mtime < GRACE_SECONDS:
            return  # no lock to tell: only what nobody touched for a while is abandoned
        if file_locks.names(path, fd):
            logger.info("removing %s, left by an interrupted download", path)
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool | None:
    """True: locked; False: another open file holds the lock; None: this file system cannot lock."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in _UNSUPPORTED:
            return None
        return False
    return True

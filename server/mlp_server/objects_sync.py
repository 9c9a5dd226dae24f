"""A registration's files on disk before its row commits: the folder store's writes made durable.

The client writes a Path's objects into the folder store without fsync, and the platform writes the
manifest beside them. Before CreateModel commits, all of it (bytes, checksum attributes, the names
and the folders leading to them) must survive a power loss, or a durable row would point at lost
files. Two ways, both covering whoever wrote the files:

- file by file (the platform's default): each file is fsynced, then every folder from it up to the
  store's root (:mod:`volcengine_ml_platform.transfer.durability`). The cost is bounded by the
  registration's own files: a device flush per file and per folder.
- one ``syncfs(2)`` of the store's file system (``syncfs=True``), for every file written before it
  started. Concurrent registrations share one: a caller waits for a syncfs that *started* after it
  asked (its files were written before it asked), so while one runs, the callers that arrive meanwhile
  are served by the next one together, as group commit shares the database's fsync. It also flushes
  everything else waiting on that file system: on a disk shared with bulk writers it took seconds.
  Linux reports a failed write-back to ``syncfs`` since 5.8 (errors since the descriptor was opened:
  it is opened once, when the platform starts).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path

from volcengine_ml_platform.transfer import durability

SyncFs = Callable[[int], None]


def _libc_syncfs() -> SyncFs | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        call = libc.syncfs
    except (OSError, AttributeError):
        return None
    call.argtypes = [ctypes.c_int]
    call.restype = ctypes.c_int

    def syncfs(fd: int) -> None:
        if call(fd) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"syncfs: {os.strerror(errno)}")

    return syncfs


class ObjectsSync:
    """Durability of the folder store rooted at ``root`` (see the module's docstring)."""

    def __init__(self, root: Path, *, syncfs: SyncFs | bool | None = False) -> None:
        self.root = Path(root)
        # True: the C library's syncfs if there is one (else file by file); None/False: file by file.
        self._syncfs = _libc_syncfs() if syncfs is True else (syncfs or None)
        # Opened once: syncfs reports the write-back errors since its descriptor was opened.
        self._fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
        self._closed = weakref.finalize(self, os.close, self._fd)  # platforms have no close of their own
        self.syncs = 0  # syncfs calls made (for tests and benchmarks)
        self._fresh_state()

    def _fresh_state(self) -> None:
        # A forked child starts afresh: a syncfs running in the parent at the fork is not its own.
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._asked = 0  # tickets handed out
        self._covered = 0  # every ticket up to this one is durable
        self._failed: dict[int, BaseException] = {}  # a failed sync's last ticket -> its error
        self._running = False

    @property
    def shared(self) -> bool:
        """Whether one syncfs serves concurrent callers (False: fsync file by file)."""
        return self._syncfs is not None

    def sync(self, written: Sequence[Path]) -> None:
        """Return once ``written`` (files of the store, written before this call) and the folders on
        their way from the root are durable; raise OSError if they may not be."""
        if self._syncfs is None:
            durability.sync_files(written, self.root)
            return
        if self._pid != os.getpid():
            self._fresh_state()
        with self._cond:
            self._asked += 1
            ticket = self._asked
            while True:
                if self._covered >= ticket:
                    return
                failed = next((err for last, err in self._failed.items() if last >= ticket), None)
                if failed is not None:
                    raise failed
                if not self._running:
                    break
                self._cond.wait()
            self._running = True
            upto = self._asked  # every ticket so far asked before this syncfs starts: it covers them
        error: BaseException | None = None
        try:
            self._syncfs(self._fd)
        except BaseException as exc:
            error = exc
        with self._cond:
            self._running = False
            self.syncs += 1
            if error is None:
                self._covered = max(self._covered, upto)
            else:
                # Only the tickets this sync was to cover fail; later ones try again.
                self._failed = {k: v for k, v in self._failed.items() if k > self._covered}
                self._failed[upto] = error
            self._cond.notify_all()
        if error is not None:
            raise error

    def close(self) -> None:
        self._closed()

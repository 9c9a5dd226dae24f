"""A registration's files on disk before its row commits: the folder store's writes made durable.

The client writes a Path's objects into the folder store without fsync, and the platform writes the
manifest beside them. Before CreateModel commits, all of it (bytes, checksum attributes, the names
and the folders leading to them) must survive a power loss, or a durable row would point at lost
files. Two ways, both covering whoever wrote the files:

- file by file (the platform's default), in sync groups: each file is fsynced, then every folder
  from it up to the store's root (:mod:`volcengine_ml_platform.transfer.durability`). Registrations
  that arrive together share the work, as group commit shares the database's fsync: while one group
  runs, the callers that arrive meanwhile queue up, and the next group takes them all. A group fsyncs
  every file of its members and every folder on their way to the root once (the store root and the
  account's bucket are common to all), all at once from a few threads: concurrent fsyncs on ext4
  share journal commits, where one after another each paid its own. A member is answered only once
  all of its own files and folders are synced; one whose file or folder failed gets that error, the
  others of its group are not affected by it. Only names written before the member asked are
  counted on: a group's folder fsyncs all start after its members asked.
- one ``syncfs(2)`` of the store's file system (``syncfs=True``), for every file written before it
  started. Concurrent registrations share one: a caller waits for a syncfs that *started* after it
  asked (its files were written before it asked), so while one runs, the callers that arrive meanwhile
  are served by the next one together. It also flushes everything else waiting on that file system:
  on a disk shared with bulk writers it took seconds. Linux reports a failed write-back to
  ``syncfs`` since 5.8 (errors since the descriptor was opened: it is opened once, when the platform
  starts).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from volcengine_ml_platform.transfer import durability

SyncFs = Callable[[int], None]
# fsync one name: (path, is_dir). Swappable for tests (a gated fake) and benchmarks.
FsyncPath = Callable[[str, bool], None]
# fsyncs of a group in flight at once (the calling thread is one of them).
DEFAULT_THREADS = 8


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


class _Member:
    """One caller's files in a sync group."""

    __slots__ = ("error", "files", "finished", "synced")

    def __init__(self, files: list[str]) -> None:
        self.files = files
        self.finished = False  # its group has run (synced, or error says why not)
        self.synced = False  # every file and folder it needs was fsynced without error
        self.error: BaseException | None = None


class ObjectsSync:
    """Durability of the folder store rooted at ``root`` (see the module's docstring)."""

    def __init__(
        self,
        root: Path,
        *,
        syncfs: SyncFs | bool | None = False,
        fsync: FsyncPath = durability.fsync_path,
        threads: int = DEFAULT_THREADS,
    ) -> None:
        self.root = Path(root)
        self._root = os.path.normpath(os.fspath(self.root))
        # True: the C library's syncfs if there is one (else file by file); None/False: file by file.
        self._syncfs = _libc_syncfs() if syncfs is True else (syncfs or None)
        self._fsync_path = fsync
        self._threads = max(1, threads)
        # Opened once: syncfs reports the write-back errors since its descriptor was opened.
        self._fd = os.open(self.root, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | os.O_CLOEXEC)
        self._closed = weakref.finalize(self, os.close, self._fd)  # platforms have no close of their own
        self.syncs = 0  # syncfs calls made (for tests and benchmarks)
        self.groups = 0  # sync groups run, file by file (registrations / groups = group size)
        self.flushes = 0  # fsyncs the groups made (files, plus folders once per group)
        self._pool: ThreadPoolExecutor | None = None
        self._fresh_state()

    def _fresh_state(self) -> None:
        # A forked child starts afresh: a syncfs running in the parent at the fork is not its own.
        self._pid = os.getpid()
        self._cond = threading.Condition()
        self._asked = 0  # tickets handed out
        self._covered = 0  # every ticket up to this one is durable
        self._failed: dict[int, BaseException] = {}  # a failed sync's last ticket -> its error
        self._running = False
        self._pending: list[_Member] = []  # callers waiting for the next sync group
        self._grouping = False
        self._pool = None  # a forked child has none of the parent's threads

    @property
    def shared(self) -> bool:
        """Whether one syncfs serves concurrent callers (False: fsync file by file)."""
        return self._syncfs is not None

    def sync(self, written: Sequence[Path]) -> None:
        """Return once ``written`` (files of the store, written before this call) and the folders on
        their way from the root are durable; raise OSError if they may not be."""
        if self._pid != os.getpid():
            self._fresh_state()
        if self._syncfs is None:
            self._sync_grouped(written)
            return
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

    # -- file by file, in sync groups ---------------------------------------------------------------

    def _sync_grouped(self, written: Sequence[Path]) -> None:
        member = _Member([os.fspath(p) for p in written])
        with self._cond:
            self._pending.append(member)
            while self._grouping and not member.finished:
                self._cond.wait()
            if not member.finished:
                # No group is running: this caller runs one for everyone waiting, itself included.
                self._grouping = True
                group, self._pending = self._pending, []
        if not member.finished:
            try:
                self._run_group(group)
            except BaseException as exc:
                # Whatever was not confirmed synced fails: nobody is answered on a guess.
                for each in group:
                    if not each.synced and each.error is None:
                        each.error = exc
            finally:
                with self._cond:
                    self._grouping = False
                    self.groups += 1
                    for each in group:
                        each.finished = True
                    self._cond.notify_all()
        if member.error is not None:
            raise member.error
        if not member.synced:  # pragma: no cover - a group always settles each member
            raise OSError(f"{len(member.files)} file(s) of the store could not be made durable")

    def _run_group(self, group: list[_Member]) -> None:
        """fsync every file of the group and every folder on their way to the root, each once, then
        settle each member by its own names' outcomes."""
        targets: dict[str, bool] = {}  # name -> is a folder; files first, then folders deepest first
        needs: list[tuple[_Member, list[str]]] = []
        folders: dict[str, int] = {}
        for member in group:
            try:
                files = [os.path.normpath(f) for f in member.files]
                own: set[str] = set()
                for name in files:
                    own.update(durability.folders_up_to(os.path.dirname(name), self._root))
            except ValueError as exc:  # a name outside the store: nothing to do for it here
                member.error = exc
                continue
            for name in files:
                targets[name] = False
            for folder in own:
                folders[folder] = folder.count(os.sep)
            needs.append((member, [*files, *own]))
        for folder in sorted(folders, key=lambda f: (-folders[f], f)):
            targets.setdefault(folder, True)
        failed = self._flush(list(targets.items()))
        for member, names in needs:
            error = next((failed[n] for n in names if n in failed), None)
            if error is None:
                member.synced = True
            else:
                member.error = error

    def _flush(self, targets: list[tuple[str, bool]]) -> dict[str, BaseException]:
        """fsync every target, up to ``threads`` at once (this thread is one); name -> error.

        One lane per file at most: a file's fsync writes its bytes and waits for a journal commit,
        which the other lanes' fsyncs share; a folder's, after them, mostly finds nothing pending. More
        lanes than files cost a thread hand-off each for no shorter wait (one registration's 3 files
        and 5 folders: 0.35-0.53 ms of CPU in 3 lanes, 0.74-0.78 in 8, the same wall time)."""
        self.flushes += len(targets)
        files = sum(1 for _, is_dir in targets if not is_dir)
        lanes = min(self._threads, max(files, 1), len(targets))
        if lanes <= 1:
            return self._flush_lane(targets)
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads - 1, thread_name_prefix="mlp-objects-sync")
        others = [self._pool.submit(self._flush_lane, targets[k::lanes]) for k in range(1, lanes)]
        failed = self._flush_lane(targets[0::lanes])
        for lane in others:
            failed.update(lane.result())
        return failed

    def _flush_lane(self, targets: list[tuple[str, bool]]) -> dict[str, BaseException]:
        failed: dict[str, BaseException] = {}
        for name, is_dir in targets:
            try:
                self._fsync_path(name, is_dir)
            except Exception as exc:  # it fails the members that need this name, not the group
                failed[name] = exc
        return failed

    def close(self, *, wait: bool = False) -> None:
        """Release the pool's threads and the root's descriptor. ``wait``: return once the threads
        have ended (a platform closed before the process ends must not leave them behind)."""
        if self._pool is not None and self._pid == os.getpid():
            self._pool.shutdown(wait=wait)
        self._pool = None
        self._closed()

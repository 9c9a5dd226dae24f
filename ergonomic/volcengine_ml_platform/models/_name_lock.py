"""One registration of a new model name at a time, among the clients of one machine.

``register(model_name=X, if_exists="new_version" | "error")`` looks X up, then creates a model when
none has that name. The API has no create-if-absent (CreateModel always creates a new model), so two
registrations of X at once would both find nothing and make two models named X. Clients on one
machine serialize through a lock file per (platform, access key, name): the second waits, looks X up
again, and adds its version to the model the first created. Clients on different machines are not
covered: only the platform could make that atomic, and the documented API gives no way to ask it.

Without ``fcntl`` (Windows) there is no lock, as before.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import stat
import tempfile
import threading
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

from ._plan import Stopped

log = logging.getLogger("volcengine_ml_platform")
POLL = 0.05  # seconds between attempts while another registration holds the name


def lock_folder() -> Path:
    """Per user, so that one user's lock files never block (or are unreadable to) another's."""
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(tempfile.gettempdir()) / f"volcengine-ml-platform-{uid}" / "names"


class NameLock:
    """The lock of one model name; :meth:`acquire` where blocking is allowed, :meth:`release` always."""

    def __init__(self, scope: str, access_key: str, model_name: str) -> None:
        key = "\0".join((scope, access_key, model_name)).encode("utf-8", "surrogatepass")
        self.path = lock_folder() / f"{hashlib.sha256(key).hexdigest()[:32]}.lock"
        self._fd: int | None = None

    def acquire(self, stop: threading.Event) -> None:
        """Wait for the name; raise :class:`Stopped` if ``stop`` is set first (a cancelled caller)."""
        if fcntl is None or not _private_folder(self.path.parent):
            return  # no lock to be had: registering goes on as without one (the lock only guards names)
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            except OSError as exc:
                log.warning("model name lock unavailable (%s); registering without it", exc)
                return
            try:
                while True:
                    try:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                        break
                    except BlockingIOError:
                        if stop.wait(POLL):
                            raise Stopped("the caller was cancelled") from None
                if stop.is_set():  # cancelled as it was acquired: nobody would release it
                    raise Stopped("the caller was cancelled")
                if _same_file(fd, self.path):
                    self._fd = fd
                    return
            except BaseException:
                os.close(fd)
                raise
            os.close(fd)  # the holder before us removed this file as it let go: lock the new one

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # Removed while still held, so the folder keeps no file per name ever registered; a
            # waiter that locks the removed file sees it is no longer the path's and opens again.
            with contextlib.suppress(OSError):
                self.path.unlink()
            os.close(fd)

    def __del__(self) -> None:  # a plan dropped without being closed must not keep the name forever
        self.release()


def _private_folder(folder: Path) -> bool:
    """Make ``folder`` (and its parent) as this user's alone, or find them so: real directories owned
    by this user that nobody else may write. A folder another local user made first (it could hold a
    lock forever or plant links) or one that cannot be made (a read-only temp folder) is not used."""
    try:
        for where in (folder.parent, folder):
            with contextlib.suppress(FileExistsError):
                os.mkdir(where, 0o700)
            found = os.lstat(where)
            if not stat.S_ISDIR(found.st_mode) or found.st_uid != os.getuid() or found.st_mode & 0o022:
                log.warning("model name lock unavailable: %s is not this user's private folder", where)
                return False
    except OSError as exc:
        log.warning("model name lock unavailable (%s); registering without it", exc)
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not removed or replaced since)."""
    try:
        here = path.stat()
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)

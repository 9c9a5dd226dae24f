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

from .. import file_locks
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
        if not file_locks.AVAILABLE or not _private_folder(self.path.parent):
            return  # no lock to be had: registering goes on as without one (the lock only guards names)

        def wait() -> None:
            if stop.wait(POLL):
                raise Stopped("the caller was cancelled")

        try:
            fd = file_locks.lock(self.path, retry=wait)
        except OSError as exc:
            log.warning("model name lock unavailable (%s); registering without it", exc)
            return
        if stop.is_set():  # cancelled as it was acquired: nobody would release it
            file_locks.unlock(self.path, fd)
            raise Stopped("the caller was cancelled")
        self._fd = fd

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            # Removed while still held, so the folder keeps no file per name ever registered.
            file_locks.unlock(self.path, fd)

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

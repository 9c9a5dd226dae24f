"""Scratch folders that a crash does not leave behind.

A scratch folder is locked (``flock`` on the folder itself) for as long as its owner holds it open. A
``kill -9`` or a power loss ends the owner and so releases the lock, which the kernel does: the next
process to make a scratch folder of the same kind removes every such folder whose lock it can take.
A folder younger than ``GRACE_SECONDS`` is left alone, because its owner may not have locked it yet
(``mkdtemp`` then ``flock``). Without ``fcntl`` (Windows) folders are not locked and never swept.

A lock proves an owner dead only to the kernel that took it: ``flock`` on a network file system may be
local to each host, so a temporary folder shared by several hosts would let one host's sweep remove
another's live folder. So a folder's name records who made it (``{prefix}{host}-{boot}-XXXXXXXX``: a
hash of the host name, then the start of the kernel's random boot id), and a sweep removes only
folders it can prove dead: those of this kernel (this boot id, whatever the host name: containers of
one machine share its kernel and its locks) whose lock is free, and those of this host name from an
earlier boot, untouched since this boot began. Another host's folders are left (logged once, at
debug), and so are folders whose name records no owner (an earlier release's).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

GRACE_SECONDS = 60.0
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_PROC_STAT = Path("/proc/stat")
_NO_BOOT = "0" * 8  # no boot id (not Linux): the host name alone tells this kernel's folders
# The owner's tag and the 8 characters mkdtemp adds, at the end of the name: a sweep by a shorter
# prefix (every version's partial downloads) finds the tag after whatever the maker's prefix held.
_OWNER = re.compile(r"(?P<tag>(?P<host>[0-9a-f]{8})-(?P<boot>[0-9a-f]{8})-)[a-z0-9_]{8}$")
_told: set[str] = set()  # other owners' tags already logged, so a sweep per task does not repeat it
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Host:
    """This machine as a folder's name records it."""

    name: str  # 8 hex digits of the host name's SHA-256
    boot: str  # the boot id's first 8 hex digits (random per boot); zeros where there is none
    booted_at: float | None  # when this boot began (seconds since the epoch), where the kernel says

    @property
    def tag(self) -> str:
        return f"{self.name}-{self.boot}-"


@functools.cache
def this_host() -> Host:
    """Read once per process: the folders are made per task, the host does not change under them."""
    name = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]
    try:
        boot = _BOOT_ID.read_text().strip().replace("-", "")[:8].lower()
    except OSError:
        boot = ""
    booted_at = None
    with contextlib.suppress(OSError, ValueError):
        for line in _PROC_STAT.read_text().splitlines():
            if line.startswith("btime "):
                booted_at = float(line.split()[1])
    valid = len(boot) == 8 and all(c in "0123456789abcdef" for c in boot)
    return Host(name, boot if valid else _NO_BOOT, booted_at)


def make_locked(prefix: str, parent: Path | None = None) -> tuple[Path, int]:
    """A new folder ``{parent}/{prefix}XXXXXXXX`` (the system's temporary folder by default), locked;
    older, abandoned ones of the same prefix removed first. Close the returned descriptor to unlock."""
    where = Path(tempfile.gettempdir()) if parent is None else parent
    sweep(prefix, where)
    path = Path(tempfile.mkdtemp(prefix=prefix + this_host().tag, dir=where))
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
    """Remove the folders ``{parent}/{prefix}*`` proven dead: made by this kernel and no longer held, or
    by this host in an earlier boot (see the module); return how many."""
    if fcntl is None:
        return 0
    removed = 0
    try:
        entries = list(os.scandir(parent))
    except FileNotFoundError:
        return 0
    host = this_host()
    now = time.time()
    for entry in entries:
        if not entry.name.startswith(prefix):
            continue
        owner = _OWNER.search(entry.name, len(prefix))
        if owner is None:
            continue  # no owner recorded: nothing proves it dead
        this_kernel = owner["boot"] == host.boot and (host.boot != _NO_BOOT or owner["host"] == host.name)
        if not this_kernel and owner["host"] != host.name:
            _left_to_its_host(entry.path, owner["tag"])
            continue
        try:
            if not entry.is_dir(follow_symlinks=False):
                continue
            touched = entry.stat().st_mtime
            if now - touched < GRACE_SECONDS:
                continue
            if not this_kernel and (host.booted_at is None or touched >= host.booted_at):
                # Touched since this boot began, by another kernel: a machine of the same name.
                _left_to_its_host(entry.path, owner["tag"])
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


def _left_to_its_host(path: str, tag: str) -> None:
    if tag not in _told:
        _told.add(tag)
        log.debug(
            "scratch: left %s (and any other folder of host %s): another host's lock is not seen here",
            path,
            tag,
        )

"""Who serves the deployed services of a platform, and whether that process still lives.

The serving supervisor holds a lease for as long as it serves: on a data folder, an exclusive
``flock`` of ``serving/supervisor.lock`` whose content names the holder (pid, host, boot id and the
process's start time); on PostgreSQL, also a session advisory lock, which the database drops with
the holder's connection. A reader in any process asks :func:`services_served` before it shows a
service as Deploying or Running, so a record never claims an endpoint that nobody serves, even after
the supervising process was killed with SIGKILL (its pid is then gone, or reused by a process that
started later; the kernel has dropped its ``flock`` and the database its session).

The probe never takes the lock (that could make a supervisor starting at the same moment give up),
except for a holder on another host, whose pid cannot be looked at from here.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import text

from ..store import Store

LOCK_NAME = "supervisor.lock"
# Held (on PostgreSQL) by the one supervisor that serves every service of the database.
SERVING_LOCK_KEY = 0x6D6C7073  # "mlps"


@dataclass(frozen=True)
class Holder:
    """The process that holds the lease."""

    pid: int
    host: str
    boot_id: str
    started: str  # the process's start time since boot (clock ticks), "" where /proc is missing

    @classmethod
    def this_process(cls) -> Holder:
        pid = os.getpid()
        return cls(pid=pid, host=socket.gethostname(), boot_id=_boot_id(), started=_start_ticks(pid) or "")


def lock_path(data_dir: Path) -> Path:
    return data_dir / "serving" / LOCK_NAME


def write_holder(fd: int) -> None:
    """Name this process in the lock file it holds (``fd``, locked)."""
    data = json.dumps(asdict(Holder.this_process())).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def clear_holder(fd: int) -> None:
    """Before the lock is released: nobody holds the lease any longer."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)


def services_served(store: Store, data_dir: Path) -> bool:
    """Whether a live supervisor serves this platform's services (in any process, on any server)."""
    if store.dialect == "postgresql":
        return _advisory_lock_held(store)
    return folder_lease_held(data_dir)


def folder_lease_held(data_dir: Path) -> bool:
    path = lock_path(data_dir)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return False
    try:
        holder = Holder(**json.loads(raw))
    except (ValueError, TypeError):
        return False  # empty: released (or a supervisor this instant between its lock and its name)
    if holder.host != socket.gethostname():
        return _flock_held(path)
    return _alive(holder)


def _alive(holder: Holder) -> bool:
    if holder.boot_id and holder.boot_id != _boot_id():
        return False  # the machine restarted since
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    started = _start_ticks(holder.pid)
    if started is None:
        return not Path("/proc/self/stat").exists()  # no /proc: the pid exists, that is all we know
    return started == holder.started  # a pid reused by a process that started later is not the holder


def _flock_held(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # releases the probe's shared lock at once
    return False


def _advisory_lock_held(store: Store) -> bool:
    with store.engine.connect() as conn:
        held = conn.execute(
            text(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                " AND CAST(classid AS bigint) = 0 AND CAST(objid AS bigint) = :key AND objsubid = 1)"
            ),
            {"key": SERVING_LOCK_KEY},
        ).scalar()
    return bool(held)


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return ""


def _start_ticks(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat (start time since boot); None if the process is gone, a zombie
    (killed, not yet reaped: it serves nothing) or there is no /proc."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state is field 3
    if not fields or fields[0] in ("Z", "X"):
        return None
    return fields[19]

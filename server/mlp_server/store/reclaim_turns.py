"""Turns that order a registration against the removal of an account's objects, across processes.

A registration (CreateModel) lists a Path's files, writes their manifest and commits its version: it
holds the account's turn *shared* for that whole span. A decision to remove objects (the storage
sweep recording an unreferenced upload prefix, a delete's reclaim checking that no version uses its
Path) holds the turn *exclusively*: the sweep for its decision (a database check and the record it
writes), a reclaim (:func:`mlp_server.lifecycle.reclaim`, of a delete's or of that record) for its
check, listing and removal, under a pending-reclaim record (:mod:`.reclaims`): no registration commits
on the Path before the keys it listed are gone, so none of them can be a newer upload's it registered.
So a decision waits for the registrations in flight and sees their versions, and a registration that
starts after it sees its record: never a version committed with files a decision doomed.

Registrations do not wait for each other (shared). The turn is held across processes and machines:
on PostgreSQL a session-level advisory lock (on a pooled connection of its own, which gives it back
if the process dies), on SQLite (one machine) ``flock`` on files beside the database, two per account
(the turn and a gate that queues registrations behind a waiting decision). Either way a registration
that asks while a decision waits comes after it: registrations that keep overlapping never shut a
decision out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError

from . import pg_sessions
from .base import StoreBase

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_KEY = "SELECT hashtextextended(:key, 0)"
# The wait is set in the same statement (one round trip): these connections only ever lock, so the
# setting left on one for its next user is overwritten by that user's own.
_LOCK = {
    True: text(f"SELECT set_config('lock_timeout', :ms, false), pg_advisory_lock(({_KEY}))"),
    False: text(f"SELECT set_config('lock_timeout', :ms, false), pg_advisory_lock_shared(({_KEY}))"),
}
_UNLOCK = {
    True: text(f"SELECT pg_advisory_unlock(({_KEY}))"),
    False: text(f"SELECT pg_advisory_unlock_shared(({_KEY}))"),
}
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


# PostgreSQL: the connections one process's turns take at most (CreateModels in flight, up to the
# server's 40 threads, background reclaims, a sweep): without a bound, a few servers at full load would
# take max_connections (100 by default) and every new connection would fail, the store's too.
MAX_TURN_CONNECTIONS = 10


class TurnBusy(Exception):
    """The account's turn was not had within the wait (a long decision, or many registrations)."""


class TurnFileError(OSError):
    """The turn folder or one of its lock files cannot be used (a link put in its place, a folder that
    cannot be made or opened): an ``OSError`` whose message names the file and what to do."""

    def __str__(self) -> str:
        return f"{self.strerror}: {self.filename}"


class ReclaimTurnsMixin(StoreBase):
    @cached_property
    def _turn_engine(self) -> Engine:
        """PostgreSQL: the turns' connections, a pool apart from the store's. A turn's holder uses the
        store's pool inside it (its listing's reads, its commit): were the turns from that pool too,
        as many registrations as it has connections would each hold one and wait for another. Its
        connections only lock, at most :data:`MAX_TURN_CONNECTIONS` at once (:attr:`_turn_slots`)."""
        engine = create_engine(
            self._engine.url,
            pool_pre_ping=True,
            pool_size=5,
            max_overflow=MAX_TURN_CONNECTIONS - 5,
            connect_args=dict(pg_sessions.KEEPALIVES),
        )
        # A holder cut off by the network would keep its turn (and every registration or decision of
        # the account waiting) until the database noticed: hours by default. Its backend ends within
        # about 8 s of the peer going silent. No idle timeout: a holder may rightly be slow (a removal
        # from a slow store), and TCP tells a slow peer from a dead one.
        event.listen(
            engine,
            "connect",
            lambda dbapi_connection, _record: pg_sessions.apply_on_connect(
                dbapi_connection, pg_sessions.TCP_SETTINGS
            ),
        )
        return engine

    @cached_property
    def _turn_slots(self) -> threading.BoundedSemaphore:
        """The turns this process holds (or waits for) at once on PostgreSQL: one connection each. A
        holder never asks for a second turn, so one waiting for a slot waits only for turns that end."""
        return threading.BoundedSemaphore(MAX_TURN_CONNECTIONS)

    def close(self) -> None:
        super().close()
        if "_turn_engine" in self.__dict__:
            self._turn_engine.dispose()
        if (folder := self.__dict__.pop("_turn_dir_fd", None)) is not None:
            os.close(folder)
        if (private := self.__dict__.get("_turn_private")) is not None:
            private.cleanup()

    @cached_property
    def _turn_private(self) -> tempfile.TemporaryDirectory[str] | None:
        """An in-memory database's turn folder: one process only, so any private folder will do; removed
        when the store is closed (or, never closed, when it is collected or the interpreter exits)."""
        if self._engine.url.database not in (None, "", ":memory:"):
            return None
        return tempfile.TemporaryDirectory(prefix="mlp-reclaim-turns-")

    @cached_property
    def _turn_dir(self) -> Path:
        """``<database>.reclaim-turns``, beside the database and shared as its folder is: whoever can
        write the database (the server, ``mlp gc``, a worker, each perhaps as another user) can take
        the turns. It has the mode, owner and group of the database's folder (the data folder), as far
        as this process may set them; its lock files those of the database (:func:`_share_like`)."""
        if (private := self._turn_private) is not None:
            return Path(private.name)
        database = Path(str(self._engine.url.database))
        folder = Path(f"{database}.reclaim-turns")
        with contextlib.suppress(FileExistsError):
            folder.mkdir()
        if _share_path_like(folder, database.parent, os.O_DIRECTORY):
            # Made by an earlier release (private to the user that made it): its lock files too.
            with contextlib.suppress(OSError), os.scandir(folder) as entries:
                for entry in entries:
                    _share_path_like(Path(entry.path), database, os.O_NONBLOCK)
        return folder

    @cached_property
    def _turn_dir_fd(self) -> int:
        """A descriptor on the turn folder, through which its lock files are opened: the folder itself,
        never a link put in its place (whoever owns the data folder may put one, and a root process
        would make lock files, given to that user, in the folder it names)."""
        try:
            folder = self._turn_dir
        except OSError as exc:  # the folder could not be made (a data folder not ours to write, gone)
            raise TurnFileError(
                exc.errno, f"the reclaim turns' folder cannot be made ({exc.strerror})", exc.filename
            ) from None
        try:
            return os.open(folder, os.O_RDONLY | _DIRECTORY | _NOFOLLOW | _CLOEXEC)
        except OSError as exc:
            raise TurnFileError(
                exc.errno, "the reclaim turns' folder is not a folder (a link?): remove it",
                str(folder),
            ) from None  # fmt: skip

    def _turn_file(self, name: str) -> int:
        """A descriptor on the turn folder's lock file ``name``, made as :func:`_share_like` says. flock
        needs no write access: a lock file this process may only read still takes the turn. A link is
        never followed (nor is one linked to nothing taken for a file to make, over and over)."""
        folder, flags = self._turn_dir_fd, _NOFOLLOW | _CLOEXEC
        try:
            while True:
                try:
                    return os.open(name, os.O_RDWR | flags, dir_fd=folder)
                except PermissionError:
                    return os.open(name, os.O_RDONLY | flags, dir_fd=folder)
                except FileNotFoundError:
                    pass
                try:
                    fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | flags, 0o600, dir_fd=folder)
                except FileExistsError:  # made by another meanwhile
                    continue
                if self._turn_private is None:
                    _share_like(fd, Path(str(self._engine.url.database)))
                return fd
        except OSError as exc:
            path = str(self._turn_dir / name)
            if exc.errno != errno.ELOOP:
                raise TurnFileError(
                    exc.errno, f"a reclaim turn's lock file cannot be opened ({exc.strerror})", path
                ) from None
            raise TurnFileError(exc.errno, "a reclaim turn's lock file is a link: remove it", path) from None

    @contextmanager
    def reclaim_turn(self, account_id: int, *, exclusive: bool, wait: float) -> Iterator[None]:
        """Hold the account's turn (see the module's docstring) for the ``with`` body; TurnBusy if it
        is not had within ``wait`` seconds."""
        self._check_open()
        if self.dialect == "postgresql":
            with self._pg_turn(account_id, exclusive, wait):
                yield
            return
        with self._file_turn(account_id, exclusive, wait):
            yield

    @contextmanager
    def _pg_turn(self, account_id: int, exclusive: bool, wait: float) -> Iterator[None]:
        deadline = time.monotonic() + wait
        if not self._turn_slots.acquire(timeout=wait):
            raise TurnBusy(f"{MAX_TURN_CONNECTIONS} reclaim turns of this process were held for {wait} s")
        try:
            with self._pg_lock(account_id, exclusive, max(0.0, deadline - time.monotonic()), wait):
                yield
        finally:
            self._turn_slots.release()

    @contextmanager
    def _pg_lock(self, account_id: int, exclusive: bool, left: float, wait: float) -> Iterator[None]:
        params = {"key": f"mlp-reclaim-turn:{account_id}"}
        with self._turn_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            try:
                conn.execute(_LOCK[exclusive], {**params, "ms": f"{max(1, int(left * 1000))}ms"})
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
                    raise TurnBusy(f"the reclaim turn of account {account_id} was busy for {wait} s") from exc
                raise
            try:
                yield
            finally:
                try:
                    conn.execute(_UNLOCK[exclusive], params)
                except Exception:
                    conn.invalidate()  # its session ends, and the lock with it
                    raise

    @contextmanager
    def _file_turn(self, account_id: int, exclusive: bool, wait: float) -> Iterator[None]:
        """Two ``flock`` files per account: the turn itself, and a gate in front of it. flock has no
        queue (a shared lock is granted whenever only shared ones are held, whoever waits for an
        exclusive one), so registrations that keep overlapping would shut a decision out for good. A
        registration passes the gate (shared, for a moment) to take the turn; a decision holds the gate
        while it waits for the turn, so later registrations wait behind it, as PostgreSQL queues them."""
        deadline = time.monotonic() + wait
        with ExitStack() as turn:
            with self._flock(account_id, "gate", exclusive, deadline, wait):
                turn.enter_context(self._flock(account_id, "lock", exclusive, deadline, wait))
            yield

    @contextmanager
    def _flock(
        self, account_id: int, kind: str, exclusive: bool, deadline: float, wait: float
    ) -> Iterator[None]:
        assert fcntl is not None, "no fcntl: no turns on this platform"
        # A descriptor of its own each time: flock locks belong to the open file, so two threads of
        # this process wait for each other as two processes do.
        fd = self._turn_file(f"{account_id}.{kind}")
        try:
            mode = fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH
            pause = 0.002
            while True:
                try:
                    fcntl.flock(fd, mode | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise TurnBusy(
                            f"the reclaim turn of account {account_id} was busy for {wait} s"
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.05)
            yield
        finally:
            os.close(fd)  # lets go of the lock


def _share_like(fd: int, like: Path) -> bool:
    """Give the turn folder or lock file open on ``fd`` the owner, group and permission bits of
    ``like`` (the database's folder, the database), so that whoever may write the database may use it
    whichever user made it (``mlp gc`` as root, the server as its own user). As far as this process
    may: a user that is neither root nor the owner cannot, and needs none of it (what it made is its
    own, with its umask's bits, as the database's other files). Through the descriptor, never a path:
    a root process follows no link another user put in the folder."""
    if not hasattr(os, "fchown"):  # pragma: no cover - Windows
        return False
    try:
        want, have = like.stat(), os.fstat(fd)
    except OSError:
        return False
    mode = stat.S_IMODE(want.st_mode) & (0o7777 if stat.S_ISDIR(have.st_mode) else 0o666)
    differed = False
    if (have.st_uid, have.st_gid) != (want.st_uid, want.st_gid):
        differed = True
        try:
            os.fchown(fd, want.st_uid, want.st_gid)
        except OSError:  # not root: the group at least, if this user is in it
            with contextlib.suppress(OSError):
                os.fchown(fd, -1, want.st_gid)
    if stat.S_IMODE(have.st_mode) != mode:
        differed = True
        with contextlib.suppress(OSError):
            os.fchmod(fd, mode)
    return differed


def _share_path_like(path: Path, like: Path, flags: int) -> bool:
    """:func:`_share_like` for ``path`` if it is a folder (``flags``: ``O_DIRECTORY``) or a lock file
    (a regular file of one link): not a link, nor a file linked in from elsewhere. Whether its owner,
    group or mode differed from ``like``'s."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | _CLOEXEC | flags)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        folder = bool(flags & getattr(os, "O_DIRECTORY", 0))
        if stat.S_ISDIR(st.st_mode) if folder else stat.S_ISREG(st.st_mode) and st.st_nlink == 1:
            return _share_like(fd, like)
        return False
    finally:
        os.close(fd)

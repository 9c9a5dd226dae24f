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

import os
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


# PostgreSQL: the connections one process's turns take at most (CreateModels in flight, up to the
# server's 40 threads, background reclaims, a sweep): without a bound, a few servers at full load would
# take max_connections (100 by default) and every new connection would fail, the store's too.
MAX_TURN_CONNECTIONS = 10


class TurnBusy(Exception):
    """The account's turn was not had within the wait (a long decision, or many registrations)."""


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

    @cached_property
    def _turn_dir(self) -> Path:
        database = self._engine.url.database
        if database in (None, "", ":memory:"):  # one process only: any private folder will do
            return Path(tempfile.mkdtemp(prefix="mlp-reclaim-turns-"))
        folder = Path(f"{database}.reclaim-turns")
        folder.mkdir(mode=0o700, exist_ok=True)
        return folder

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
        fd = os.open(self._turn_dir / f"{account_id}.{kind}", os.O_RDWR | os.O_CREAT | _CLOEXEC, 0o600)
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

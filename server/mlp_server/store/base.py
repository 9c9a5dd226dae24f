"""What every resource module shares: the engine, one session per call, fresh ids."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import URL, Engine, Executable
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mlp_server.errors import ApiError
from mlp_server.storage_errors import LOCKED, CommitOutcomeUnknown, database_unreachable

from .engine import DEFAULT_BUSY_TIMEOUT, create_store_engine, lock_wait, writer
from .group_commit import GroupCommit, StoreClosedError, connection_is_shared
from .ids import new_id, utcnow
from .migrate import prepare
from .raw_sqlite import RawCursor
from .schema import Base

# A request body / a Result, with the wire's PascalCase keys.
Body = Mapping[str, Any]
Result = dict[str, Any]

_Row = TypeVar("_Row", bound=Base)
_T = TypeVar("_T")
_ID_ATTEMPTS = 8
_OFF = ("0", "false", "no", "off")


class StoreBase:
    """Owns the engine; safe to share across threads (sessions are per call, never shared)."""

    def __init__(
        self,
        url: str | URL,
        *,
        clock: Callable[[], datetime] = utcnow,
        upgrade: bool = False,
        group_commit: bool | None = None,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    ) -> None:
        """Open the store; a new database gets the current schema, an older one is refused with
        :class:`~mlp_server.store.migrate.MigrationRequired` unless ``upgrade`` is set.

        ``group_commit`` (SQLite files only; default on, ``MLP_SQLITE_GROUP_COMMIT=0`` turns it off):
        this process's writes share commits (:mod:`.group_commit`). Off, each write is its own
        transaction behind a process-wide lock. PostgreSQL always commits each transaction itself: it
        already lets concurrent commits share a WAL flush, and writers there run at once.

        ``busy_timeout`` (SQLite): seconds a write waits for the database's lock, counted from when it
        was asked for (this process's queue included), before it fails as ``ServiceUnavailableTemp``.
        """
        self._engine = create_store_engine(url, busy_timeout=busy_timeout)
        self._busy_timeout = busy_timeout
        try:
            prepare(self._engine, upgrade=upgrade)
        except BaseException:
            self._engine.dispose()
            raise
        write_engine = writer(self._engine)
        self._reader = sessionmaker(self._engine, expire_on_commit=False)
        self._writer = sessionmaker(write_engine, expire_on_commit=False)
        self._clock = clock
        # SQLite has one writer at a time, and a writer waiting on its busy timeout sleeps up to 100 ms
        # between tries, in no order: under 8 concurrent registrations some waited over a second.
        # Queueing this process's writers in one place first leaves the busy timeout for other processes.
        self._group: GroupCommit | None = None
        self._closed = False
        self._write_gate: threading.Lock | None = None
        # Reclaim records whose objects are removed and whose drop rides along a later commit
        # (``reclaims.ReclaimsMixin.reclaim_done``): they no longer cover their Paths in this process.
        self._reclaims_dropped: set[int] = set()
        if self._engine.dialect.name == "sqlite":
            if group_commit is None:
                group_commit = os.environ.get("MLP_SQLITE_GROUP_COMMIT", "1").strip().lower() not in _OFF
            if group_commit and not connection_is_shared(self._engine):
                self._group = GroupCommit(write_engine, busy_timeout=busy_timeout)
            else:
                self._write_gate = threading.Lock()

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql`` ...: the few queries that differ by database ask this."""
        return self._engine.dialect.name

    @property
    def group_commit(self) -> GroupCommit | None:
        """The writer that batches this process's SQLite commits, if it is on."""
        return self._group

    @property
    def closed(self) -> bool:
        """Closed by :meth:`close`: every later read or write raises :class:`StoreClosedError`, on any
        database (a disposed engine would otherwise open new connections), and its owners (the serving
        supervisor) stop using it."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")

    def close(self) -> None:
        self._closed = True
        if self._group is not None:
            self._group.close()
        self._engine.dispose()

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read-only transaction: one consistent snapshot for a page and its Total."""
        self._check_open()
        with self._reader.begin() as session:
            yield session

    def _single_read(self, statement: Executable, parameters: Mapping[str, Any]) -> Any:
        """The first row of one read statement (its values typed as SQLAlchemy types them), or None,
        without a Session or a transaction: one statement reads one snapshot on its own. On SQLite it
        runs on the pooled driver connection (:mod:`.raw_sqlite`), not through a SQLAlchemy Connection,
        whose checkout and BEGIN cost more than the read; on PostgreSQL in autocommit, one round trip
        instead of BEGIN, the read and ROLLBACK."""
        self._check_open()
        if self._engine.dialect.name == "sqlite":
            pooled = self._engine.raw_connection()
            try:
                cursor = pooled.driver_connection.cursor()  # type: ignore[union-attr]
                return RawCursor(cursor, self._engine.dialect).execute(statement, parameters).first()
            finally:
                pooled.close()
        with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            return conn.execute(statement, parameters).first()

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One write: durable when the block ends without error, rolled back (all of it) on any error.

        With group commit the block is one unit of a batch (see :meth:`_write_unit`); code in it must
        not wait for another write of this process."""
        self._check_open()
        if self._group is not None:
            with self._group.borrow() as session:
                yield session
            return
        # As ``sessionmaker.begin()``, but a lost connection during the COMMIT is told apart: the
        # commit may have been applied, so it must not be answered as the retried 503 (storage_errors).
        with self._gate(), self._writer() as session:
            session.begin()
            yield session  # an error here or in the flush: Session.close() rolls it all back
            session.flush()
            try:
                session.commit()
            except DBAPIError as exc:
                if database_unreachable(exc):  # the COMMIT may have been applied before the loss
                    raise CommitOutcomeUnknown("the database connection failed during a commit") from exc
                raise

    @contextmanager
    def _gate(self) -> Iterator[None]:
        """This process's writers one at a time (group commit off), each waiting at most the busy
        timeout for its turn: then SQLite's own wait (the same timeout) for other processes."""
        gate = self._write_gate
        if gate is None:
            yield
            return
        asked = time.monotonic()
        if not gate.acquire(timeout=self._busy_timeout):
            raise ApiError("ServiceUnavailableTemp", LOCKED)
        try:
            waited = time.monotonic() - asked
            if waited < 0.02:  # the usual case: the whole timeout is left, nothing to set
                yield
            else:
                with lock_wait(max(0.05, self._busy_timeout - waited)):
                    yield
        finally:
            gate.release()

    def _write_unit(self, work: Callable[[Session], _T]) -> _T:
        """Run ``work(session)`` as one write and return its result once committed; an error in it
        rolls back all of its effects. The cheaper form of :meth:`_write` under group commit (it runs
        on the writer thread, no hand-over of the session)."""
        self._check_open()
        if self._group is not None:
            return self._group.run(work)
        with self._write() as session:
            return work(session)


def with_new_id(prefix: str, now: datetime, attempt: Callable[[str], _T | None]) -> _T:
    """``attempt(id)`` under fresh random ids until it answers (None: that id was taken, a rare
    collision), at most ``_ID_ATTEMPTS`` times. Each attempt runs its insert in a SAVEPOINT so that a
    collision does not spoil the caller's transaction, and re-raises an IntegrityError that is not one."""
    for _ in range(_ID_ATTEMPTS):
        if (done := attempt(new_id(prefix, now))) is not None:
            return done
    raise ApiError("InternalError", f"could not allocate a unique {prefix}- id")


def insert_with_new_id(session: Session, prefix: str, now: datetime, build: Callable[[str], _Row]) -> _Row:
    """Insert ``build(id)`` (an ORM row) under a fresh random id, retrying on the rare collision."""

    def attempt(candidate: str) -> _Row | None:
        row = build(candidate)
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            identity = type(row).__mapper__.primary_key_from_instance(row)
            if session.get(type(row), identity) is None:
                raise  # not an id collision
            return None
        return row

    return with_new_id(prefix, now, attempt)

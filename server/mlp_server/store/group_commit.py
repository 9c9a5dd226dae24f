"""Group commit on SQLite: this process's write transactions share one commit, and so one fsync.

One writer thread takes every queued write unit, runs each in its own SAVEPOINT inside one outer
``BEGIN IMMEDIATE`` transaction, commits once (``synchronous=FULL`` in WAL mode: the commit fsyncs the
WAL) and only then completes each unit's future, so no answer leaves before its fsync. A unit that
fails rolls back only its savepoint; its error is delivered after the commit too, because its outcome
may rest on a batch-mate's effects that the commit could still lose. A failed commit fails every unit
of the batch (none of them was acknowledged). Batches form by themselves: units queue up while the
previous commit fsyncs.

The units of a batch run one after another, each seeing the effects of those before it: a serial
order, as SQLite's one-writer lock gives anyway. Other processes on the same file still take turns
through SQLite's lock (``BEGIN IMMEDIATE`` waits on the busy timeout).

A unit is either a function of a session, run on the writer thread (:meth:`GroupCommit.run`), a
function of the batch's ``sqlite3`` cursor, run there in a SAVEPOINT of its own without a Session
(:meth:`GroupCommit.run_raw`: the hot registrations, :mod:`.raw_sqlite`), or the body of a ``with``
block on the caller's thread that borrows the batch's session (:meth:`borrow`).
"""

from __future__ import annotations

import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

_T = TypeVar("_T")
# Bounds the work (and the time) one commit covers; a full queue simply makes the next batch.
MAX_BATCH = 256
# How long a write that rides along (GroupCommit.ride) waits for a batch before it is committed alone.
RIDE_WAIT = 0.5
# A batch's wait for the lock never goes below this, so a batch whose units queued for long (behind
# a slow commit, not a lock) still gets a fair try; a free lock is taken at once anyway.
_MIN_LOCK_WAIT = 0.05


class StoreClosedError(RuntimeError):
    """The store was closed: the write was not attempted."""


@dataclass(eq=False)
class _Unit:
    work: Callable[[Session], Any]
    outcome: Future[Any] = field(default_factory=Future)
    raw: Callable[[sqlite3.Cursor], Any] | None = None  # run on the cursor instead of ``work``
    queued: float = field(default_factory=time.monotonic)


@dataclass(eq=False)
class _Borrowed:
    """A unit whose body runs on the caller's thread: the writer lends it the session and waits."""

    lent: Future[Session] = field(default_factory=Future)
    returned: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None

    def run(self, session: Session) -> None:
        self.lent.set_result(session)
        self.returned.wait()
        if self.error is not None:
            raise self.error


_STOP = object()


class GroupCommit:
    """The write path of one SQLite store in one process (see the module's docstring)."""

    def __init__(self, engine: Engine, *, max_batch: int = MAX_BATCH, busy_timeout: float = 10.0) -> None:
        self._engine = engine
        self._max_batch = max_batch
        # A unit waits at most this long for the lock, counted from when it was queued: a batch waits
        # for another process's lock only as long as its oldest unit has left (the connection's
        # busy_timeout, set per batch when it differs), so a unit queued behind a batch that waited
        # in vain does not wait a whole timeout again.
        self._busy_ms = max(1, round(busy_timeout * 1000))
        self._queue: queue.SimpleQueue[_Unit | object] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._closed = False
        self._riders: list[_Unit] = []  # see ride(); guarded by _lock
        self.batches = 0  # commits made (for tests and benchmarks: units / batches = batch size)
        self.units = 0

    def run(self, work: Callable[[Session], _T]) -> _T:
        """Run ``work(session)`` on the writer thread; its result once the batch is committed."""
        unit = _Unit(work)
        self._submit(unit)
        result: _T = unit.outcome.result()
        return result

    def ride(self, work: Callable[[Session], _T]) -> Future[_T]:
        """Run ``work(session)`` in the next batch, without waiting and without a commit of its own:
        it rides along the next write's commit, or is committed alone after :data:`RIDE_WAIT` seconds
        without one (or at :meth:`close`). For a write whose durability no answer waits on."""
        unit = _Unit(work)
        with self._lock:
            self._ensure_writer()
            self._riders.append(unit)
        return unit.outcome

    def run_raw(self, work: Callable[[sqlite3.Cursor], _T]) -> _T:
        """Run ``work(cursor)`` on the writer thread, on the batch's ``sqlite3`` cursor in a SAVEPOINT
        of its own (rolled back alone if it raises); its result once the batch is committed."""
        unit = _Unit(_no_session, raw=work)
        self._submit(unit)
        result: _T = unit.outcome.result()
        return result

    @contextmanager
    def borrow(self) -> Iterator[Session]:
        """The ``with`` body runs as one unit, on this thread, with the batch's session."""
        borrowed = _Borrowed()
        unit = _Unit(borrowed.run)
        self._submit(unit)
        try:
            session = borrowed.lent.result()
        except BaseException:
            # The batch failed before this unit's turn (e.g. BEGIN timed out): nothing ran.
            unit.outcome.result()
            raise
        try:
            yield session
            session.flush()
        except BaseException as exc:
            borrowed.error = exc
            raise
        finally:
            borrowed.returned.set()
            if borrowed.error is None:
                unit.outcome.result()  # raises if the commit failed
            else:
                unit.outcome.exception()  # wait for the rollback to its savepoint

    def close(self) -> None:
        with self._lock:
            self._closed = True
            thread = self._thread if self._pid == os.getpid() else None
            self._thread = None
        if thread is not None:
            self._queue.put(_STOP)
            thread.join()

    # -- the writer thread ---------------------------------------------------------------------------

    def _submit(self, unit: _Unit) -> None:
        with self._lock:
            self._ensure_writer()
            self._queue.put(unit)

    def _ensure_writer(self) -> None:
        if self._closed:
            raise StoreClosedError("the store is closed")
        # A forked child (a worker process) inherits no thread: it starts its own writer.
        if self._thread is None or self._pid != os.getpid():
            self._queue = queue.SimpleQueue()
            self._riders = []
            self._pid = os.getpid()
            self._thread = threading.Thread(target=self._loop, name="mlp-group-commit", daemon=True)
            self._thread.start()

    def _take_riders(self) -> list[_Unit]:
        with self._lock:
            riders, self._riders = self._riders, []
        return riders

    def _loop(self) -> None:
        source = self._queue
        # One connection for the writer's life, not one checked out of the pool and reset per batch
        # (a third of the writer's own CPU at a batch of one); dropped after a failed batch, and when
        # the engine was disposed (its pool replaced: every connection after that must be a new one).
        conn: Connection | None = None
        busy_ms = self._busy_ms  # the connection's busy_timeout (a new connection gets the engine's)
        pool = self._engine.pool
        try:
            while True:
                try:
                    first = source.get(timeout=RIDE_WAIT)
                except queue.Empty:
                    if riders := self._take_riders():
                        conn = self._commit(riders, conn)
                    continue
                if first is _STOP:
                    if riders := self._take_riders():
                        conn = self._commit(riders, conn)
                    return
                batch: list[_Unit] = [first]  # type: ignore[list-item]
                stop = False
                while len(batch) < self._max_batch:
                    try:
                        more = source.get_nowait()
                    except queue.Empty:
                        break
                    if more is _STOP:
                        stop = True
                        break
                    batch.append(more)  # type: ignore[arg-type]
                wait_ms = self._lock_wait_ms(batch)  # the writes waiting on an answer; not the riders
                batch.extend(self._take_riders())
                if conn is not None and self._engine.pool is not pool:
                    conn.close()
                    conn = None
                pool = self._engine.pool
                if conn is None:
                    busy_ms = self._busy_ms  # what the engine gives a new connection
                conn, busy_ms = self._set_lock_wait(conn, busy_ms, wait_ms)
                conn = self._commit(batch, conn)
                if stop:
                    if riders := self._take_riders():
                        self._commit(riders, conn)
                    return
        finally:
            if conn is not None:
                conn.close()

    def _lock_wait_ms(self, batch: list[_Unit]) -> int:
        """What the batch's oldest unit has left of the busy timeout (the full one unless it queued
        for more than a few milliseconds, so the usual batch sets nothing)."""
        waited_ms = (time.monotonic() - min(unit.queued for unit in batch)) * 1000
        if waited_ms < 20:
            return self._busy_ms
        return max(round(_MIN_LOCK_WAIT * 1000), self._busy_ms - round(waited_ms))

    def _set_lock_wait(
        self, conn: Connection | None, busy_ms: int, wait_ms: int
    ) -> tuple[Connection | None, int]:
        """The connection for the next batch with SQLite's busy_timeout at ``wait_ms``, and that value.
        On the driver connection: through SQLAlchemy the PRAGMA would open a transaction."""
        if wait_ms == busy_ms:
            return conn, busy_ms
        try:
            if conn is None:
                conn = self._engine.connect()
            driver = conn.connection.driver_connection
            assert isinstance(driver, sqlite3.Connection)
            driver.execute(f"PRAGMA busy_timeout = {wait_ms}")
            return conn, wait_ms
        except Exception:  # a broken connection: the batch starts on a fresh one, as after a failure
            if conn is not None:
                with suppress(Exception):
                    conn.close()
            return None, self._busy_ms

    def _commit(self, batch: list[_Unit], conn: Connection | None) -> Connection | None:
        """Run and commit ``batch`` on ``conn`` (a new one if None); the connection to use next."""
        results: list[tuple[_Unit, Any, BaseException | None]] = []
        try:
            if conn is None:
                conn = self._engine.connect()
            transaction = conn.begin()
            try:
                for unit in batch:
                    results.append(_run_unit(conn, unit))
                transaction.commit()
            except BaseException:
                transaction.rollback()
                raise
        except BaseException as exc:
            # Nothing of this batch is committed: every unit, done or not, gets the failure.
            for unit in batch:
                if not unit.outcome.done():
                    unit.outcome.set_exception(exc)
            for unit in batch:
                _release(unit)
            if conn is not None:
                with suppress(Exception):  # in doubt: the next batch starts on a fresh connection
                    conn.close()
            return None
        self.batches += 1
        self.units += len(batch)
        for unit, value, error in results:
            if error is None:
                unit.outcome.set_result(value)
            else:
                unit.outcome.set_exception(error)
        return conn


def _run_unit(conn: Connection, unit: _Unit) -> tuple[_Unit, Any, BaseException | None]:
    """Run one unit in a SAVEPOINT of the batch's transaction; a unit's own failure rolls back only it.

    A failure to roll back to the savepoint is raised: the batch's transaction is then in doubt."""
    if unit.raw is not None:
        return _run_raw_unit(conn, unit, unit.raw)
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        try:
            value = unit.work(session)
            session.commit()  # flushes and releases the savepoint
        except Exception as exc:
            session.rollback()  # back to the savepoint: the batch-mates' work stays
            return unit, None, exc
        return unit, value, None
    finally:
        session.close()


def _run_raw_unit(
    conn: Connection, unit: _Unit, work: Callable[[sqlite3.Cursor], Any]
) -> tuple[_Unit, Any, BaseException | None]:
    """:func:`_run_unit` without a Session: SAVEPOINT, RELEASE and ROLLBACK TO sent on the driver's
    cursor (the engine runs pysqlite without its implicit transactions: ``engine.py``)."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    cursor = driver.cursor()
    try:
        cursor.execute("SAVEPOINT mlp_raw_unit")
        try:
            value = work(cursor)
        except Exception as exc:
            cursor.execute("ROLLBACK TO mlp_raw_unit")  # the batch-mates' work stays
            cursor.execute("RELEASE mlp_raw_unit")
            return unit, None, exc
        cursor.execute("RELEASE mlp_raw_unit")
        return unit, value, None
    finally:
        cursor.close()


def _no_session(_session: Session) -> Any:  # pragma: no cover - a raw unit never runs ``work``
    raise AssertionError("a raw unit runs on the cursor")


def _release(unit: _Unit) -> None:
    """A failed batch may stop while a borrowed unit still waits for its session: it must not hang."""
    work = unit.work
    borrowed = getattr(work, "__self__", None)
    if isinstance(borrowed, _Borrowed) and not borrowed.lent.done():
        borrowed.lent.set_exception(unit.outcome.exception() or StoreClosedError("write failed"))


def connection_is_shared(engine: Engine) -> bool:
    """An in-memory database lives on one shared connection: a writer thread would only get in the way."""
    return engine.url.database in (None, "", ":memory:")

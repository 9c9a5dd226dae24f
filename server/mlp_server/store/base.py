"""What every resource module shares: the engine, one session per call, fresh ids."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import URL, Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from mlp_server.errors import ApiError

from .engine import create_store_engine, writer
from .ids import new_id, utcnow
from .migrate import prepare
from .schema import Base

# A request body / a Result, with the wire's PascalCase keys.
Body = Mapping[str, Any]
Result = dict[str, Any]

_Row = TypeVar("_Row", bound=Base)
_ID_ATTEMPTS = 8


class StoreBase:
    """Owns the engine; safe to share across threads (sessions are per call, never shared)."""

    def __init__(
        self, url: str | URL, *, clock: Callable[[], datetime] = utcnow, upgrade: bool = False
    ) -> None:
        """Open the store; a new database gets the current schema, an older one is refused with
        :class:`~mlp_server.store.migrate.MigrationRequired` unless ``upgrade`` is set."""
        self._engine = create_store_engine(url)
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
        # Queueing this process's writers on a lock first leaves the busy timeout for other processes.
        self._write_gate: AbstractContextManager[object] = (
            threading.Lock() if self._engine.dialect.name == "sqlite" else nullcontext()
        )

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def dialect(self) -> str:
        """``sqlite``, ``postgresql`` ...: the few queries that differ by database ask this."""
        return self._engine.dialect.name

    def close(self) -> None:
        self._engine.dispose()

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        """A read-only transaction: one consistent snapshot for a page and its Total."""
        with self._reader.begin() as session:
            yield session

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """One transaction per write: committed on success, rolled back on any error."""
        with self._write_gate, self._writer.begin() as session:
            yield session


def insert_with_new_id(session: Session, prefix: str, now: datetime, build: Callable[[str], _Row]) -> _Row:
    """Insert ``build(id)`` under a fresh random id, retrying on the rare collision.

    Each attempt runs in a SAVEPOINT so that a collision does not spoil the caller's transaction.
    """
    for _ in range(_ID_ATTEMPTS):
        row = build(new_id(prefix, now))
        try:
            with session.begin_nested():
                session.add(row)
        except IntegrityError:
            identity = type(row).__mapper__.primary_key_from_instance(row)
            if session.get(type(row), identity) is None:
                raise  # not an id collision
            continue
        return row
    raise ApiError("InternalError", f"could not allocate a unique {prefix}- id")

"""The hottest write statements on SQLite's driver itself, compiled once from the same Core statements.

A registration of a new version (CreateModel with ModelID) runs four short statements on the group
commit's writer thread. Through a SQLAlchemy Session each cost ~0.1-0.2 ms of Python (events, result
set-up, the Session's own savepoint and flush machinery) around ~20 µs of SQLite: most of the writer's
CPU. Here each statement is compiled once for the engine's dialect (its SQL text, the order of its
parameters and the column types' own bind processors, so dates and JSON go to the database exactly
as SQLAlchemy sends them) and executed on the batch's ``sqlite3`` cursor. The schema is still only
:mod:`.schema`: nothing here names a column that the Core statement does not.

:class:`Executes` is what the shared registration code needs of a connection; a SQLAlchemy
``Connection`` is one (PostgreSQL, and SQLite with group commit off), :class:`RawCursor` the other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

from sqlalchemy import Connection, Dialect
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.expression import ClauseElement, Executable, SelectBase

_Processor = Callable[[Any], Any] | None


class Rows(Protocol):
    def first(self) -> Sequence[Any] | None: ...

    def scalar_one_or_none(self) -> Any: ...


class Executes(Protocol):
    """What the registration code runs its statements on."""

    @property
    def dialect(self) -> Dialect: ...

    def execute(self, statement: Executable, parameters: Mapping[str, Any]) -> Rows: ...


class Prepared:
    """A statement compiled for one dialect with positional parameters (SQLite's ``qmark`` style)."""

    __slots__ = ("_params", "results", "sql")

    def __init__(self, statement: Executable, dialect: Dialect, column_keys: tuple[str, ...] | None) -> None:
        if not isinstance(statement, ClauseElement):
            raise TypeError(f"not a SQL expression: {statement!r}")
        compiled = statement.compile(
            dialect=dialect, column_keys=list(column_keys) if column_keys is not None else None
        )
        order = compiled.positiontup if isinstance(compiled, SQLCompiler) else None
        if order is None or not isinstance(compiled, SQLCompiler):
            raise ValueError(f"{dialect.name} does not compile to positional parameters")
        self.sql = str(compiled)
        # (name, fixed value or None when the caller gives it, the type's bind processor)
        self._params: list[tuple[str, bool, Any, _Processor]] = []
        for name in order:
            bind = compiled.binds[name]
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            given = bind.required or (bind.callable is None and bind.value is None)
            self._params.append((name, given, None if given else bind.effective_value, processor))
        # What SQLAlchemy does to each column read (dates and JSON from SQLite's text), a SELECT's or a
        # RETURNING's, or None when nothing is (every column's value as the driver gives it).
        self.results: tuple[_Processor, ...] | None = None
        columns = statement.selected_columns if isinstance(statement, SelectBase) else None
        if isinstance(statement, UpdateBase):
            columns = statement.exported_columns
        if columns is not None:
            found = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
            )
            self.results = found if any(found) else None

    def parameters(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        out = []
        for name, given, fixed, processor in self._params:
            value = values[name] if given else fixed
            out.append(value if processor is None or value is None else processor(value))
        return tuple(out)


@lru_cache(maxsize=64)
def prepared(statement: Executable, dialect: Dialect, column_keys: tuple[str, ...] | None) -> Prepared:
    """Statements are module constants (hashed by identity): each is compiled once per key set."""
    return Prepared(statement, dialect, column_keys)


class _Result:
    __slots__ = ("_rows",)

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def first(self) -> Sequence[Any] | None:
        return self._rows[0] if self._rows else None

    def scalar_one_or_none(self) -> Any:
        if len(self._rows) > 1:
            raise ValueError(f"{len(self._rows)} rows where at most one was expected")
        return self._rows[0][0] if self._rows else None


class RawCursor:
    """:class:`Executes` on a ``sqlite3`` cursor (the writer's, inside its transaction)."""

    __slots__ = ("_cursor", "_dialect")

    def __init__(self, cursor: sqlite3.Cursor, dialect: Dialect) -> None:
        self._cursor = cursor
        self._dialect = dialect

    @property
    def dialect(self) -> Dialect:
        return self._dialect

    def execute(self, statement: Executable, parameters: Mapping[str, Any]) -> Rows:
        # An INSERT's columns are the keys given (an absent one is left to its default, as Core does).
        keys = tuple(parameters) if getattr(statement, "is_insert", False) else None
        form = prepared(statement, self._dialect, keys)
        # Every row read at once: a RETURNING statement is complete only when its rows are.
        rows = self._cursor.execute(form.sql, form.parameters(parameters)).fetchall()
        if form.results is not None:
            rows = [_typed(row, form.results) for row in rows]
        return _Result(rows)


def _typed(row: Sequence[Any], processors: tuple[_Processor, ...]) -> tuple[Any, ...]:
    return tuple(
        value if process is None or value is None else process(value)
        for value, process in zip(row, processors, strict=True)
    )


def raw_cursor(conn: Connection) -> RawCursor:
    """:class:`RawCursor` on the driver connection under a SQLAlchemy SQLite connection."""
    driver = conn.connection.driver_connection
    if not isinstance(driver, sqlite3.Connection):
        raise TypeError(f"not a sqlite3 connection: {driver!r}")
    return RawCursor(driver.cursor(), conn.dialect)

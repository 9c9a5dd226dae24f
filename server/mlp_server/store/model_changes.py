"""The log of an account's model changes, which carries cached filtered lists forward (:mod:`.list_cache`).

Every create, delete and rename moves the account's list generation (``model_counts.generation``) on
by one and, in the same transaction, writes one ``model_changes`` row under the new generation: the
model's id, create time and name before and after. A list kept under generation ``g`` and asked for
in a snapshot at ``g'`` reads the rows of (g, g'] in that snapshot and edits what it kept.

Never skipping a change: generations are consecutive and ``(account_id, generation)`` is the key, so
the rows of (g, g'] are complete exactly when there are ``g' - g`` of them. A row pruned, deleted by
hand, or never written (a recount moves every generation on and logs nothing) makes a gap, and the
list is computed again.

Pruning: the write that reaches a generation divisible by :data:`PRUNE_EVERY` deletes the account's
rows older than :data:`KEEP` generations, so an account holds at most ``KEEP + PRUNE_EVERY`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import Any

from sqlalchemy import BigInteger, Table, bindparam, delete, insert, null, select, type_coerce, update
from sqlalchemy.orm import Session
from sqlalchemy.types import NullType

from . import model_grams
from .schema import Base, ModelChangeRow, ModelCountRow, ModelRow, UTCDateTime

# Rows kept per account (at least), and how often a write prunes older ones.
KEEP = 4096
PRUNE_EVERY = 512

_COUNTS: Table = Base.metadata.tables[ModelCountRow.__tablename__]
_CHANGES: Table = Base.metadata.tables[ModelChangeRow.__tablename__]
# Create times as the driver returns them (text on SQLite, naive datetimes on PostgreSQL), unconverted:
# they order exactly as the database orders them, and reading 200,000 costs no conversion.
RAW_CREATE_TIME = type_coerce(ModelRow.create_time, NullType())
_RAW_CHANGE_TIME = type_coerce(ModelChangeRow.create_time, NullType())


@dataclass(frozen=True)
class ModelChange:
    model_id: str
    create_time: Any  # raw, as :data:`RAW_CREATE_TIME`
    before: str | None  # the name before (None: created)
    after: str | None  # the name after (None: deleted)


def take_turn(session: Session, account_id: int, delta: int) -> int:
    """Add ``delta`` to the account's model counter and move its generation on, in the caller's
    transaction (on PostgreSQL this locks the counter row: the account's writers take turns);
    returns the new generation, which the caller's change must then be :func:`logged` under."""
    conn = session.connection()
    dialect = conn.dialect.name
    params = {"account_id": account_id, "delta": delta}
    if dialect in ("sqlite", "postgresql"):
        return int(conn.execute(_statements(dialect).turn, params).scalar_one())
    changes = {"models": _COUNTS.c.models + delta, "generation": _COUNTS.c.generation + 1}
    moved = update(_COUNTS).where(_COUNTS.c.account_id == account_id).values(**changes)
    found = conn.execute(moved.returning(_COUNTS.c.generation)).scalar_one_or_none()
    if found is not None:
        return int(found)
    conn.execute(_COUNTS.insert().values(account_id=account_id, models=delta, generation=1))
    return 1


def logged(
    session: Session,
    account_id: int,
    generation: int,
    model_id: str,
    create_time: datetime,
    before: str | None,
    after: str | None,
) -> None:
    """Write the change that moved the account to ``generation`` (from :func:`take_turn`), and count
    the name's grams it changed (:mod:`.model_grams`)."""
    values = {
        "account_id": account_id,
        "generation": generation,
        "model_id": model_id,
        "create_time": create_time,
        "name_before": before,
        "name_after": after,
    }
    session.connection().execute(_LOG, values)
    model_grams.moved(session, account_id, before, after)
    _prune(session, account_id, generation)


def created(session: Session, account_id: int, model_id: str, create_time: datetime, name: str) -> None:
    """A model was created: count it, move the generation on and log it (on PostgreSQL in one
    statement: one round trip, as the counter's upsert alone was), then count its name's grams."""
    conn = session.connection()
    if conn.dialect.name != "postgresql":
        generation = take_turn(session, account_id, 1)
        logged(session, account_id, generation, model_id, create_time, None, name)
        return
    params = {
        "account_id": account_id,
        "delta": 1,
        "model_id": model_id,
        "create_time": create_time,
        "name": name,
    }
    generation = int(conn.execute(_statements("postgresql").created, params).scalar_one())
    model_grams.moved(session, account_id, None, name)
    _prune(session, account_id, generation)


def since(session: Session, account_id: int, after: int, upto: int) -> Sequence[ModelChange] | None:
    """The changes of generations ``after + 1`` .. ``upto`` in order, read in the caller's snapshot;
    None when any of them is missing (pruned, or a generation moved without a change)."""
    rows = session.execute(
        select(
            ModelChangeRow.model_id, _RAW_CHANGE_TIME, ModelChangeRow.name_before, ModelChangeRow.name_after
        )
        .where(
            ModelChangeRow.account_id == account_id,
            ModelChangeRow.generation > after,
            ModelChangeRow.generation <= upto,
        )
        .order_by(ModelChangeRow.generation)
    ).all()
    if len(rows) != upto - after:
        return None
    return [ModelChange(*row) for row in rows]


def _prune(session: Session, account_id: int, generation: int) -> None:
    if generation % PRUNE_EVERY:
        return
    session.execute(
        delete(_CHANGES).where(
            _CHANGES.c.account_id == account_id, _CHANGES.c.generation <= generation - KEEP
        )
    )


@dataclass(frozen=True)
class _Statements:
    turn: Any  # the counter's upsert, returning the new generation
    created: Any  # PostgreSQL: that upsert and the change row in one statement


_BUILT: dict[str, _Statements] = {}
_LOG = insert(_CHANGES)


def _statements(dialect: str) -> _Statements:
    """Built once per dialect (a statement memoizes its cache key: executing it again skips building
    and hashing the expression, on the hot path of every create)."""
    if (built := _BUILT.get(dialect)) is not None:
        return built
    # The dialect's own insert (ON CONFLICT), imported for the database in use: the PostgreSQL
    # dialect takes ~20 ms to import, which a SQLite platform never needs.
    insert_on_conflict = import_module(f"sqlalchemy.dialects.{dialect}").insert
    delta = bindparam("delta", type_=BigInteger())
    account = bindparam("account_id", type_=BigInteger())
    turn = (
        insert_on_conflict(_COUNTS)
        .values(account_id=account, models=delta, generation=1)
        .on_conflict_do_update(
            index_elements=[_COUNTS.c.account_id],
            set_={"models": _COUNTS.c.models + delta, "generation": _COUNTS.c.generation + 1},
        )
        .returning(_COUNTS.c.generation)
    )
    moved = turn.cte("moved")
    row = select(
        account,
        moved.c.generation,
        bindparam("model_id", type_=_CHANGES.c.model_id.type),
        bindparam("create_time", type_=UTCDateTime()),
        null(),
        bindparam("name", type_=_CHANGES.c.name_after.type),
    )
    columns = ["account_id", "generation", "model_id", "create_time", "name_before", "name_after"]
    created = insert(_CHANGES).from_select(columns, row).add_cte(moved).returning(_CHANGES.c.generation)
    built = _BUILT[dialect] = _Statements(turn, created)
    return built

"""Any page of an unfiltered ListModels without skipping rows: an account's models in each list order,
cut into stretches of :data:`STRETCH` to ``2 * STRETCH`` models whose sizes are kept in ``model_ranks``.

A page at position ``p`` is found by adding up stretch sizes (a window sum over 250 rows at a million
models) and then skipping fewer than ``2 * STRETCH`` rows of the list's index from the start
of the stretch that holds ``p``; an OFFSET of half a million walks half a million index entries instead.

The sizes are kept by the store in the transaction that creates, deletes or renames a model: one
stretch row changes, and a stretch grown past ``2 * STRETCH`` is split in two at its middle (found by
a short walk of the index). A stretch holds the models from its key up to the next stretch's key; the
first one's key moves down to any smaller key added, so every model is at or after its stretch's key.
Rows written around the store (bulk loads, the migration) are counted again by :func:`rebuild`.

On PostgreSQL, changes to one account's stretches take turns on the account's counter row
(:func:`.model_changes.take_turn` locks it first in the same transaction), so a split never races
an increment; a list reads its stretches and its page in one REPEATABLE READ snapshot.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, delete, func, select, text, tuple_, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from .schema import ModelRankRow, ModelRow

STRETCH = 4000
SORTS = ("CreateTime", "ModelName")
# The list orders (ascending; the last columns break ties so that every key is unique).
MODEL_KEYS: dict[str, tuple[InstrumentedAttribute[Any], ...]] = {
    "CreateTime": (ModelRow.create_time, ModelRow.id),
    "ModelName": (ModelRow.name, ModelRow.create_time, ModelRow.id),
}
# A stretch's key is (name, create_time, id) in both orders, with an empty name in CreateTime order.
_RANK_KEY = (ModelRankRow.name, ModelRankRow.create_time, ModelRankRow.id)
Key = tuple[str, datetime, str]


def key_of(sort_by: str, name: str, create_time: datetime, model_id: str) -> Key:
    return ("" if sort_by == "CreateTime" else name, create_time, model_id)


def added(session: Session, account_id: int, model: ModelRow) -> None:
    """A model was inserted (and flushed) in this transaction."""
    for sort_by in SORTS:
        _change(session, account_id, sort_by, key_of(sort_by, model.name, model.create_time, model.id), 1)


def removed(session: Session, account_id: int, model: ModelRow) -> None:
    """A model is deleted in this transaction."""
    for sort_by in SORTS:
        _change(session, account_id, sort_by, key_of(sort_by, model.name, model.create_time, model.id), -1)


def renamed(session: Session, account_id: int, model: ModelRow, old_name: str) -> None:
    """``model`` (flushed with its new name) was called ``old_name``: only the name order moves."""
    if old_name == model.name:
        return
    _change(session, account_id, "ModelName", key_of("ModelName", old_name, model.create_time, model.id), -1)
    _change(session, account_id, "ModelName", key_of("ModelName", model.name, model.create_time, model.id), 1)


def page_ids(session: Session, account_id: int, sort_by: str, position: int, limit: int) -> list[str]:
    """Ids of the account's models at ascending positions ``position`` .. ``position + limit - 1``."""
    upto = func.sum(ModelRankRow.models).over(order_by=_RANK_KEY).label("upto")
    cumulative = (
        select(*_RANK_KEY, ModelRankRow.models, upto).where(*_stretches(account_id, sort_by)).subquery()
    )
    found = session.execute(
        select(cumulative).where(cumulative.c.upto > position).order_by(cumulative.c.upto).limit(1)
    ).first()
    keys = MODEL_KEYS[sort_by]
    query = select(ModelRow.id).where(ModelRow.account_id == account_id)
    skip = position
    if found is not None:
        skip = position - (found.upto - found.models)
        if skip != position:  # not the first stretch (sizes are never 0), which starts before any model
            start = key_of(sort_by, found.name, found.create_time, found.id)
            query = query.where(_at_or_after(keys, sort_by, start))
    return list(session.scalars(query.order_by(*keys).offset(skip).limit(limit)))


def rebuild(conn: Connection) -> None:
    """Count every account's stretches again from the models table (after rows were written around
    the store): one stretch per :data:`STRETCH` models."""
    conn.execute(text("DELETE FROM model_ranks"))
    for statement in rebuild_statements(STRETCH):
        conn.execute(text(statement))


def rebuild_statements(stretch: int) -> list[str]:
    """The SQL of :func:`rebuild` (also frozen into the migration that introduced the table)."""
    orders = {"CreateTime": ("''", "create_time, id"), "ModelName": ("name", "name, create_time, id")}
    return [
        "INSERT INTO model_ranks (account_id, sort_by, name, create_time, id, models) "
        f"SELECT account_id, '{sort_by}', {name}, create_time, id, "
        f"CASE WHEN total - n + 1 < {stretch} THEN total - n + 1 ELSE {stretch} END "
        f"FROM (SELECT account_id, name, create_time, id, "
        f"row_number() OVER (PARTITION BY account_id ORDER BY {order}) AS n, "
        "count(*) OVER (PARTITION BY account_id) AS total FROM models) AS ranked "
        f"WHERE (n - 1) % {stretch} = 0"
        for sort_by, (name, order) in orders.items()
    ]


def _stretches(account_id: int, sort_by: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return ModelRankRow.account_id == account_id, ModelRankRow.sort_by == sort_by


def _at_or_after(
    columns: Sequence[InstrumentedAttribute[Any]], sort_by: str, key: Key
) -> ColumnElement[bool]:
    values = key[1:] if sort_by == "CreateTime" else key
    return tuple_(*columns) >= tuple(values)


def _stretch_key(prefix: str) -> Any:
    """A stretch key as bound parameters ``<prefix>_name``, ``<prefix>_time``, ``<prefix>_id``."""
    return tuple_(
        bindparam(f"{prefix}_name", type_=ModelRankRow.name.type),
        bindparam(f"{prefix}_time", type_=ModelRankRow.create_time.type),
        bindparam(f"{prefix}_id", type_=ModelRankRow.id.type),
    )


# _change's statements, built once (a statement memoizes its cache key; building these each time
# was most of a new model's CPU): the stretch at or before a key, the first stretch, and the edits
# of the stretch at ``at``.
_MINE = (ModelRankRow.account_id == bindparam("b_account"), ModelRankRow.sort_by == bindparam("b_sort"))
_COLUMNS = (*_RANK_KEY, ModelRankRow.models)
_BELOW = (
    select(*_COLUMNS)
    .where(*_MINE, tuple_(*_RANK_KEY) <= _stretch_key("key"))
    .order_by(*(c.desc() for c in _RANK_KEY))
    .limit(1)
)
_FIRST = select(*_COLUMNS).where(*_MINE).order_by(*_RANK_KEY).limit(1)
_THIS = (*_MINE, tuple_(*_RANK_KEY) == _stretch_key("at"))
_DROP = delete(ModelRankRow).where(*_THIS)
_RESIZE = update(ModelRankRow).where(*_THIS).values(models=bindparam("size"))
_RESIZE_AND_MOVE = (
    update(ModelRankRow)
    .where(*_THIS)
    .values(
        models=bindparam("size"),
        name=bindparam("to_name", type_=ModelRankRow.name.type),
        create_time=bindparam("to_time", type_=ModelRankRow.create_time.type),
        id=bindparam("to_id", type_=ModelRankRow.id.type),
    )
)


def _change(session: Session, account_id: int, sort_by: str, key: Key, delta: int) -> None:
    # Core on the connection (no ORM statement machinery), after what the session holds is flushed
    # as its own execute would (a stretch added earlier in this transaction must be seen).
    session.flush()
    conn = session.connection()
    mine = {"b_account": account_id, "b_sort": sort_by}
    below = {**mine, "key_name": key[0], "key_time": key[1], "key_id": key[2]}
    stretch = conn.execute(_BELOW, below).first()
    moved: Key | None = None
    if stretch is None:  # before the first stretch's key: the first stretch now starts here
        stretch = conn.execute(_FIRST, mine).first()
        moved = key
    if stretch is None:
        if delta < 0:
            raise RuntimeError(f"model_ranks has no stretch for account {account_id}: run rebuild")
        row = ModelRankRow(
            account_id=account_id, sort_by=sort_by, name=key[0], create_time=key[1], id=key[2], models=delta
        )
        session.add(row)
        return
    start: Key = (stretch.name, stretch.create_time, stretch.id)
    this = {**mine, "at_name": start[0], "at_time": start[1], "at_id": start[2]}
    size = stretch.models + delta
    if size <= 0:
        conn.execute(_DROP, this)
        return
    if moved is None:
        conn.execute(_RESIZE, {**this, "size": size})
    else:
        to = {"to_name": moved[0], "to_time": moved[1], "to_id": moved[2]}
        conn.execute(_RESIZE_AND_MOVE, {**this, "size": size, **to})
        start = moved
    if size > 2 * STRETCH:
        _split(session, account_id, sort_by, start, size)


def _split(session: Session, account_id: int, sort_by: str, start: Key, size: int) -> None:
    """Cut the stretch at ``start`` (holding ``size`` models, every one at or after ``start``: a first
    stretch's key moves down to any smaller key added) in two halves."""
    session.flush()
    mine = _stretches(account_id, sort_by)
    keys = MODEL_KEYS[sort_by]
    walk = select(*keys).where(ModelRow.account_id == account_id, _at_or_after(keys, sort_by, start))
    half = size // 2
    middle = session.execute(walk.order_by(*keys).offset(half).limit(1)).one()
    name, create_time, model_id = ("", *middle) if sort_by == "CreateTime" else tuple(middle)
    session.execute(update(ModelRankRow).where(*mine, tuple_(*_RANK_KEY) == start).values(models=half))
    row = ModelRankRow(
        account_id=account_id,
        sort_by=sort_by,
        name=name,
        create_time=create_time,
        id=model_id,
        models=size - half,
    )
    session.add(row)

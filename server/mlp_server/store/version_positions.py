"""Any page of a model's versions without skipping index entries: a version's position is arithmetic on
its number.

A model's numbers only go up and are never reused (``models.next_version``), so every number below
``next_version`` is either a version of the model or a hole (a deleted version, or a number rows written
around the store skipped). The holes are kept as runs, ``low`` to ``high``, in ``model_version_holes``.
The version at ascending position ``p`` is then ``p + 1`` plus the holes below it: the runs' sizes added
up in one statement (:func:`number_at`), where an OFFSET would walk the versions. Few runs, little to
add: a model whose history was pruned in one sweep has one run, however many versions it lost. At worst
(every other version deleted) there are half as many runs as versions, all added up in SQL.

That is the ModelVersion order. The CreateTime order, ``(create_time, version)``, is the same order
while each version's create time is at or after the one before it, which is what
``models.last_version_time`` says: the create time of the latest registration, set NULL (for good) by
the statement that takes a number (``models._TAKE_NUMBER``) when the new version's create time is
earlier. A clock set back or two registrations racing for numbers can do that; the CreateTime page is
then read from the sort's own index, as before.

Both are kept in the transaction of every write that changes them: the number taken (no statement of its
own, so a registration costs what it did), a version deleted (:func:`removed`, after
:func:`.version_stats.removed` has taken the model row's lock, so deletes of one model take turns on
PostgreSQL). A model's runs go with it (the foreign key cascades). :func:`recount` computes both again
from the versions table (after rows were written around the store; :func:`.model_index.recount`).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, func, insert, select, text, update

from .schema import VersionHoleRow

_HOLES = cast(Table, VersionHoleRow.__table__)
_MINE = _HOLES.c.model_id == bindparam("b_model")
_RUN_BELOW = select(_HOLES.c.low).where(_MINE, _HOLES.c.high == bindparam("before"))
_RUN_ABOVE = select(_HOLES.c.high).where(_MINE, _HOLES.c.low == bindparam("after"))
_ADD = insert(_HOLES)
_DROP = delete(_HOLES).where(_MINE, _HOLES.c.low == bindparam("at"))
_RAISE = update(_HOLES).where(_MINE, _HOLES.c.low == bindparam("at")).values(high=bindparam("to"))
# The holes below the version at ascending position ``:position``: every run with at most ``position``
# versions below it lies below that version (runs are counted up in SQL, one statement however many).
_runs = (
    select(
        _HOLES.c.low,
        _HOLES.c.high,
        func.sum(_HOLES.c.high - _HOLES.c.low + 1).over(order_by=_HOLES.c.low).label("upto"),
    )
    .where(_MINE, _HOLES.c.low < bindparam("highest"))
    .subquery()
)
_HOLES_BELOW = (
    select(_runs.c.upto)
    .where(_runs.c.high - _runs.c.upto <= bindparam("position"))  # versions below the run: low - 1 - holes
    .order_by(_runs.c.low.desc())
    .limit(1)
)

# The runs of every model: the gaps between its versions' numbers, and above its highest version up
# to ``next_version - 1`` (version_stats.recount first: latest_version must be current).
RECOUNT_HOLES = (
    "INSERT INTO model_version_holes (model_id, low, high) "
    "SELECT model_id, below + 1, version - 1 FROM (SELECT model_id, version, "
    "lag(version, 1, 0) OVER (PARTITION BY model_id ORDER BY version) AS below FROM model_versions) AS gaps "
    "WHERE version - below > 1 "
    "UNION ALL SELECT id, latest_version + 1, next_version - 1 FROM models "
    "WHERE next_version - 1 > latest_version"
)
# Ordered unless some version's create time is before the one of the version numbered below it; a model
# without versions is ordered (its create time is as good a floor as any: a later clock set back only
# costs the fast CreateTime path).
RECOUNT_ORDER = (
    "UPDATE models SET last_version_time = CASE WHEN EXISTS (SELECT 1 FROM (SELECT create_time, "
    "lag(create_time) OVER (ORDER BY version) AS before FROM model_versions v WHERE v.model_id = models.id) "
    "AS w WHERE w.before > w.create_time) THEN NULL ELSE coalesce("
    "(SELECT max(v.create_time) FROM model_versions v WHERE v.model_id = models.id), models.create_time) END"
)


def removed(conn: Connection, model_id: str, number: int) -> None:
    """Version ``number`` of ``model_id`` was deleted in this transaction (the model row is locked):
    its number joins the runs, merged with a run ending just below or starting just above it."""
    ids = {"b_model": model_id}
    below = conn.execute(_RUN_BELOW, {**ids, "before": number - 1}).scalar_one_or_none()
    above = conn.execute(_RUN_ABOVE, {**ids, "after": number + 1}).scalar_one_or_none()
    if above is not None:
        conn.execute(_DROP, {**ids, "at": number + 1})
    high = number if above is None else int(above)
    if below is not None:
        conn.execute(_RAISE, {**ids, "at": below, "to": high})
    else:
        conn.execute(_ADD, {"model_id": model_id, "low": number, "high": high})


def number_at(conn: Connection, model_id: str, position: int, highest: int) -> int:
    """The number of the model's version at ascending ``position`` (0-based; one the model has), its
    highest version being ``highest``: ``position + 1`` plus the holes below it."""
    params = {"b_model": model_id, "position": position, "highest": highest}
    below = conn.execute(_HOLES_BELOW, params).scalar_one_or_none()
    return position + 1 + int(below or 0)


def recount(conn: Connection) -> None:
    """Every model's runs and order flag again, from the versions table."""
    conn.execute(text("DELETE FROM model_version_holes"))
    conn.execute(text(RECOUNT_HOLES))
    conn.execute(text(RECOUNT_ORDER))

"""Any page of a model's versions without skipping index entries: a version's position is arithmetic on
its number.

A model's numbers only go up and are never reused (``models.next_version``), so every number below
``next_version`` is either a version of the model or a hole (a deleted version, or a number rows written
around the store skipped). The holes are kept as runs, ``low`` to ``high``, in ``model_version_holes``.
The version at ascending position ``p`` is then ``p + 1`` plus the holes below it: a walk of the runs
from the nearer end (:func:`number_at`), where an OFFSET would walk the versions. Few runs, few reads:
a model whose history was pruned in one sweep has one run, however many versions it lost. At worst
(every other version deleted) there are as many runs to read as versions an OFFSET would skip.

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

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, text, update

from .schema import VersionHoleRow

_HOLES = cast(Table, VersionHoleRow.__table__)
_MINE = _HOLES.c.model_id == bindparam("b_model")
_RUN_BELOW = select(_HOLES.c.low).where(_MINE, _HOLES.c.high == bindparam("before"))
_RUN_ABOVE = select(_HOLES.c.high).where(_MINE, _HOLES.c.low == bindparam("after"))
_ADD = insert(_HOLES)
_DROP = delete(_HOLES).where(_MINE, _HOLES.c.low == bindparam("at"))
_RAISE = update(_HOLES).where(_MINE, _HOLES.c.low == bindparam("at")).values(high=bindparam("to"))
# Runs read per statement by the walks (most pages need the first few only).
_BATCH = 64
_UP = (
    select(_HOLES.c.low, _HOLES.c.high)
    .where(_MINE, _HOLES.c.low > bindparam("after"))
    .order_by(_HOLES.c.low)
    .limit(_BATCH)
)
_DOWN = (
    select(_HOLES.c.low, _HOLES.c.high)
    .where(_MINE, _HOLES.c.low < bindparam("before"))
    .order_by(_HOLES.c.low.desc())
    .limit(_BATCH)
)

# The runs of every model: the gaps between its versions' numbers, and above its highest version up
# to ``next_version - 1`` (version_stats.recount first: latest_version must be current).
RECOUNT_HOLES = (
    "INSERT INTO model_version_holes (model_id, low, high) "
    "SELECT model_id, below + 1, version - 1 FROM (SELECT model_id, version, "
    "lag(version, 1, 0) OVER (PARTITION BY model_id ORDER BY version) AS below FROM model_versions) AS gaps "
    "WHERE version - below > 1 "
    "UNION ALL SELECT id, latest_version + 1, next_version - 1 FROM models WHERE next_version - 1 > latest_version"
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


def number_at(conn: Connection, model_id: str, position: int, from_top: bool, highest: int) -> int:
    """The number of the model's version at ``position`` (0-based) counted up from its lowest version, or,
    ``from_top``, down from its highest (``highest``, which must be a version of the model). The
    position must be one the model has."""
    holes = 0
    if not from_top:
        # Every run starting at or below the candidate is wholly below the answer.
        candidate, after = position + 1, 0
        while True:
            runs = conn.execute(_UP, {"b_model": model_id, "after": after}).all()
            for low, high in runs:
                if low > candidate:
                    return candidate
                holes += high - low + 1
                candidate, after = position + 1 + holes, low
            if len(runs) < _BATCH:
                return candidate
    candidate, before = highest - position, highest
    while True:
        runs = conn.execute(_DOWN, {"b_model": model_id, "before": before}).all()
        for low, high in runs:
            if high < candidate:
                return candidate
            holes += high - low + 1
            candidate, before = highest - position - holes, low
        if len(runs) < _BATCH:
            return candidate


def recount(conn: Connection) -> None:
    """Every model's runs and order flag again, from the versions table."""
    conn.execute(text("DELETE FROM model_version_holes"))
    conn.execute(text(RECOUNT_HOLES))
    conn.execute(text(RECOUNT_ORDER))

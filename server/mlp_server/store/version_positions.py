"""Any page of a model's versions without skipping index entries: a version's position is arithmetic on
its number.

A model's numbers only go up and are never reused (``models.next_version``), so every number below
``next_version`` is either a version of the model or a hole (a deleted version, or a number rows written
around the store skipped). The holes are kept as runs, ``low`` to ``high``, in ``model_version_holes``.
Each run also keeps how many versions are below it. The version at ascending position ``p`` is then
found from the last run with at most ``p`` versions below it: one seek of an index (:func:`number_at`),
where an OFFSET walks ``p`` index entries.

That is the ModelVersion order. The CreateTime order, ``(create_time, version)``, is the same order
while each version's create time is at or after the one before it, which is what
``models.last_version_time`` says: the create time of the latest registration, decided by the
statement that takes a number (``models._TAKE_NUMBER``). A registration whose clock read is a little
before that time (less than ``models.RACE_MARGIN``: it raced another for the number) takes that time
instead; a clock set back further sets it NULL, for good, and the CreateTime page is then read from the
sort's own index, as before.

Both are kept in the transaction of every write that changes them: the number taken (no statement of its
own, so a registration costs what it did: a new version is above every run), a version deleted
(:func:`removed`, after :func:`.version_stats.removed` has taken the model row's lock, so deletes of one
model take turns on PostgreSQL). A delete updates every run above the deleted number (one statement):
few for a history with few gaps, as many as its gaps for one with many. A model's runs go with it (the
foreign key cascades). :func:`recount` computes both again from the versions table (after rows were
written around the store; :func:`.model_index.recount`).
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, text, update

from .schema import VersionHoleRow

_HOLES = cast(Table, VersionHoleRow.__table__)
_MINE = _HOLES.c.model_id == bindparam("b_model")
# The last run below a number, and the run starting just above it.
_RUN_BEFORE = (
    select(_HOLES.c.low, _HOLES.c.high, _HOLES.c.versions_below)
    .where(_MINE, _HOLES.c.low < bindparam("number"))
    .order_by(_HOLES.c.low.desc())
    .limit(1)
)
_RUN_AFTER = select(_HOLES.c.high).where(_MINE, _HOLES.c.low == bindparam("after"))
_ADD = insert(_HOLES)
_DROP = delete(_HOLES).where(_MINE, _HOLES.c.low == bindparam("at"))
_RAISE = update(_HOLES).where(_MINE, _HOLES.c.low == bindparam("at")).values(high=bindparam("to"))
_ONE_FEWER_BELOW = (
    update(_HOLES)
    .where(_MINE, _HOLES.c.low > bindparam("number"))
    .values(versions_below=_HOLES.c.versions_below - 1)
)
# The run just below the version at ascending position ``:position`` (one seek of its index).
_RUN_AT = (
    select(_HOLES.c.high, _HOLES.c.versions_below)
    .where(_MINE, _HOLES.c.versions_below <= bindparam("position"))
    .order_by(_HOLES.c.versions_below.desc())
    .limit(1)
)

# The runs of every model: the gaps between its versions' numbers (below each version, the versions
# before it), and above its highest version up to ``next_version - 1`` (below it, all of them;
# version_stats.recount runs first: latest_version and version_count must be current).
RECOUNT_HOLES = (
    "INSERT INTO model_version_holes (model_id, low, high, versions_below) "
    "SELECT model_id, below + 1, version - 1, n - 1 FROM (SELECT model_id, version, "
    "lag(version, 1, 0) OVER (PARTITION BY model_id ORDER BY version) AS below, "
    "row_number() OVER (PARTITION BY model_id ORDER BY version) AS n FROM model_versions) AS gaps "
    "WHERE version - below > 1 "
    "UNION ALL SELECT id, latest_version + 1, next_version - 1, version_count FROM models "
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
    every run above it has one version fewer below it, and its number joins the runs, merged with a run
    ending just below or starting just above it."""
    ids = {"b_model": model_id}
    before = conn.execute(_RUN_BEFORE, {**ids, "number": number}).first()
    conn.execute(_ONE_FEWER_BELOW, {**ids, "number": number})
    above = conn.execute(_RUN_AFTER, {**ids, "after": number + 1}).scalar_one_or_none()
    if above is not None:
        conn.execute(_DROP, {**ids, "at": number + 1})
    high = number if above is None else int(above)
    if before is not None and before.high == number - 1:
        conn.execute(_RAISE, {**ids, "at": before.low, "to": high})
        return
    # The versions below ``number``: those below the run before it, and every number between.
    below = number - 1 if before is None else before.versions_below + number - 1 - before.high
    conn.execute(_ADD, {"model_id": model_id, "low": number, "high": high, "versions_below": below})


def number_at(conn: Connection, model_id: str, position: int) -> int:
    """The number of the model's version at ascending ``position`` (0-based; one the model has): the
    numbers after the run just below it are all versions."""
    run = conn.execute(_RUN_AT, {"b_model": model_id, "position": position}).first()
    if run is None:  # no hole below it
        return position + 1
    return int(run.high) + 1 + position - int(run.versions_below)


def recount(conn: Connection) -> None:
    """Every model's runs and order flag again, from the versions table."""
    conn.execute(text("DELETE FROM model_version_holes"))
    conn.execute(text(RECOUNT_HOLES))
    conn.execute(text(RECOUNT_ORDER))

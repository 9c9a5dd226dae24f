"""Each model's number of versions and highest version number, kept on its row (``models.version_count``,
``models.latest_version``; 0 while it has none): GetModel and ListModels read them, and an unfiltered
ListModelVersions takes its Total from the count, instead of counting the model's versions.

They change in the transaction of every version create and delete:

- a new model gets 1 and 1 with its first version (``models._insert_model``);
- a new version of a model moves them in the statement that takes its number (``models._TAKE_NUMBER``):
  numbers only go up (``next_version``), so the number taken is the highest;
- a deleted version (:func:`removed`) lowers the count, and when it was the highest the next highest
  is read from the ``(model_id, version)`` index;
- a deleted model takes its row with it.

On PostgreSQL the model row's lock orders these: a registration holds it from taking its number to its
commit, and a delete takes it before it reads the next highest number, in a statement of its own whose
snapshot (READ COMMITTED) then holds every registration committed before it.

Rows written around the store (bulk loads, migrations) are counted again by :func:`recount`, which
:func:`.model_index.recount` runs: that is also how a drifted value is caught and fixed.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Connection, Table, bindparam, func, select, text, update

from . import version_positions
from .schema import ModelRow, VersionRow

_MODELS, _VERSIONS = cast(Table, ModelRow.__table__), cast(Table, VersionRow.__table__)
_LOWER = (
    update(_MODELS)
    .where(_MODELS.c.id == bindparam("model_id"))
    .values(version_count=_MODELS.c.version_count - 1)
)
# The highest remaining number, or 0: the index's last entry for the model.
_NEXT_HIGHEST = func.coalesce(
    select(func.max(_VERSIONS.c.version)).where(_VERSIONS.c.model_id == _MODELS.c.id).scalar_subquery(), 0
)
_LATEST_AGAIN = (
    update(_MODELS)
    .where(_MODELS.c.id == bindparam("model_id"), _MODELS.c.latest_version == bindparam("number"))
    .values(latest_version=_NEXT_HIGHEST)
)
_RECOUNT = text(
    "UPDATE models SET "
    "version_count = (SELECT count(*) FROM model_versions v WHERE v.model_id = models.id), "
    "latest_version = coalesce((SELECT max(v.version) FROM model_versions v WHERE v.model_id = models.id), 0)"
)


def removed(conn: Connection, model_id: str, number: int) -> None:
    """Version ``number`` of ``model_id`` was deleted in this transaction: count it out."""
    conn.execute(_LOWER, {"model_id": model_id})  # first: takes the model row's lock
    conn.execute(_LATEST_AGAIN, {"model_id": model_id, "number": number})
    version_positions.removed(conn, model_id, number)


def recount(conn: Connection) -> None:
    """Count every model's versions again from the versions table (and their holes and order)."""
    conn.execute(_RECOUNT)
    version_positions.recount(conn)

"""Row locks that keep a deploy and a delete of the same version from both succeeding (PostgreSQL).

Under READ COMMITTED, a delete's "is it served?" check and CreateService's "does the version exist?"
read could both pass at once: the service would then point at a version whose objects were reclaimed.
So each takes row locks before it checks, always the model row first, then the version row (the
account's model counter, which DeleteModel and UpdateModel take, comes before both), so that no two
of them wait on each other in a cycle:

- CreateService: the model and the version FOR KEY SHARE (registrations and metrics updates, which
  change no key, go on beside it; two deploys do not wait on each other);
- DeleteModelVersion: the model FOR NO KEY UPDATE (which its version count update takes anyway), then
  the version FOR UPDATE;
- DeleteModel: the model FOR UPDATE.

A delete that locks first makes the deploy wait, which then finds no row (NotFound). A deploy that
locks first makes the delete wait for its commit; the delete's check, a statement of its own (a new
READ COMMITTED snapshot), then sees the service (ResourceInUse). SQLite runs one writer at a time
(BEGIN IMMEDIATE), so there is no race to close: the clauses are not even emitted there.
"""

from __future__ import annotations

from enum import Enum
from typing import cast

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.orm import Session

from .schema import ModelRow, VersionRow

_MODELS, _VERSIONS = cast(Table, ModelRow.__table__), cast(Table, VersionRow.__table__)


class Intent(Enum):
    DEPLOY = "deploy"
    DELETE_VERSION = "delete version"
    DELETE_MODEL = "delete model"


_MODEL = select(_MODELS.c.id).where(_MODELS.c.id == bindparam("id"))
_VERSION = select(_VERSIONS.c.id).where(_VERSIONS.c.id == bindparam("id"))
_MODEL_LOCKS = {
    Intent.DEPLOY: _MODEL.with_for_update(read=True, key_share=True),
    Intent.DELETE_VERSION: _MODEL.with_for_update(key_share=True),
    Intent.DELETE_MODEL: _MODEL.with_for_update(),
}
_VERSION_LOCKS = {
    Intent.DEPLOY: _VERSION.with_for_update(read=True, key_share=True),
    Intent.DELETE_VERSION: _VERSION.with_for_update(),
}


def lock_model(session: Session, model_id: str, intent: Intent) -> bool:
    """Lock the model row for ``intent`` (waiting for a conflicting writer); False if it is gone. The
    caller read the row in this transaction already: on SQLite, which has no row locks, nothing is sent."""
    return _locked(session, _MODEL_LOCKS[intent], model_id)


def lock_version(session: Session, version_id: str, intent: Intent) -> bool:
    """Lock the version row for ``intent``, after its model's (:func:`lock_model`); False if it is gone."""
    return _locked(session, _VERSION_LOCKS[intent], version_id)


def _locked(session: Session, statement: Select[tuple[str]], row_id: str) -> bool:
    if session.get_bind().dialect.name == "sqlite":
        return True  # one writer at a time: what the caller read stays true until it commits
    return session.execute(statement, {"id": row_id}).first() is not None

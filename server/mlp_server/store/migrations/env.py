"""Alembic environment: always run on the connection that ``mlp_server.store.migrate`` hands over."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext

from mlp_server.store.model_index import include_name
from mlp_server.store.schema import Base, UTCDateTime


def _render_item(kind: str, obj: Any, _context: AutogenContext) -> str | Literal[False]:
    # Migrations are frozen history: they name plain SQLAlchemy types, never this release's classes.
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


context.configure(
    connection=context.config.attributes["connection"],
    target_metadata=Base.metadata,
    # SQLite cannot ALTER most things in place: batch mode copies the table instead.
    render_as_batch=True,
    compare_type=True,
    render_item=_render_item,
    include_name=include_name,
)
with context.begin_transaction():
    context.run_migrations()

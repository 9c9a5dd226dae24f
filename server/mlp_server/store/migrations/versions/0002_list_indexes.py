"""Lists at scale: per-account model counters and the model name/id substring index.

The statements are copied from ``mlp_server.store.model_index`` as of this revision (migrations are
frozen history); the store's tests check that a migrated database equals a new one.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE VIRTUAL TABLE models_search USING fts5(name, id, content='', "
    "tokenize='trigram case_sensitive 1')",
    """CREATE TRIGGER models_search_insert AFTER INSERT ON models BEGIN
        INSERT INTO models_search (rowid, name, id) VALUES (new.rowid, lower(new.name), lower(new.id));
    END""",
    """CREATE TRIGGER models_search_delete AFTER DELETE ON models BEGIN
        INSERT INTO models_search (models_search, rowid, name, id)
        VALUES ('delete', old.rowid, lower(old.name), lower(old.id));
    END""",
    """CREATE TRIGGER models_search_update AFTER UPDATE OF name, id ON models BEGIN
        INSERT INTO models_search (models_search, rowid, name, id)
        VALUES ('delete', old.rowid, lower(old.name), lower(old.id));
        INSERT INTO models_search (rowid, name, id) VALUES (new.rowid, lower(new.name), lower(new.id));
    END""",
    "INSERT INTO models_search (rowid, name, id) SELECT rowid, lower(name), lower(id) FROM models",
]
POSTGRESQL = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS ix_models_name_trgm ON models USING gin (name gin_trgm_ops)",
]


def upgrade() -> None:
    op.create_table(
        "model_counts",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("models", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.execute(
        "INSERT INTO model_counts (account_id, models) "
        "SELECT account_id, count(*) FROM models GROUP BY account_id"
    )
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(dialect, []):
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS models_search_{trigger}")
        op.execute("DROP TABLE IF EXISTS models_search")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_models_name_trgm")
    op.drop_table("model_counts")

"""Lists at any offset: ``model_ranks``, the sizes of stretches of each account's models in each list
order (``mlp_server.store.model_ranks``), counted here from the models table; on PostgreSQL, a pg_trgm
index on ``lower(id COLLATE "C")`` for IdContains.

The statements are copied from ``model_ranks.rebuild_statements(4000)`` as of this revision
(migrations are frozen history); the store's tests check that a migrated database equals a new one.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FILL = [
    "INSERT INTO model_ranks (account_id, sort_by, name, create_time, id, models) "
    "SELECT account_id, 'CreateTime', '', create_time, id, "
    "CASE WHEN total - n + 1 < 4000 THEN total - n + 1 ELSE 4000 END "
    "FROM (SELECT account_id, name, create_time, id, "
    "row_number() OVER (PARTITION BY account_id ORDER BY create_time, id) AS n, "
    "count(*) OVER (PARTITION BY account_id) AS total FROM models) AS ranked "
    "WHERE (n - 1) % 4000 = 0",
    "INSERT INTO model_ranks (account_id, sort_by, name, create_time, id, models) "
    "SELECT account_id, 'ModelName', name, create_time, id, "
    "CASE WHEN total - n + 1 < 4000 THEN total - n + 1 ELSE 4000 END "
    "FROM (SELECT account_id, name, create_time, id, "
    "row_number() OVER (PARTITION BY account_id ORDER BY name, create_time, id) AS n, "
    "count(*) OVER (PARTITION BY account_id) AS total FROM models) AS ranked "
    "WHERE (n - 1) % 4000 = 0",
]

POSTGRESQL_ID_INDEX = (
    'CREATE INDEX IF NOT EXISTS ix_models_id_trgm ON models USING gin (lower(id COLLATE "C") gin_trgm_ops)'
)


def upgrade() -> None:
    op.create_table(
        "model_ranks",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sort_by", sa.String(length=16), nullable=False),
        sa.Column(
            "name",
            sa.String(length=255).with_variant(sa.String(length=255, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column(
            "id",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("models", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "sort_by", "name", "create_time", "id"),
    )
    for statement in FILL:
        op.execute(statement)
    if op.get_bind().dialect.name == "postgresql":  # IdContains through pg_trgm, as ModelNameContains
        op.execute(POSTGRESQL_ID_INDEX)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_models_id_trgm")
    op.drop_table("model_ranks")

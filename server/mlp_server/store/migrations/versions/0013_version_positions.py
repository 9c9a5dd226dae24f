"""Version positions: ``model_version_holes``, the runs of each model's version numbers that no version
has (with how many versions are below each), and ``models.last_version_time``, the latest registration's
create time while the versions' create times follow their numbers (NULL once not), so that any page of a
model's versions is found from its numbers (``mlp_server.store.version_positions``). Both are computed
here from the versions table.

The statements are copied from ``version_positions`` as of this revision (migrations are frozen
history). On SQLite the column is added in place (ALTER TABLE ADD COLUMN): the models' rowids, which
the search index refers to, stay as they are.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

HOLES = (
    "INSERT INTO model_version_holes (model_id, low, high, versions_below) "
    "SELECT model_id, below + 1, version - 1, n - 1 FROM (SELECT model_id, version, "
    "lag(version, 1, 0) OVER (PARTITION BY model_id ORDER BY version) AS below, "
    "row_number() OVER (PARTITION BY model_id ORDER BY version) AS n FROM model_versions) AS gaps "
    "WHERE version - below > 1 "
    "UNION ALL SELECT id, latest_version + 1, next_version - 1, version_count FROM models "
    "WHERE next_version - 1 > latest_version"
)
ORDER = (
    "UPDATE models SET last_version_time = CASE WHEN EXISTS (SELECT 1 FROM (SELECT create_time, "
    "lag(create_time) OVER (ORDER BY version) AS before FROM model_versions v WHERE v.model_id = models.id) "
    "AS w WHERE w.before > w.create_time) THEN NULL ELSE coalesce("
    "(SELECT max(v.create_time) FROM model_versions v WHERE v.model_id = models.id), models.create_time) END"
)


def upgrade() -> None:
    model_id = sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql")
    op.create_table(
        "model_version_holes",
        sa.Column("model_id", model_id, nullable=False),
        sa.Column("low", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("high", sa.Integer(), nullable=False),
        sa.Column("versions_below", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("model_id", "low"),
    )
    op.create_index(
        "ix_model_version_holes_below", "model_version_holes", ["model_id", "versions_below"], unique=False
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_version_time", sa.DateTime(), nullable=True))
    op.execute(HOLES)
    op.execute(ORDER)


def downgrade() -> None:
    # In place (SQLite 3.35+), not batch mode: a batch copy of ``models`` would drop its triggers (the
    # search index's) and renumber its rowids under the index.
    op.execute("ALTER TABLE models DROP COLUMN last_version_time")
    op.drop_index("ix_model_version_holes_below", table_name="model_version_holes")
    op.drop_table("model_version_holes")

"""Version stats on the model row: ``models.version_count`` and ``models.latest_version`` (0: no version),
kept by the store with every version create and delete (``mlp_server.store.version_stats``), counted
here from the versions table.

The counting is copied from ``version_stats.recount`` as of this revision (migrations are frozen
history). On SQLite the columns are added in place (ALTER TABLE ADD COLUMN): the models' rowids, which
the search index refers to, stay as they are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version_count", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("latest_version", sa.Integer(), server_default="0", nullable=False))
    op.execute(
        "UPDATE models SET "
        "version_count = (SELECT count(*) FROM model_versions v WHERE v.model_id = models.id), "
        "latest_version = coalesce("
        "(SELECT max(v.version) FROM model_versions v WHERE v.model_id = models.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_column("latest_version")
        batch_op.drop_column("version_count")

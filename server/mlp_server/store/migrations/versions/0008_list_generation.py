"""The list generation: ``model_counts.generation``, moved on by every create, delete and rename of an
account's model, which keys the cache of filtered ListModels (``mlp_server.store.list_cache``).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("model_counts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("generation", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("model_counts", schema=None) as batch_op:
        batch_op.drop_column("generation")

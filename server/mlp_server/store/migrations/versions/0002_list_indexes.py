"""Lists at scale: per-account model counters and the model name/id substring index.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from mlp_server.store import model_index

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_counts",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("models", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    conn = op.get_bind()
    model_index.create(conn)
    model_index.rebuild(conn)


def downgrade() -> None:
    model_index.drop(op.get_bind())
    op.drop_table("model_counts")

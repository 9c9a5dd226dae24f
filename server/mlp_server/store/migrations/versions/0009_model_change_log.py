"""The model change log: ``model_changes``, one row per create, delete and rename of a model under the
list generation it moved the account to, through which cached filtered lists are carried forward
(``mlp_server.store.model_changes``). Starts empty: a list cached before it simply finds a gap.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _text(length: int) -> sa.String:
    return sa.String(length=length).with_variant(sa.String(length=length, collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "model_changes",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("generation", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("model_id", _text(64), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("name_before", _text(255), nullable=True),
        sa.Column("name_after", _text(255), nullable=True),
        sa.PrimaryKeyConstraint("account_id", "generation"),
    )


def downgrade() -> None:
    op.drop_table("model_changes")

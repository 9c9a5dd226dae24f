"""Swept uploads: the upload prefixes the storage sweep decided to remove, written with its
pending-reclaim record and kept for a week, so that a CreateModel of an upload still being written when
the sweep judged it is refused instead of recording only the files written after the removal.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "swept_uploads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_swept_uploads_account_prefix", "swept_uploads", ["account_id", "prefix"], unique=False
    )
    op.create_index("ix_swept_uploads_create_time", "swept_uploads", ["create_time"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_swept_uploads_create_time", table_name="swept_uploads")
    op.drop_index("ix_swept_uploads_account_prefix", table_name="swept_uploads")
    op.drop_table("swept_uploads")

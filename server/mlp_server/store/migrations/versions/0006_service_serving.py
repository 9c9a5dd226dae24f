"""Services: the supervisor's status message and the endpoint's port (deployed services serve).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status_message", sa.Text(), server_default="", nullable=False))
        batch_op.add_column(sa.Column("endpoint_port", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_column("endpoint_port")
        batch_op.drop_column("status_message")

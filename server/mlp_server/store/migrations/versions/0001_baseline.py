"""Baseline: the schema of release 0.1.0, which created its tables without Alembic.

Revision ID: 0001
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("account_id"),
    )
    op.create_table(
        "models",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("category", sa.String(length=64), nullable=True),
        sa.Column("dataset_id", sa.String(length=255), nullable=True),
        sa.Column("next_version", sa.Integer(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.create_index(
            "ix_models_account_name", ["account_id", "name", "create_time", "id"], unique=False
        )
        batch_op.create_index("ix_models_account_time", ["account_id", "create_time", "id"], unique=False)

    op.create_table(
        "perf_jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("model_version_id", sa.String(length=96), nullable=False),
        sa.Column("job_type", sa.String(length=32), nullable=False),
        sa.Column("tensor_config", sa.JSON(), nullable=False),
        sa.Column("tensor_config_id", sa.String(length=64), nullable=False),
        sa.Column("job_params", sa.JSON(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("perf_jobs", schema=None) as batch_op:
        batch_op.create_index("ix_perf_jobs_account_time", ["account_id", "create_time", "id"], unique=False)
        batch_op.create_index(
            "ix_perf_jobs_account_version", ["account_id", "model_version_id"], unique=False
        )

    op.create_table(
        "services",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("service_version_id", sa.String(length=64), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("model_version_id", sa.String(length=96), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=False),
        sa.Column("model_type", sa.String(length=128), nullable=False),
        sa.Column("model_path", sa.Text(), nullable=False),
        sa.Column("model_name", sa.String(length=255), nullable=False),
        sa.Column("flavor_id", sa.String(length=64), nullable=False),
        sa.Column("image_id", sa.Text(), nullable=False),
        sa.Column("envs", sa.JSON(), nullable=False),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("endpoint_url", sa.Text(), nullable=False),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_id", "name", name="uq_services_account_name"),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index("ix_services_account_time", ["account_id", "create_time", "id"], unique=False)

    op.create_table(
        "access_keys",
        sa.Column("ak", sa.String(length=128), nullable=False),
        sa.Column("sk", sa.String(length=256), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), nullable=False),
        sa.Column("created", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.account_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("ak"),
    )
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.create_index("ix_access_keys_account", ["account_id"], unique=False)

    op.create_table(
        "model_versions",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("model_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model_format", sa.String(length=64), nullable=False),
        sa.Column("model_type", sa.String(length=128), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("source_type", sa.String(length=32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("tensor_config", sa.JSON(), nullable=True),
        sa.Column("metrics_list", sa.JSON(), nullable=True),
        sa.Column("model_tags", sa.JSON(), nullable=True),
        sa.Column("base_model_version_id", sa.String(length=96), nullable=True),
        sa.Column("source_id", sa.String(length=64), nullable=True),
        sa.Column("dataset_id", sa.String(length=255), nullable=True),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["model_id"], ["models.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_versions_model_version"),
    )
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.create_index(
            "ix_model_versions_model_time", ["model_id", "create_time", "version"], unique=False
        )

    op.create_table(
        "perf_tasks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.BigInteger(), nullable=False),
        sa.Column("model_version_id", sa.String(length=96), nullable=False),
        sa.Column("task_type", sa.String(length=32), nullable=False),
        sa.Column("flavor_id", sa.String(length=64), nullable=False),
        sa.Column("convert_type", sa.String(length=64), nullable=False),
        sa.Column("convert_precision", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("result_json", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("create_time", sa.DateTime(), nullable=False),
        sa.Column("update_time", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["perf_jobs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("perf_tasks", schema=None) as batch_op:
        batch_op.create_index("ix_perf_tasks_account_time", ["account_id", "create_time", "id"], unique=False)
        batch_op.create_index("ix_perf_tasks_job_status", ["job_id", "status"], unique=False)
        batch_op.create_index("ix_perf_tasks_status_time", ["status", "create_time", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("perf_tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_perf_tasks_status_time")
        batch_op.drop_index("ix_perf_tasks_job_status")
        batch_op.drop_index("ix_perf_tasks_account_time")

    op.drop_table("perf_tasks")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_index("ix_model_versions_model_time")

    op.drop_table("model_versions")
    with op.batch_alter_table("access_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_access_keys_account")

    op.drop_table("access_keys")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index("ix_services_account_time")

    op.drop_table("services")
    with op.batch_alter_table("perf_jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_perf_jobs_account_version")
        batch_op.drop_index("ix_perf_jobs_account_time")

    op.drop_table("perf_jobs")
    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_index("ix_models_account_time")
        batch_op.drop_index("ix_models_account_name")

    op.drop_table("models")
    op.drop_table("accounts")

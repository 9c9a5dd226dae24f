"""Text columns sort by code point on PostgreSQL (COLLATE "C"), as on SQLite.

The ids, version ids and names sort and break ties in every list; PostgreSQL's default collation
follows the server's locale (en-US: "a" < "B" < "b", "-" ignored), SQLite's is byte order. Nothing
changes on SQLite. On PostgreSQL each column is re-typed with the same length and the "C" collation,
and its indexes are rebuilt by PostgreSQL in that order.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# table -> (column, length)
COLUMNS: dict[str, list[tuple[str, int]]] = {
    "models": [("id", 64), ("name", 255), ("dataset_id", 255)],
    "model_versions": [
        ("id", 96), ("model_id", 64), ("base_model_version_id", 96), ("source_id", 64), ("dataset_id", 255),
    ],
    "perf_jobs": [("id", 64), ("model_version_id", 96), ("tensor_config_id", 64)],
    "perf_tasks": [("id", 64), ("job_id", 64), ("model_version_id", 96)],
    "services": [
        ("id", 64), ("name", 255), ("service_version_id", 64), ("model_id", 64), ("model_version_id", 96),
        ("model_name", 255),
    ],
    "accounts": [("name", 255)],
}  # fmt: skip


def _retype(collation: str | None) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    clause = f' COLLATE "{collation}"' if collation else ' COLLATE "default"'
    for table, columns in COLUMNS.items():
        alters = ", ".join(
            f'ALTER COLUMN "{name}" TYPE VARCHAR({length}){clause}' for name, length in columns
        )
        op.execute(f'ALTER TABLE "{table}" {alters}')


def upgrade() -> None:
    _retype("C")


def downgrade() -> None:
    _retype(None)

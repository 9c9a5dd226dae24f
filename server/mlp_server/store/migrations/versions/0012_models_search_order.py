"""Search order (SQLite): ``models_search_unordered``, the accounts whose models' rowids are not known to
follow their (create_time, id) order, kept by two triggers on ``models`` and computed here, so that a
CreateTime page of a substring filter's matches is read from the search index in rowid order
(``mlp_server.store.model_index.in_rowid_order``). Nothing on PostgreSQL.

The statements are copied from ``mlp_server.store.model_index`` as of this revision (migrations are
frozen history); the store's tests check that a migrated database equals a new one.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQLITE = [
    "CREATE TABLE models_search_unordered (account_id INTEGER PRIMARY KEY)",
    """CREATE TRIGGER models_search_order_insert AFTER INSERT ON models
    WHEN EXISTS (SELECT 1 FROM models WHERE rowid > new.rowid)
      OR EXISTS (SELECT 1 FROM models WHERE account_id = new.account_id
                 AND (create_time, id) > (new.create_time, new.id))
    BEGIN
        INSERT OR IGNORE INTO models_search_unordered (account_id) VALUES (new.account_id);
    END""",
    """CREATE TRIGGER models_search_order_update AFTER UPDATE OF account_id, create_time, id ON models
    WHEN old.account_id IS NOT new.account_id OR old.create_time IS NOT new.create_time
      OR old.id IS NOT new.id
    BEGIN
        INSERT OR IGNORE INTO models_search_unordered (account_id) VALUES (old.account_id);
        INSERT OR IGNORE INTO models_search_unordered (account_id) VALUES (new.account_id);
    END""",
    """INSERT INTO models_search_unordered (account_id)
    SELECT DISTINCT account_id FROM (
        SELECT account_id, rowid AS here,
               lag(rowid) OVER (PARTITION BY account_id ORDER BY create_time, id) AS before
        FROM models
    ) WHERE here < before""",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS models_search_order_insert")
        op.execute("DROP TRIGGER IF EXISTS models_search_order_update")
        op.execute("DROP TABLE IF EXISTS models_search_unordered")

"""Search table (PostgreSQL): ``models_search``, a narrow copy of each model's id, account, create time
and name kept by triggers on ``models``, carrying the pg_trgm indexes that were on ``models`` (dropped
here), so that a Contains filter's count and sort keys are read from dense rows that a version's
registration does not rewrite (``mlp_server.store.model_index``). Nothing on SQLite.

The statements are copied from ``mlp_server.store.model_index`` as of this revision (migrations are
frozen history); the store's tests check that a migrated database equals a new one.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

POSTGRESQL = [
    """CREATE TABLE models_search (
        id VARCHAR(64) COLLATE "C" PRIMARY KEY,
        account_id BIGINT NOT NULL,
        create_time TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        name VARCHAR(255) COLLATE "C" NOT NULL
    )""",
    """CREATE FUNCTION models_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO models_search (id, account_id, create_time, name)
            VALUES (NEW.id, NEW.account_id, NEW.create_time, NEW.name);
        ELSIF TG_OP = 'TRUNCATE' THEN
            DELETE FROM models_search;
        ELSIF TG_OP = 'DELETE' THEN
            DELETE FROM models_search WHERE id = OLD.id;
        ELSE
            UPDATE models_search
            SET id = NEW.id, account_id = NEW.account_id, create_time = NEW.create_time, name = NEW.name
            WHERE id = OLD.id;
        END IF;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER models_search_insert AFTER INSERT ON models
    FOR EACH ROW EXECUTE FUNCTION models_search_sync()""",
    """CREATE TRIGGER models_search_delete AFTER DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION models_search_sync()""",
    """CREATE TRIGGER models_search_truncate AFTER TRUNCATE ON models
    FOR EACH STATEMENT EXECUTE FUNCTION models_search_sync()""",
    """CREATE TRIGGER models_search_update AFTER UPDATE OF id, account_id, create_time, name ON models
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.account_id IS DISTINCT FROM NEW.account_id
        OR OLD.create_time IS DISTINCT FROM NEW.create_time OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION models_search_sync()""",
    # Filled in (create_time, id) order: an IdContains's matches (ids follow create times) sit together.
    "INSERT INTO models_search (id, account_id, create_time, name) "
    "SELECT id, account_id, create_time, name FROM models ORDER BY create_time, id",
    "CREATE INDEX ix_models_search_name_trgm ON models_search "
    'USING gin (lower(name COLLATE "C") gin_trgm_ops)',
    'CREATE INDEX ix_models_search_id_trgm ON models_search USING gin (lower(id COLLATE "C") gin_trgm_ops)',
    "DROP INDEX IF EXISTS ix_models_name_trgm",
    "DROP INDEX IF EXISTS ix_models_id_trgm",
]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in ("name", "id"):
            op.execute(
                f"CREATE INDEX IF NOT EXISTS ix_models_{column}_trgm ON models "
                f'USING gin (lower({column} COLLATE "C") gin_trgm_ops)'
            )
        op.execute("DROP TRIGGER IF EXISTS models_search_insert ON models")
        op.execute("DROP TRIGGER IF EXISTS models_search_delete ON models")
        op.execute("DROP TRIGGER IF EXISTS models_search_update ON models")
        op.execute("DROP TRIGGER IF EXISTS models_search_truncate ON models")
        op.execute("DROP FUNCTION IF EXISTS models_search_sync()")
        op.execute("DROP TABLE IF EXISTS models_search")

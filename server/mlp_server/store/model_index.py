"""What lets ListModels answer quickly at a million models: per-account counters and a substring index.

- ``model_counts`` holds each account's number of models, kept by the store in the transaction that
  creates or deletes one, so an unfiltered list's Total is one row instead of a count over every model;
  and the account's list generation, which every create, delete and rename moves on, logging the change
  (:mod:`.model_changes`, :mod:`.list_cache`).
- On SQLite, ``models_search`` is a contentless FTS5 table with the trigram tokenizer over the model
  name and id, kept by triggers (so rows inserted by any path are indexed). It indexes ``lower()`` of
  each value (SQLite's lower() folds ASCII only) case-sensitively, and a needle is folded the same way:
  a match is then exactly SQLite's LIKE rule (ASCII case ignored, other characters compared as they
  are). Its rowid is the model row's rowid, which SQLite keeps for a table's rows unless VACUUM
  renumbers them; :func:`rebuild` rebuilds the index (run by the migration and after a VACUUM).
  Its matches come in rowid order, which is the order models were inserted in: for an account whose
  rowids follow its (create_time, id) order, a CreateTime page of matches is a LIMIT/OFFSET over the
  index alone (:func:`in_rowid_order`). ``models_search_unordered`` lists the accounts for which that
  is not known: a trigger adds the account of a row inserted before another of its rows in that order
  (a clock set back, a row written with an older time or an explicit rowid) or whose key or account
  changes; :func:`recount` computes the list again.
- On PostgreSQL, ``models_search`` is a narrow copy of each model's list columns (id, account, create
  time, name), kept by triggers on ``models`` in the same transaction (any write path), with pg_trgm
  GIN indexes on ``lower(name COLLATE "C")`` and ``lower(id COLLATE "C")`` that serve the store's one
  Contains rule (ASCII case folded, nothing else; :func:`.paging.contains`). A filter's count and its
  matches' sort keys are read from it alone: its rows are a third of a model row's width and are not
  rewritten when a version is registered (which updates the model row), so a scan of tens of thousands
  of matches visits far fewer heap pages (migration 0014; before it the indexes were on ``models``).

Needles shorter than a trigram cannot use either index: they scan, as before.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from . import model_grams, model_ranks, version_stats
from .case_rule import fold

SEARCH_TABLE = "models_search"
PG_TRIGRAM_INDEX = "ix_models_search_name_trgm"
PG_ID_TRIGRAM_INDEX = "ix_models_search_id_trgm"
PG_SEARCH_FUNCTION = "models_search_sync"
UNORDERED_TABLE = "models_search_unordered"
TRIGRAM = 3

_SQLITE_DDL = [
    f"CREATE VIRTUAL TABLE {SEARCH_TABLE} USING fts5(name, id, content='', "
    "tokenize='trigram case_sensitive 1')",
    f"""CREATE TRIGGER models_search_insert AFTER INSERT ON models BEGIN
        INSERT INTO {SEARCH_TABLE} (rowid, name, id) VALUES (new.rowid, lower(new.name), lower(new.id));
    END""",
    f"""CREATE TRIGGER models_search_delete AFTER DELETE ON models BEGIN
        INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, name, id)
        VALUES ('delete', old.rowid, lower(old.name), lower(old.id));
    END""",
    f"""CREATE TRIGGER models_search_update AFTER UPDATE OF name, id ON models BEGIN
        INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}, rowid, name, id)
        VALUES ('delete', old.rowid, lower(old.name), lower(old.id));
        INSERT INTO {SEARCH_TABLE} (rowid, name, id) VALUES (new.rowid, lower(new.name), lower(new.id));
    END""",
    f"CREATE TABLE {UNORDERED_TABLE} (account_id INTEGER PRIMARY KEY)",
    # Two index probes per insert: a later rowid anywhere, or a later key in the account.
    f"""CREATE TRIGGER models_search_order_insert AFTER INSERT ON models
    WHEN EXISTS (SELECT 1 FROM models WHERE rowid > new.rowid)
      OR EXISTS (SELECT 1 FROM models WHERE account_id = new.account_id
                 AND (create_time, id) > (new.create_time, new.id))
    BEGIN
        INSERT OR IGNORE INTO {UNORDERED_TABLE} (account_id) VALUES (new.account_id);
    END""",
    f"""CREATE TRIGGER models_search_order_update AFTER UPDATE OF account_id, create_time, id ON models
    WHEN old.account_id IS NOT new.account_id OR old.create_time IS NOT new.create_time
      OR old.id IS NOT new.id
    BEGIN
        INSERT OR IGNORE INTO {UNORDERED_TABLE} (account_id) VALUES (old.account_id);
        INSERT OR IGNORE INTO {UNORDERED_TABLE} (account_id) VALUES (new.account_id);
    END""",
]
# The accounts two of whose models, next to each other in (create_time, id) order, have rowids the
# other way round (one scan of the account/time index).
_SQLITE_UNORDERED = f"""INSERT INTO {UNORDERED_TABLE} (account_id)
    SELECT DISTINCT account_id FROM (
        SELECT account_id, rowid AS here,
               lag(rowid) OVER (PARTITION BY account_id ORDER BY create_time, id) AS before
        FROM models
    ) WHERE here < before"""
_PG_DDL = [
    # pg_trgm is a trusted extension (PostgreSQL 13+): a database owner may create it.
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # The models' columns as they are declared (ids and names compared by code point).
    f"""CREATE TABLE {SEARCH_TABLE} (
        id VARCHAR(64) COLLATE "C" PRIMARY KEY,
        account_id BIGINT NOT NULL,
        create_time TIMESTAMP WITHOUT TIME ZONE NOT NULL,
        name VARCHAR(255) COLLATE "C" NOT NULL
    )""",
    f"""CREATE FUNCTION {PG_SEARCH_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            INSERT INTO {SEARCH_TABLE} (id, account_id, create_time, name)
            VALUES (NEW.id, NEW.account_id, NEW.create_time, NEW.name);
        ELSIF TG_OP = 'TRUNCATE' THEN
            DELETE FROM {SEARCH_TABLE};
        ELSIF TG_OP = 'DELETE' THEN
            DELETE FROM {SEARCH_TABLE} WHERE id = OLD.id;
        ELSE
            UPDATE {SEARCH_TABLE}
            SET id = NEW.id, account_id = NEW.account_id, create_time = NEW.create_time, name = NEW.name
            WHERE id = OLD.id;
        END IF;
        RETURN NULL;
    END $$""",
    f"""CREATE TRIGGER {SEARCH_TABLE}_insert AFTER INSERT ON models
    FOR EACH ROW EXECUTE FUNCTION {PG_SEARCH_FUNCTION}()""",
    f"""CREATE TRIGGER {SEARCH_TABLE}_delete AFTER DELETE ON models
    FOR EACH ROW EXECUTE FUNCTION {PG_SEARCH_FUNCTION}()""",
    f"""CREATE TRIGGER {SEARCH_TABLE}_truncate AFTER TRUNCATE ON models
    FOR EACH STATEMENT EXECUTE FUNCTION {PG_SEARCH_FUNCTION}()""",
    # Not on a version's registration, which updates the model row's version stats only.
    f"""CREATE TRIGGER {SEARCH_TABLE}_update AFTER UPDATE OF id, account_id, create_time, name ON models
    FOR EACH ROW WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.account_id IS DISTINCT FROM NEW.account_id
        OR OLD.create_time IS DISTINCT FROM NEW.create_time OR OLD.name IS DISTINCT FROM NEW.name)
    EXECUTE FUNCTION {PG_SEARCH_FUNCTION}()""",
    f'CREATE INDEX {PG_TRIGRAM_INDEX} ON {SEARCH_TABLE} USING gin (lower(name COLLATE "C") gin_trgm_ops)',
    f'CREATE INDEX {PG_ID_TRIGRAM_INDEX} ON {SEARCH_TABLE} USING gin (lower(id COLLATE "C") gin_trgm_ops)',
]
_PG_DROP = [
    f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_insert ON models",
    f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_delete ON models",
    f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_update ON models",
    f"DROP TRIGGER IF EXISTS {SEARCH_TABLE}_truncate ON models",
    f"DROP FUNCTION IF EXISTS {PG_SEARCH_FUNCTION}()",
    f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
]
_SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS models_search_order_insert",
    "DROP TRIGGER IF EXISTS models_search_order_update",
    f"DROP TABLE IF EXISTS {UNORDERED_TABLE}",
    "DROP TRIGGER IF EXISTS models_search_insert",
    "DROP TRIGGER IF EXISTS models_search_delete",
    "DROP TRIGGER IF EXISTS models_search_update",
    f"DROP TABLE IF EXISTS {SEARCH_TABLE}",
]


def create(conn: Connection) -> None:
    """Create the substring index of this database's dialect (empty; :func:`rebuild` fills it)."""
    statements = {"sqlite": _SQLITE_DDL, "postgresql": _PG_DDL}.get(conn.dialect.name, [])
    for statement in statements:
        conn.exec_driver_sql(statement)


def drop(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        for statement in _SQLITE_DROP:
            conn.exec_driver_sql(statement)
    elif conn.dialect.name == "postgresql":
        for statement in _PG_DROP:
            conn.exec_driver_sql(statement)


def recount(conn: Connection) -> None:
    """Recompute the counters, the list stretches (:mod:`.model_ranks`), the name grams
    (:mod:`.model_grams`) and, on SQLite, which accounts' rowids are out of their CreateTime order
    from the models table, and each model's version stats (:mod:`.version_stats`) from the versions
    table (after rows were written around the store).

    Counter rows are updated, never deleted, and every generation goes up: a list cached before the
    recount (:mod:`.list_cache`) can never match a generation after it, even one that started again.
    """
    model_ranks.rebuild(conn)
    model_grams.recount(conn)
    version_stats.recount(conn)
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"DELETE FROM {UNORDERED_TABLE}")
        conn.exec_driver_sql(_SQLITE_UNORDERED)
    conn.execute(
        text(
            "UPDATE model_counts SET generation = generation + 1, models = "
            "(SELECT count(*) FROM models WHERE models.account_id = model_counts.account_id)"
        )
    )
    conn.execute(
        text(
            "INSERT INTO model_counts (account_id, models, generation) "
            "SELECT account_id, count(*), 1 FROM models "
            "WHERE account_id NOT IN (SELECT account_id FROM model_counts) GROUP BY account_id"
        )
    )


def rebuild(conn: Connection) -> None:
    """Recompute the counters and the search index from the models table."""
    recount(conn)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"DELETE FROM {SEARCH_TABLE}")
        conn.exec_driver_sql(
            f"INSERT INTO {SEARCH_TABLE} (id, account_id, create_time, name) "
            "SELECT id, account_id, create_time, name FROM models"
        )
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"INSERT INTO {SEARCH_TABLE} ({SEARCH_TABLE}) VALUES ('delete-all')")
        conn.exec_driver_sql(
            f"INSERT INTO {SEARCH_TABLE} (rowid, name, id) SELECT rowid, lower(name), lower(id) FROM models"
        )


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """For schema comparison (Alembic): the search objects are not in the models' metadata."""
    if type_ == "table" and name is not None and name.startswith(SEARCH_TABLE):
        return False
    return not (type_ == "index" and name in (PG_TRIGRAM_INDEX, PG_ID_TRIGRAM_INDEX))


def fts_phrase(column: str, needle: str) -> str:
    """An FTS5 query: ``needle`` (folded) as a literal substring of ``column``."""
    return f'{column} : "{fold(needle).replace(chr(34), chr(34) * 2)}"'


def in_rowid_order(session: Session, account_id: int) -> bool:
    """Whether the account's models, in rowid order, are in (create_time, id) order (SQLite)."""
    found = session.execute(
        text(f"SELECT 1 FROM {UNORDERED_TABLE} WHERE account_id = :account"), {"account": account_id}
    ).first()
    return found is None

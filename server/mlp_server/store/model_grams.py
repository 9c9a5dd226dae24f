"""How many of an account's models have each 1- and 2-character substring in their name: the Total of
a ModelNameContains needle too short for a trigram index, in one row instead of a scan of every name.

A gram is taken from the name case-folded by the databases' own Contains rule (ASCII letters only,
:func:`.case_rule.fold`), so ``models`` of gram ``g`` is exactly the number of the account's models
that ``ModelNameContains=g`` matches. Every create, delete and rename adjusts the counts of the grams
the name gains or loses (each distinct gram once per name), in the transaction that moves the account's
list generation on (:mod:`.model_changes`): on PostgreSQL the account's counter row is locked by then,
so an account's gram rows are only ever written by one transaction at a time. Rows fallen to 0 stay.

A name of length L touches at most 2L - 1 rows: one executemany on SQLite, one statement on PostgreSQL.
:func:`recount` computes every count again from the models table (migrations, repairs, bulk loads).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session

from .case_rule import fold
from .schema import Base, ModelGramRow, ModelRow

GRAM = 2  # the longest needle counted

_GRAMS: Table = Base.metadata.tables[ModelGramRow.__tablename__]

_SQLITE_UPSERT = (
    "INSERT INTO model_grams (account_id, gram, models) VALUES (?, ?, ?) "
    "ON CONFLICT (account_id, gram) DO UPDATE SET models = models + excluded.models"
)
_PG_UPSERT = (
    "INSERT INTO model_grams (account_id, gram, models) "
    "SELECT %(account_id)s, g, d FROM unnest(%(grams)s::text[], %(deltas)s::bigint[]) AS t(g, d) "
    "ON CONFLICT (account_id, gram) DO UPDATE SET models = model_grams.models + excluded.models"
)


def grams(name: str) -> set[str]:
    """The distinct 1- and 2-character substrings of ``name`` as Contains compares them."""
    folded = fold(name)
    return {folded[i : i + n] for n in range(1, GRAM + 1) for i in range(len(folded) - n + 1)}


def moved(session: Session, account_id: int, before: str | None, after: str | None) -> None:
    """A model's name went from ``before`` to ``after`` (None: created / deleted): count what changed,
    in the caller's transaction, after it took the account's turn."""
    old = grams(before) if before is not None else set()
    new = grams(after) if after is not None else set()
    deltas = [(gram, 1) for gram in new - old] + [(gram, -1) for gram in old - new]
    if not deltas:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        params: Any = {
            "account_id": account_id,
            "grams": [gram for gram, _ in deltas],
            "deltas": [delta for _, delta in deltas],
        }
        conn.exec_driver_sql(_PG_UPSERT, params)
    else:
        conn.exec_driver_sql(_SQLITE_UPSERT, [(account_id, gram, delta) for gram, delta in deltas])


def total(session: Session, account_id: int, needle: str) -> int:
    """How many of the account's models ``ModelNameContains=needle`` matches (1 <= len <= GRAM)."""
    assert 0 < len(needle) <= GRAM, needle
    found = session.scalar(
        select(ModelGramRow.models).where(
            ModelGramRow.account_id == account_id, ModelGramRow.gram == fold(needle)
        )
    )
    return found or 0


def counted(conn: Connection) -> Counter[tuple[int, str]]:
    """Every account's gram counts computed from the models table."""
    counts: Counter[tuple[int, str]] = Counter()
    rows = conn.execute(select(ModelRow.account_id, ModelRow.name).execution_options(yield_per=10_000))
    for account_id, name in rows:
        counts.update((account_id, gram) for gram in grams(name))
    return counts


def recount(conn: Connection) -> None:
    """Replace every count with one computed from the models table."""
    conn.execute(_GRAMS.delete())
    rows = [{"account_id": a, "gram": g, "models": n} for (a, g), n in counted(conn).items()]
    if rows:
        conn.execute(_GRAMS.insert(), rows)

"""Name grams: ``model_grams``, per account the number of models whose name (ASCII letters folded) holds
each 1- and 2-character substring, the Total of a ModelNameContains too short for a trigram index
(``mlp_server.store.model_grams``), counted here from the models table.

The counting is copied from ``model_grams.recount`` as of this revision (migrations are frozen
history); the store's tests check that a migrated database equals a new one and counts alike.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import string
from collections import Counter

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _grams(name: str) -> set[str]:
    folded = name.translate(_FOLD)
    return {folded[i : i + n] for n in (1, 2) for i in range(len(folded) - n + 1)}


def upgrade() -> None:
    grams = op.create_table(
        "model_grams",
        sa.Column("account_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column(
            "gram",
            sa.String(length=2).with_variant(sa.String(length=2, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("models", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "gram"),
    )
    conn = op.get_bind()
    counts: Counter[tuple[int, str]] = Counter()
    names = sa.text("SELECT account_id, name FROM models").execution_options(yield_per=10_000)
    for account_id, name in conn.execute(names):
        counts.update((account_id, gram) for gram in _grams(name))
    rows = [{"account_id": a, "gram": g, "models": n} for (a, g), n in counts.items()]
    if rows:
        conn.execute(grams.insert(), rows)


def downgrade() -> None:
    op.drop_table("model_grams")

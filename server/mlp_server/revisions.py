"""The schema revision this release writes, read from the migration files' names.

Revisions are numbered ``NNNN`` and their files named ``store/migrations/versions/NNNN_what.py``: the
head is the largest. Read from the file names, outside the ``store`` package, so that neither opening
a store nor the embedded platform's quick reads (:mod:`mlp_server.quick_reads`) import Alembic or
SQLAlchemy to learn it; the tests check that it is Alembic's one head.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Final

VERSIONS: Final = Path(__file__).with_name("store") / "migrations" / "versions"
VERSION_TABLE: Final = "alembic_version"


@cache
def head_revision() -> str:
    return max(p.name[:4] for p in VERSIONS.glob("[0-9][0-9][0-9][0-9]_*.py"))

"""The one case rule of every Contains filter, on both databases: ASCII letters folded, nothing else
(SQLite's LIKE and lower(); PostgreSQL's lower() under COLLATE "C"). "ALPHA" finds "alpha", while "É"
finds "É" but not "é"."""

from __future__ import annotations

import string

_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def fold(value: str) -> str:
    """``value`` as the databases' lower() gives it: ASCII letters only."""
    return value.translate(_ASCII_FOLD)

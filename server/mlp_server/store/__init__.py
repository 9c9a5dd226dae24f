"""Persistent storage of the local platform (SQLite by default, any SQLAlchemy database)."""

from .accounts import AccountRecord, KeyRecord
from .engine import sqlite_url
from .perf import ClaimedTask
from .repository import Store
from .resources import CATALOGUE, FLAVOR_IDS, Flavor

__all__ = [
    "CATALOGUE",
    "FLAVOR_IDS",
    "AccountRecord",
    "ClaimedTask",
    "Flavor",
    "KeyRecord",
    "Store",
    "sqlite_url",
]

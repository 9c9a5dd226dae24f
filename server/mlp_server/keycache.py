"""Access-key records kept in memory, so that a signed request needs no database read to authenticate.

A record read from the store is kept for ``ttl`` seconds at most, and dropped at once when this
process changes any key through the same store (add, overwrite, promote, revoke: the store's
``keys_generation``). A change made by another process (``mlp account`` on the same data folder, or
another ``mlp serve`` of a team on one PostgreSQL) reaches this one within ``ttl`` seconds: that is
the staleness bound. An unknown key is never kept, so a key just added elsewhere works at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # the store (SQLAlchemy) is not imported for a type
    from .store.accounts import KeyRecord

DEFAULT_TTL_SECONDS = 2.0
# Only known keys are kept, so this bounds memory against a store with very many keys, not attackers.
_MAX_ENTRIES = 10_000


class KeySource(Protocol):
    @property
    def keys_generation(self) -> int: ...

    def lookup_access_key(self, ak: str) -> KeyRecord | None: ...


class NotCached(Exception):
    """The record is not in memory (or too old): look it up with :meth:`KeyCache.load`."""


class KeyCache:
    def __init__(
        self, source: KeySource, ttl: float = DEFAULT_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._source = source
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        # ak -> (record, monotonic time read, store generation when the read began)
        self._entries: dict[str, tuple[KeyRecord, float, int]] = {}

    def cached(self, ak: str) -> KeyRecord:
        """The record if it is in memory and current; :class:`NotCached` otherwise (no I/O)."""
        entry = self._entries.get(ak)
        if entry is None:
            raise NotCached(ak)
        record, read_at, generation = entry
        if generation != self._source.keys_generation or self._clock() - read_at >= self._ttl:
            raise NotCached(ak)
        return record

    def load(self, ak: str) -> KeyRecord | None:
        """The record from the store (kept if found); None for an unknown key. Blocking I/O."""
        generation = self._source.keys_generation  # before the read: a change during it is not missed
        read_at = self._clock()
        record = self._source.lookup_access_key(ak)
        if record is None or self._ttl <= 0:
            with self._lock:
                self._entries.pop(ak, None)
            return record
        with self._lock:
            if len(self._entries) >= _MAX_ENTRIES:
                self._entries.clear()
            self._entries[ak] = (record, read_at, generation)
        return record

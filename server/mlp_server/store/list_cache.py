"""What a filtered ListModels computed, kept for the next pages of the same filter.

Users page through one filter: page 1 pays for the Total (a count of every match) and, for a page
deep inside many matches, for the sorted ids of every match; pages 2..n reuse them.

An entry is keyed by the account's list generation (``model_counts.generation``), which every create,
delete and rename of one of its models moves on in the same transaction, and which a list reads in its
own snapshot (the same transaction as its page). An entry made under generation ``g`` is therefore
only ever used by a snapshot that sees exactly the models the entry was computed from, whichever
process (another ``mlp serve`` on the same PostgreSQL) wrote since. Nothing is ever invalidated in
place: a new generation simply misses, and older entries of the account are dropped when a newer
generation is stored.

Bounded in entries and in ids held (memory: roughly 80 bytes an id).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

# Filters (totals and id lists) kept; 0 turns the cache off.
MAX_ENTRIES = 256
# Ids kept over every entry, and at most for one filter and order.
MAX_IDS = 1_000_000
IDS_PER_FILTER = 200_000

# (account id, generation, ModelName, ModelNameContains, IdContains)
FilterKey = tuple[int, int, str | None, str | None, str | None]


@dataclass
class _Entry:
    total: int | None = None
    ids: dict[str, Sequence[str]] = field(default_factory=dict)  # SortBy -> every match, ascending

    @property
    def size(self) -> int:
        return sum(len(ids) for ids in self.ids.values())


class ListCache:
    """Thread-safe, least recently used first out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[FilterKey, _Entry] = OrderedDict()
        self._latest: dict[int, int] = {}  # account -> newest generation stored
        self._held = 0

    def total(self, key: FilterKey) -> int | None:
        with self._lock:
            entry = self._get(key)
            return None if entry is None else entry.total

    def ids(self, key: FilterKey, sort_by: str) -> Sequence[str] | None:
        """Every match of the filter in ascending ``sort_by`` order, if kept."""
        with self._lock:
            entry = self._get(key)
            return None if entry is None else entry.ids.get(sort_by)

    def put_total(self, key: FilterKey, total: int) -> None:
        with self._lock:
            if (entry := self._entry(key)) is not None:
                entry.total = total

    def put_ids(self, key: FilterKey, sort_by: str, ids: Sequence[str]) -> None:
        if len(ids) > min(IDS_PER_FILTER, MAX_IDS):
            return
        with self._lock:
            if (entry := self._entry(key)) is None:
                return
            self._held += len(ids) - len(entry.ids.get(sort_by, ()))
            entry.ids[sort_by] = tuple(ids)
            entry.total = len(ids)
            self._shrink()

    def _get(self, key: FilterKey) -> _Entry | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def _entry(self, key: FilterKey) -> _Entry | None:
        """The entry to fill for ``key``, made if need be; None when ``key`` is older than what is
        kept for its account (a snapshot taken before a write another request has already seen)."""
        if MAX_ENTRIES <= 0:
            return None
        account, generation = key[0], key[1]
        latest = self._latest.get(account, generation)
        if generation < latest:
            return None
        if generation > latest:  # the account changed: what was kept for it is of no more use
            for old in [k for k in self._entries if k[0] == account]:
                self._drop(old)
        self._latest[account] = generation
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry()
            self._shrink()
        else:
            self._entries.move_to_end(key)
        return entry

    def _shrink(self) -> None:
        while self._entries and (len(self._entries) > MAX_ENTRIES or self._held > MAX_IDS):
            self._drop(next(iter(self._entries)))

    def _drop(self, key: FilterKey) -> None:
        self._held -= self._entries.pop(key).size

"""What a filtered ListModels computed, kept for the next pages of the same filter and carried forward
through the account's writes.

Users page through one filter: page 1 pays for the Total (a count of every match) and, for a page
deep inside many matches, for the sort keys of every match; pages 2..n reuse them.

An entry holds the account's list generation (``model_counts.generation``) it was computed under. Every
create, delete and rename of one of the account's models moves the generation on and logs the change
in the same transaction (:mod:`.model_changes`), and a list reads the generation in its own snapshot (the
same transaction as its page). An entry of generation ``g`` is used as it is by a snapshot at ``g``; a
snapshot at ``g' > g`` reads the changes of (g, g'] in that snapshot and, when every one of them is
there and there are at most :data:`MAX_CARRY`, tests each changed model against the filter (the
database's own rule, :meth:`.model_listing.Filters.matches`) and edits the Total and the sorted keys:
the entry is then exactly what computing it again in that snapshot would give. Otherwise (a gap in
the log, an older snapshot, an edit that does not fit) the list is computed again. Entries are never
changed in place: a carried entry is a new one, stored if it is newer than what is kept.

Bounded in entries and in keys held (memory: roughly 200-300 bytes a key, so at most ~150 MB).
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import Any

from .model_changes import ModelChange

# Filters kept; 0 turns the cache off.
MAX_ENTRIES = 256
# Keys kept over every entry, and at most for one filter and order.
MAX_IDS = 500_000
IDS_PER_FILTER = 200_000
# Changes read and applied to carry an entry forward; further behind, it is computed again.
MAX_CARRY = 1_000

# (account id, ModelName, ModelNameContains, IdContains)
FilterKey = tuple[int, str | None, str | None, str | None]
# A match's sort key as the list query orders it, the model id last: (create time, id) for CreateTime,
# (name, create time, id) for ModelName; create times as the database returns them unconverted.
SortKey = tuple[Any, ...]


@dataclass(frozen=True)
class Entry:
    generation: int
    total: int | None = None
    keys: Mapping[str, tuple[SortKey, ...]] = field(default_factory=dict)  # SortBy -> every match, ascending
    # Every match's rowid, ascending, when the search index alone answers the filter and the rowids
    # follow CreateTime (:func:`.model_index.in_rowid_order`): that order's pages, at this generation
    # only (the change log does not say where a created or deleted model's rowid goes; not carried).
    rowids: Sequence[int] | None = None

    @property
    def size(self) -> int:
        return sum(len(keys) for keys in self.keys.values()) + len(self.rowids or ())

    def carried(
        self, generation: int, changes: Sequence[ModelChange], matches: Callable[[str, str], bool]
    ) -> Entry | None:
        """This entry at ``generation``, the changes since its own (all of them, in order) applied;
        None if one does not fit what is kept (a key to remove that is not there, or to add that is)."""
        total = self.total
        removed: dict[str, set[SortKey]] = {sort_by: set() for sort_by in self.keys}
        added: dict[str, set[SortKey]] = {sort_by: set() for sort_by in self.keys}
        for change in changes:
            was = change.before is not None and matches(change.model_id, change.before)
            now = change.after is not None and matches(change.model_id, change.after)
            if total is not None:
                total += int(now) - int(was)
            for sort_by in self.keys:
                old = _key(sort_by, change, change.before) if was else None
                new = _key(sort_by, change, change.after) if now else None
                if old == new:
                    continue
                if old is not None:  # gone: added by an earlier change of this batch, or kept
                    if old in added[sort_by]:
                        added[sort_by].discard(old)
                    else:
                        removed[sort_by].add(old)
                if new is not None:
                    added[sort_by].add(new)
        keys: dict[str, tuple[SortKey, ...]] = {}
        for sort_by, kept in self.keys.items():
            edited = _edit(kept, removed[sort_by], added[sort_by])
            if edited is None or (total is not None and len(edited) != total):
                return None
            if len(edited) <= IDS_PER_FILTER:
                keys[sort_by] = edited
        return Entry(generation, total, keys)


def _key(sort_by: str, change: ModelChange, name: str | None) -> SortKey:
    if sort_by == "ModelName":
        return (name, change.create_time, change.model_id)
    return (change.create_time, change.model_id)


def _edit(
    kept: tuple[SortKey, ...], removed: Iterable[SortKey], added: Iterable[SortKey]
) -> tuple[SortKey, ...] | None:
    """``kept`` (ascending) less ``removed`` (each must be there) plus ``added`` (none may be)."""
    cuts = []
    for key in removed:
        at = bisect_left(kept, key)
        if at == len(kept) or kept[at] != key:
            return None
        cuts.append(at)
    cuts.sort()
    starts = [0, *(at + 1 for at in cuts)]
    ends = [*cuts, len(kept)]
    edited = list(chain.from_iterable(kept[start:end] for start, end in zip(starts, ends, strict=True)))
    for key in sorted(added):
        at = bisect_left(edited, key)
        if at < len(edited) and edited[at] == key:
            return None
        edited.insert(at, key)
    return tuple(edited)


class ListCache:
    """Thread-safe, least recently used first out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[FilterKey, Entry] = OrderedDict()
        self._held = 0

    def get(self, key: FilterKey) -> Entry | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: FilterKey, entry: Entry) -> None:
        """Keep ``entry`` unless what is kept for the filter is of a newer generation."""
        if MAX_ENTRIES <= 0:
            return
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None and kept.generation > entry.generation:
                return
            self._store(key, entry)

    def put_total(self, key: FilterKey, generation: int, total: int) -> None:
        self._merge(key, Entry(generation, total))

    def put_rowids(self, key: FilterKey, generation: int, rowids: Sequence[int]) -> None:
        """Every match of the filter at ``generation``, by rowid ascending (:attr:`Entry.rowids`)."""
        if len(rowids) > min(IDS_PER_FILTER, MAX_IDS):
            return
        self._merge(key, Entry(generation, len(rowids), rowids=rowids))

    def put_keys(self, key: FilterKey, generation: int, sort_by: str, keys: Sequence[SortKey]) -> None:
        """Every match of the filter at ``generation`` in ascending ``sort_by`` order."""
        if len(keys) > min(IDS_PER_FILTER, MAX_IDS):
            return
        self._merge(key, Entry(generation, len(keys), {sort_by: tuple(keys)}))

    def _merge(self, key: FilterKey, entry: Entry) -> None:
        """Add what ``entry`` holds to the kept entry of the same generation, or replace an older one."""
        if MAX_ENTRIES <= 0:
            return
        with self._lock:
            kept = self._entries.get(key)
            if kept is not None and kept.generation > entry.generation:
                return  # a snapshot taken before a write another request has already seen
            if kept is not None and kept.generation == entry.generation:
                rowids = kept.rowids if entry.rowids is None else entry.rowids
                entry = replace(kept, total=entry.total, keys={**kept.keys, **entry.keys}, rowids=rowids)
            self._store(key, entry)

    def _store(self, key: FilterKey, entry: Entry) -> None:
        old = self._entries.pop(key, None)
        self._held += entry.size - (0 if old is None else old.size)
        self._entries[key] = entry
        while self._entries and (len(self._entries) > MAX_ENTRIES or self._held > MAX_IDS):
            _, dropped = self._entries.popitem(last=False)
            self._held -= dropped.size

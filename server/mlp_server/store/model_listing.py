"""ListModels at scale: the same rows and Total as a plain filtered, sorted count and page, cheaper.

- Total: the account's counter when there is no filter, its name-gram counter for a lone
  ModelNameContains of 1 or 2 characters (:mod:`.model_grams`); a count driven by the substring index
  when a Contains needle is long enough for it; a plain count otherwise.
- An unfiltered page: its position found by adding up stretch sizes (:mod:`.model_ranks`), then fewer
  than 8,000 index rows skipped, at any Offset, in either order of either sort.
- A filtered page: ids first, walking from whichever end of the ordering is nearer to the page. On
  SQLite, a CreateTime page of what the search index alone answers, for an account that owns every
  model and whose rowids follow its CreateTime order (:func:`.model_index.in_rowid_order`), is a
  LIMIT/OFFSET over the index's matches in rowid order: no model row is read but the page's. Otherwise,
  when the matches are many (Total against the account's models), the sort index is walked testing
  each row, bounded to its first :data:`LIKE_WALK_BUDGET` rows; otherwise, or when those rows do not
  hold the page, the search index's matches drive. Then those rows by id.
- On PostgreSQL, the matches of a Contains the trigram indexes answer are counted and their sort keys
  read in the narrow search table (:mod:`.model_index`), never in ``models``. A filter's first request
  walks the sort index first when the page is near the start (then counts the Total alone); otherwise,
  or when that walk does not hold the page, one statement gives the Total and every match's sort key
  (kept for the filter's other pages), where a count and then the keys would scan the matches twice.
"""

from __future__ import annotations

import json
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    DateTime,
    Integer,
    Select,
    String,
    bindparam,
    cast,
    column,
    exists,
    func,
    literal_column,
    null,
    select,
    table,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.orm import InstrumentedAttribute, Session

from . import list_cache, model_changes, model_grams, model_index, model_ranks
from .base import Body
from .case_rule import fold
from .list_cache import Entry, FilterKey, ListCache, SortKey
from .model_changes import RAW_CREATE_TIME, ModelChange
from .model_index import SEARCH_TABLE, TRIGRAM, fts_phrase
from .paging import Page, SortKeys, chunked, contains
from .schema import ModelCountRow, ModelRow

MODEL_SORTS: SortKeys = {
    "CreateTime": (ModelRow.create_time, ModelRow.id),
    "ModelName": (ModelRow.name, ModelRow.create_time, ModelRow.id),
}
# A filtered page walks the sort index and keeps the rows the search index matched; when that walk
# would read more than this many index entries, reading the matched rows and sorting them is cheaper.
WALK_BUDGET = 200_000
# Up to this many rows, walking the sort index and testing each row's LIKE beats reading the search
# index's matches at all (they are materialised in full before the first row of the page).
LIKE_WALK_BUDGET = 2_000
# A filter's first CreateTime page from the search index reads up to this many rowids at once (its
# Total, kept with its other pages); more matches are counted, and each page skipped to in the index.
ROWIDS_AT_ONCE = 50_000

_ROWID = literal_column("models.rowid", Integer)
_Item = TypeVar("_Item")
_SEARCH = table(SEARCH_TABLE, column("rowid", Integer))
# PostgreSQL's search table: the models' list columns (:mod:`.model_index`); create times unconverted.
_PG_SEARCH = table(
    SEARCH_TABLE,
    column("id", String),
    column("account_id", BigInteger),
    column("create_time"),
    column("name", String),
)
_PG_SORTS: dict[str, tuple[ColumnElement[Any], ...]] = {
    "CreateTime": (_PG_SEARCH.c.create_time, _PG_SEARCH.c.id),
    "ModelName": (_PG_SEARCH.c.name, _PG_SEARCH.c.create_time, _PG_SEARCH.c.id),
}


@dataclass(frozen=True)
class Filters:
    exact_name: str | None
    name_part: str | None
    id_part: str | None

    @classmethod
    def from_body(cls, body: Body) -> Filters:
        return cls(body.get("ModelName"), body.get("ModelNameContains"), body.get("IdContains"))

    @property
    def any(self) -> bool:
        return any(value is not None for value in (self.exact_name, self.name_part, self.id_part))

    def matches(self, model_id: str, name: str) -> bool:
        """The filter's rule in Python, exactly the database's: an exact name compared by code point,
        Contains with ASCII letters folded and nothing else (SQLite's LIKE and lower(); PostgreSQL's
        lower() under COLLATE "C"; :func:`.paging.contains`)."""
        if self.exact_name is not None and name != self.exact_name:
            return False
        if self.name_part is not None and fold(self.name_part) not in fold(name):
            return False
        return self.id_part is None or fold(self.id_part) in fold(model_id)


def list_model_rows(
    session: Session, account_id: int, filters: Filters, page: Page, cache: ListCache | None = None
) -> tuple[int, list[ModelRow]]:
    """``(Total before pagination, the page's rows)`` of the account's models; a filtered list's
    Total and matches are kept in ``cache`` for the next pages (:mod:`.list_cache`)."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":  # the stretches, the Total and the page from one snapshot
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    # Read first, in the page's own snapshot: the counter and the generation the cache is keyed by.
    counter = _account_counter(session, account_id, _index_alone(filters, dialect))
    models, generation = counter.models, counter.generation
    cache_key: FilterKey | None = None
    entry: Entry | None = None
    if cache is not None and generation is not None and filters.any:
        cache_key = (account_id, filters.exact_name, filters.name_part, filters.id_part)
        entry = _kept(session, cache, cache_key, generation, filters)
        kept = None if entry is None else entry.keys.get(page.sort_by)
        if kept is not None:
            return len(kept), _rows_in_order(session, [key[-1] for key in _slice(kept, page)])
        if entry is not None and entry.rowids is not None and page.sort_by == "CreateTime":
            # Every match of this generation in CreateTime order (as read, or carried through this
            # account's writes while its rowids kept that order: _kept). Nothing else to decide: other
            # accounts' models are not among them, whoever owns what now.
            return len(entry.rowids), _rows_by_rowid(session, _slice(entry.rowids, page))
    where: list[ColumnElement[bool]] = []
    if filters.exact_name is not None:
        where.append(ModelRow.name == filters.exact_name)
    phrases: list[str] = []
    needles: list[ColumnElement[bool]] = []  # the Contains the search index answers, as LIKE
    for field, needle in (("name", filters.name_part), ("id", filters.id_part)):
        if needle is None:
            continue
        like = contains(ModelRow.name if field == "name" else ModelRow.id, needle, dialect)
        if len(needle) < TRIGRAM:
            where.append(like)
        elif dialect == "sqlite":
            phrases.append(fts_phrase(field, needle))
            needles.append(like)
        else:  # PostgreSQL: LIKE through pg_trgm
            needles.append(like)
    matched = _search(" AND ".join(phrases)) if phrases else None
    # What the search index does not answer (its own matches are ``matched`` on SQLite).
    searched = [*where, *needles] if matched is None else where
    mine = ModelRow.account_id == account_id
    # PostgreSQL: what the trigram indexes answer is read from the search table alone, never models.
    on_search = _pg_matching(account_id, filters) if dialect == "postgresql" and needles else None

    # The index's matches are exactly the LIKE matches, and every model is this account's.
    only_index = matched is not None and not where and counter.sole_owner
    # ... and in rowid order, which the index iterates in, they are in CreateTime order.
    index_order = only_index and page.sort_by == "CreateTime" and counter.rowid_order
    cached_total = None if entry is None else entry.total
    rowids = None if entry is None else entry.rowids
    if index_order and cached_total is None:
        # The filter's first request: every match's rowid in one statement, about what counting them
        # costs, for the Total and (kept) the filter's pages in this order.
        rowids = _every_match(session, " AND ".join(phrases), ROWIDS_AT_ONCE)
        if rowids is not None:
            cached_total = len(rowids)
            if cache_key is not None and cache is not None and generation is not None:
                cache.put_rowids(cache_key, generation, rowids)
    if (
        on_search is not None
        and cached_total is None
        and cache_key is not None
        and cache is not None
        and generation is not None
    ):
        # The filter's first request (PostgreSQL). A page near the start of many matches is found by
        # walking the sort index testing each row, and then only the Total is counted; otherwise the
        # Total and every match's sort key come from one scan of the matches (a count and then the
        # keys would scan them twice).
        if page.limit and page.offset + page.limit <= LIKE_WALK_BUDGET:
            query = select(ModelRow.id).where(mine, *where)
            sort = MODEL_SORTS[page.sort_by]
            first = _walk_testing(session, query, sort, page.descending, needles, page.offset, page.limit)
            if len(first) == page.limit:
                counted = session.scalar(select(func.count()).select_from(_PG_SEARCH).where(*on_search)) or 0
                cache.put_total(cache_key, generation, counted)
                return counted, _rows_in_order(session, first)
        counted, found = _total_and_keys(
            session, select(*_PG_SORTS[page.sort_by]).where(*on_search), list_cache.IDS_PER_FILTER
        )
        if found is not None:
            cache.put_keys(cache_key, generation, page.sort_by, found)
            return counted, _rows_in_order(session, [key[-1] for key in _slice(found, page)])
        cached_total = counted
    if not filters.any:
        total = models
    elif cached_total is not None:
        total = cached_total
    elif _gram_counted(filters):
        # An empty needle matches every name: the account's counter.
        total = model_grams.total(session, account_id, filters.name_part) if filters.name_part else models
    elif matched is not None and only_index:
        # Count them in the index alone, without reading a model row.
        total = session.scalar(select(func.count()).select_from(matched.subquery())) or 0
    elif matched is not None:
        # Driven by the matches: ``+ 0`` keeps SQLite from walking an account index instead.
        unindexed = ModelRow.account_id + 0 == account_id
        count = select(func.count()).select_from(ModelRow).where(_ROWID.in_(matched), unindexed, *where)
        total = session.scalar(count) or 0
    elif on_search is not None:
        total = session.scalar(select(func.count()).select_from(_PG_SEARCH).where(*on_search)) or 0
    else:
        total = session.scalar(select(func.count()).select_from(ModelRow).where(mine, *searched)) or 0
    if cache_key is not None and cache is not None and generation is not None and cached_total is None:
        cache.put_total(cache_key, generation, total)
    if page.limit == 0 or page.offset >= total:
        return total, []
    if not filters.any:
        return total, _rows_in_order(session, _unfiltered_ids(session, account_id, page, total))

    keys = MODEL_SORTS[page.sort_by]
    walked, reverse = page.walked(total)  # the last pages: walk from the other end
    offset, limit, descending = walked.offset, walked.limit, walked.descending
    order = [key.desc() if descending else key.asc() for key in keys]

    if index_order:
        if rowids is not None:
            chosen = _slice(rowids, page)
        else:  # kept is the Total only (carried through writes): skip to the page in the index
            chosen = list(session.scalars(_search_page(" AND ".join(phrases), offset, limit, descending)))
            if reverse:
                chosen.reverse()
        return total, _rows_by_rowid(session, chosen)

    ids: list[str] | None = None
    # Rows of the sort index read to reach the page, if the matches are spread evenly over it.
    walk = (offset + limit) * models
    if needles and walk <= LIKE_WALK_BUDGET * total:
        # Many matches: the first rows of the sort index, each tested, likely hold the page. Ids
        # follow their create time, so matches may bunch up elsewhere: then the index answers below.
        ids = _walk_testing(
            session, select(ModelRow.id).where(mine, *where), keys, descending, needles, offset, limit
        )
        if len(ids) < min(limit, total - offset):
            ids = None
    if (
        ids is None
        and cache_key is not None
        and cache is not None
        and generation is not None
        and total <= list_cache.IDS_PER_FILTER
    ):
        # Deep inside the matches, or few of them: read every match's sort key in order once (about
        # what this page alone costs when the matches drive) and keep them for the filter's other
        # pages and later generations.
        raw_keys = _raw_keys(page.sort_by)
        every: Select[Any]
        if on_search is not None:
            every = select(*_PG_SORTS[page.sort_by]).where(*on_search)
        elif matched is None:
            every = select(*raw_keys).where(mine, *searched)
        else:
            every = select(*raw_keys).where(
                ModelRow.account_id + 0 == account_id, _ROWID.in_(matched), *where
            )
        found = _driver_rows(session, every.order_by(*every.selected_columns))
        cache.put_keys(cache_key, generation, page.sort_by, found)
        return total, _rows_in_order(session, [key[-1] for key in _slice(found, page)])
    if ids is None:
        ids_query: Select[str]
        if on_search is not None:
            ids_query = select(_PG_SEARCH.c.id).where(*on_search)
            order = [key.desc() if descending else key.asc() for key in _PG_SORTS[page.sort_by]]
        elif matched is None:
            ids_query = select(ModelRow.id).where(mine, *searched)
        elif walk <= WALK_BUDGET * total:
            ids_query = select(ModelRow.id).where(mine, _ROWID.in_(matched), *where)
        else:
            # Few matches: read them and sort (``+ 0``: no account index walk, the matches drive).
            ids_query = select(ModelRow.id).where(
                ModelRow.account_id + 0 == account_id, _ROWID.in_(matched), *where
            )
        ids = list(session.scalars(ids_query.order_by(*order).offset(offset).limit(limit)))
    if reverse:
        ids.reverse()
    return total, _rows_in_order(session, ids)


def _driver_rows(session: Session, query: Select[Any] | CompoundSelect[Any]) -> list[SortKey]:
    """The rows of ``query`` as the driver's own tuples: tens of thousands of sort keys, read without
    a result row object built for each (a third of the cost of reading 40,000 of them). The keys'
    columns need no conversion (:data:`.model_changes.RAW_CREATE_TIME`, plain strings)."""
    result = session.connection().execute(query)
    try:
        rows: list[SortKey] = list(result.cursor.fetchall())
    finally:
        result.close()
    return rows


def _pg_matching(account_id: int, filters: Filters) -> list[ColumnElement[bool]]:
    """The filter as conditions on PostgreSQL's search table (:data:`_PG_SEARCH`)."""
    found = _PG_SEARCH.c
    where: list[ColumnElement[bool]] = [found.account_id == account_id]
    if filters.exact_name is not None:
        where.append(found.name == filters.exact_name)
    for searched, needle in ((found.name, filters.name_part), (found.id, filters.id_part)):
        if needle is not None:
            where.append(contains(searched, needle, "postgresql"))
    return where


def _total_and_keys(session: Session, query: Select[Any], most: int) -> tuple[int, list[SortKey] | None]:
    """How many rows ``query`` (a filter's sort keys, the id last) selects and, when at most ``most``,
    every one of them in ascending order, from one statement: the matches are materialised once (a CTE
    read twice) and counted; the count comes first as a row of NULL keys and the count as its id
    (NULLS FIRST), then the keys only if few enough, as the driver's own rows (no copy of each)."""
    matches = query.cte("matches")
    counted = select(func.count().label("total")).select_from(matches).cte("counted")
    leading = list(matches.c)[:-1]
    head = [_null_like(col) for col in leading] + [cast(counted.c.total, String).collate("C")]
    keys = select(*matches.c).select_from(matches.join(counted, true())).where(counted.c.total <= most)
    positions: list[ColumnElement[Any]] = [literal_column(str(k)) for k in range(1, len(matches.c) + 1)]
    statement = union_all(select(*head), keys).order_by(positions[0].asc().nulls_first(), *positions[1:])
    rows = _driver_rows(session, statement)
    total = int(rows[0][-1])
    if total > most:
        return total, None
    return total, rows[1:]


def _null_like(col: ColumnElement[Any]) -> ColumnElement[Any]:
    """A NULL of ``col``'s kind, for a row united with its rows (strings compared by code point)."""
    if isinstance(col.type, String):
        return cast(null(), String).collate("C")
    return cast(null(), DateTime)


def _walk_testing(
    session: Session,
    query: Select[str],
    keys: Sequence[InstrumentedAttribute[Any]],
    descending: bool,
    tests: list[ColumnElement[bool]],
    offset: int,
    limit: int,
) -> list[str]:
    """The page of ``query`` + ``tests`` among the first :data:`LIKE_WALK_BUDGET` rows of ``query``:
    a walk of the sort index bounded by the key of the last of those rows, so that it stops at the
    page's end (a LIMIT subquery would read all of them first)."""
    order = [key.desc() if descending else key.asc() for key in keys]
    bound = query.with_only_columns(*keys).order_by(*order).offset(LIKE_WALK_BUDGET - 1).limit(1)
    last = session.execute(bound).first()
    walk = query.where(*tests)
    if last is not None:
        walk = walk.where(tuple_(*keys) >= tuple(last) if descending else tuple_(*keys) <= tuple(last))
    return list(session.scalars(walk.order_by(*order).offset(offset).limit(limit)))


def _unfiltered_ids(session: Session, account_id: int, page: Page, total: int) -> list[str]:
    """The page's ids from the account's stretches (:mod:`.model_ranks`), in the page's order."""
    if not page.descending:
        return model_ranks.page_ids(session, account_id, page.sort_by, page.offset, page.limit)
    last = total - page.offset  # ascending positions [first, last) read backwards
    first = max(0, last - page.limit)
    ids = model_ranks.page_ids(session, account_id, page.sort_by, first, last - first)
    ids.reverse()
    return ids


def _search(query: str) -> Select[int]:
    """The rowids of the models the FTS5 query matches."""
    return select(_SEARCH.c.rowid).where(literal_column(SEARCH_TABLE).op("MATCH")(query))


def _search_page(query: str, offset: int, limit: int, descending: bool) -> Select[int]:
    """The rowids of the ``limit`` matches of the FTS5 query after the first ``offset``, in (descending)
    rowid order, which the index iterates in."""
    rowid = _SEARCH.c.rowid
    return _search(query).order_by(rowid.desc() if descending else rowid.asc()).offset(offset).limit(limit)


def _every_match(session: Session, query: str, most: int) -> array[int] | None:
    """The rowids of every match of the FTS5 query, ascending; None when there are more than ``most``.
    One JSON array built in SQLite and parsed in C: a fraction of the cost of a result row per match
    (sorted here, as an aggregate's order is not promised: already sorted, a single pass)."""
    first = _search(query).order_by(_SEARCH.c.rowid).limit(most + 1).subquery()
    joined = session.scalar(select(func.json_group_array(first.c.rowid)))
    rowids = array("q", sorted(json.loads(joined)) if joined else ())
    return None if len(rowids) > most else rowids


def _rows_by_rowid(session: Session, rowids: Sequence[int]) -> list[ModelRow]:
    """The model rows of ``rowids``, in that order."""
    rows: dict[int, ModelRow] = {}
    for batch in chunked(rowids):
        found = session.execute(select(_ROWID, ModelRow).where(_ROWID.in_(batch)))
        rows.update((rowid, row) for rowid, row in found)
    return [rows[rowid] for rowid in rowids]


_MY_COUNTER = ModelCountRow.account_id == bindparam("account")
_COUNTER = select(ModelCountRow.models, ModelCountRow.generation).where(_MY_COUNTER)
_UNORDERED = table(model_index.UNORDERED_TABLE, column("account_id", Integer))
# The same, and whether the search index's matches can be this account's models in CreateTime order
# (every model is the account's, its rowids follow CreateTime): in the same statement, not two more.
_COUNTER_AND_INDEX_FACTS = select(
    select(ModelCountRow.models).where(_MY_COUNTER).scalar_subquery(),
    select(ModelCountRow.generation).where(_MY_COUNTER).scalar_subquery(),
    ~exists().where(ModelCountRow.account_id != bindparam("account"), ModelCountRow.models > 0),
    ~exists().where(_UNORDERED.c.account_id == bindparam("account")),
)


@dataclass(frozen=True)
class _Counter:
    models: int
    generation: int | None  # None: no counter row yet, nothing cached
    sole_owner: bool = False  # every model is the account's (asked for only)
    rowid_order: bool = False  # its rowids follow its CreateTime order (asked for only)


def _account_counter(session: Session, account_id: int, index_facts: bool) -> _Counter:
    """The account's number of models and list generation, and, with ``index_facts``, what decides
    whether the search index alone answers (:func:`_index_alone`)."""
    params = {"account": account_id}
    if not index_facts:
        row = session.execute(_COUNTER, params).first()
        return _Counter(0, None) if row is None else _Counter(row.models, row.generation)
    models, generation, sole_owner, rowid_order = session.execute(_COUNTER_AND_INDEX_FACTS, params).one()
    return _Counter(models or 0, generation, bool(sole_owner), bool(rowid_order))


def _index_alone(filters: Filters, dialect: str) -> bool:
    """The filter is Contains needles that SQLite's search index answers, nothing else (its matches
    are then the filter's own if the account owns every model)."""
    needles = [needle for needle in (filters.name_part, filters.id_part) if needle is not None]
    return (
        dialect == "sqlite"
        and filters.exact_name is None
        and bool(needles)
        and all(len(needle) >= TRIGRAM for needle in needles)
    )


def _slice(ascending: Sequence[_Item], page: Page) -> list[_Item]:
    """The page of a list held in ascending order."""
    if not page.descending:
        return list(ascending[page.offset : page.offset + page.limit])
    end = max(0, len(ascending) - page.offset)
    return list(reversed(ascending[max(0, end - page.limit) : end]))


def _raw_keys(sort_by: str) -> list[ColumnElement[Any] | InstrumentedAttribute[Any]]:
    """The sort's columns as kept (:data:`.list_cache.SortKey`): create times unconverted."""
    return [RAW_CREATE_TIME if key is ModelRow.create_time else key for key in MODEL_SORTS[sort_by]]


def _kept(
    session: Session, cache: ListCache, key: FilterKey, generation: int, filters: Filters
) -> Entry | None:
    """The filter's entry at ``generation``: as kept, or carried forward through the account's
    changes since (read in this snapshot, :mod:`.model_changes`); None when neither can be."""
    entry = cache.get(key)
    if entry is None or entry.generation > generation:
        return None
    if entry.generation == generation:
        return entry
    if generation - entry.generation > list_cache.MAX_CARRY:
        return None
    changes = model_changes.since(session, key[0], entry.generation, generation)
    carried = None if changes is None else entry.carried(generation, changes, filters.matches)
    if carried is not None and changes is not None and entry.rowids is not None:
        # Rowid order is CreateTime order only while the account's rowids follow it: one of the
        # changes (a create) may have broken that (the flag's trigger).
        in_order = model_index.in_rowid_order(session, key[0])
        rowids = _carried_rowids(session, entry.rowids, changes, filters) if in_order else None
        carried = replace(carried, rowids=rowids if rowids is None or len(rowids) == carried.total else None)
    if carried is not None:
        cache.put(key, carried)
    return carried


def _carried_rowids(
    session: Session, rowids: Sequence[int], changes: Sequence[ModelChange], filters: Filters
) -> array[int] | None:
    """``rowids`` (every match, ascending, before ``changes``) after them: a model that matched before
    and no longer does, or the other way round, is looked up by id in this snapshot for its rowid.
    None after a delete (where a deleted match's rowid was is not logged, and its id could come back)."""
    if any(change.after is None for change in changes):
        return None
    first_name: dict[str, str | None] = {}  # the name before the changes, None: created since
    for change in changes:
        first_name.setdefault(change.model_id, change.before)
    now: dict[str, tuple[int, str]] = {}
    for batch in chunked(list(first_name)):
        found = session.execute(select(ModelRow.id, _ROWID, ModelRow.name).where(ModelRow.id.in_(batch)))
        now.update((model_id, (rowid, name)) for model_id, rowid, name in found)
    edited = list(rowids)
    for model_id, before in first_name.items():
        was = before is not None and filters.matches(model_id, before)
        if model_id not in now:
            return None
        rowid, name = now[model_id]
        if was == filters.matches(model_id, name):
            continue
        at = bisect_left(edited, rowid)
        there = at < len(edited) and edited[at] == rowid
        if there != was:  # not what the kept list says
            return None
        if was:
            del edited[at]
        else:
            edited.insert(at, rowid)
    return array("q", edited)


def _gram_counted(filters: Filters) -> bool:
    """A lone ModelNameContains too short for a trigram: its Total is one counter (:mod:`.model_grams`)."""
    name_part = filters.name_part
    return (
        name_part is not None
        and len(name_part) <= model_grams.GRAM
        and filters.exact_name is None
        and filters.id_part is None
    )


def _rows_in_order(session: Session, ids: Sequence[str]) -> list[ModelRow]:
    rows: dict[str, ModelRow] = {}
    for batch in chunked(ids):
        rows.update((row.id, row) for row in session.scalars(select(ModelRow).where(ModelRow.id.in_(batch))))
    return [rows[model_id] for model_id in ids]

"""Pagination, sorting and filtering shared by every List action."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, String, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from mlp_server.errors import invalid

from .base import Body
from .case_rule import fold
from .schema import Base

_Row = TypeVar("_Row", bound=Base)
_Item = TypeVar("_Item")

DEFAULT_OFFSET = 0
DEFAULT_LIMIT = 10
DEFAULT_SORT_BY = "CreateTime"
DEFAULT_SORT_ORDER = "Descend"
SORT_ORDERS = ("Ascend", "Descend")

# SortBy value -> the columns to order by; the last ones break ties so pages are deterministic.
SortKeys = Mapping[str, Sequence[InstrumentedAttribute[Any]]]


@dataclass(frozen=True)
class Page:
    offset: int
    limit: int
    sort_by: str
    descending: bool

    @classmethod
    def from_body(cls, body: Body, sorts: SortKeys) -> Page:
        """Apply the documented defaults; reject what the caller's schema check may not cover."""
        offset, limit = offset_limit(body)
        sort_by = _default(body.get("SortBy"), DEFAULT_SORT_BY)
        sort_order = _default(body.get("SortOrder"), DEFAULT_SORT_ORDER)
        if sort_by not in sorts:
            raise invalid("SortBy", f"{sort_by!r} is not one of {', '.join(sorts)}")
        if sort_order not in SORT_ORDERS:
            raise invalid("SortOrder", f"{sort_order!r} is not one of {', '.join(SORT_ORDERS)}")
        return cls(offset, limit, sort_by, sort_order == "Descend")

    def walked(self, total: int) -> tuple[Page, bool]:
        """This page of ``total`` rows as read from the nearer end: past the middle, the same rows in
        the other order (reverse them once read: the bool), so an Offset never skips more than half."""
        if self.offset + self.limit // 2 <= total // 2:
            return self, False
        end = total - self.offset
        flipped = replace(
            self, offset=max(0, end - self.limit), limit=min(self.limit, end), descending=not self.descending
        )
        return flipped, True


def offset_limit(body: Body) -> tuple[int, int]:
    offset = _default(body.get("Offset"), DEFAULT_OFFSET)
    limit = _default(body.get("Limit"), DEFAULT_LIMIT)
    for field, value in (("Offset", offset), ("Limit", limit)):
        if not isinstance(value, int) or value < 0:
            raise invalid(field, f"must be an integer >= 0, got {value!r}")
    return offset, limit


def _default(value: Any, default: Any) -> Any:
    return default if value is None else value


def fetch_page(
    session: Session,
    entity: type[_Row],
    where: Sequence[ColumnElement[bool]],
    page: Page,
    sorts: SortKeys,
) -> tuple[int, list[_Row]]:
    """``(Total before pagination, rows of the page)``."""
    total = session.scalar(select(func.count()).select_from(entity).where(*where)) or 0
    dialect = session.get_bind().dialect.name
    keys = [_by_code_point(key, dialect) for key in sorts[page.sort_by]]
    order = [key.desc() if page.descending else key.asc() for key in keys]
    stmt = select(entity).where(*where).order_by(*order).offset(page.offset).limit(page.limit)
    return total, list(session.scalars(stmt))


# Ids per IN (...) list: a page may be as long as its Limit, and SQLite caps bound parameters
# (32766 by default, 999 on old builds).
IN_CHUNK = 500


def chunked(ids: Iterable[_Item]) -> Iterator[list[_Item]]:
    """``ids`` in lists of at most :data:`IN_CHUNK` (nothing for no ids: no empty IN query)."""
    batch: list[_Item] = []
    for item in ids:
        batch.append(item)
        if len(batch) >= IN_CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _by_code_point(
    key: InstrumentedAttribute[Any], dialect: str
) -> InstrumentedAttribute[Any] | ColumnElement[Any]:
    """Text sorts by code point on every database (the store's string columns are created so on
    PostgreSQL; saying it in the query too keeps a database made before that sorting alike)."""
    if dialect == "postgresql" and isinstance(key.type, String):
        return key.collate("C")
    return key


def contains(
    column: InstrumentedAttribute[str] | ColumnElement[Any], needle: str, dialect: str
) -> ColumnElement[bool]:
    """Substring match ignoring the case of ASCII letters only, on every database: "ALPHA" finds
    "alpha", while "É" finds "É" but not "é". ``%`` and ``_`` in ``needle`` match themselves.

    That is SQLite's LIKE as it is (plain LIKE, no lower() per row: half the cost of a scan of 100,000
    names). PostgreSQL's lower() follows the locale and would fold "É" too, except under
    ``COLLATE "C"``, where it folds A-Z only; the needle is folded the same way here. A pg_trgm index
    on exactly that expression serves it (:mod:`.model_index`); on SQLite, ListModels uses the FTS5
    trigram index of that module for needles of three characters or more.
    """
    if dialect == "sqlite":
        return column.contains(needle, autoescape=True)
    return func.lower(column.collate("C")).contains(fold(needle), autoescape=True)

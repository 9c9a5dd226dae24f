"""Paging through a listing: every item of every page, with the caller's filters.

A listing is fetched page by page at growing offsets until ``Total`` items have been seen or a page
comes back empty. Items created or deleted while iterating may be missed or seen twice, as with any
offset paging (boto3's paginators have the same property)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Protocol, TypeVar

T_co = TypeVar("T_co", covariant=True)
T = TypeVar("T")

MAX_PAGE_SIZE = 100  # the document's Limit maximum: the fewest requests


class Page(Protocol[T_co]):
    """The ``Result`` of a listing: ``Total`` and one page of ``List``."""

    @property
    def total(self) -> int: ...

    @property
    def list_(self) -> Sequence[T_co]: ...


def iterate(fetch: Callable[[int], Page[T]]) -> Iterator[T]:
    """Every item, fetching the page at each offset with ``fetch(offset)``."""
    offset = 0
    while True:
        page = fetch(offset)
        yield from page.list_
        offset += len(page.list_)
        if not page.list_ or offset >= page.total:
            return


async def aiterate(fetch: Callable[[int], Awaitable[Page[T]]]) -> AsyncIterator[T]:
    """:func:`iterate` for the async API."""
    offset = 0
    while True:
        page = await fetch(offset)
        for item in page.list_:
            yield item
        offset += len(page.list_)
        if not page.list_ or offset >= page.total:
            return

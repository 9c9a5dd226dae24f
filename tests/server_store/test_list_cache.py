"""A filtered ListModels' Total and matches are kept for the filter's next pages, keyed by the account's
list generation: pages from the cache are exactly the reference's, a warm page does not count or search
again, and no write (from this store, another store on the same database, or around the store followed
by a recount) is ever answered from what was kept before it.
"""

from __future__ import annotations

import itertools
import string
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from mlp_server.store import Store, list_cache, model_listing
from mlp_server.store.list_cache import Entry, ListCache
from mlp_server.store.model_index import recount

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register, sent_statements
from .test_list_scale import _ids

NAMES = ["resnet-a", "ResNet-b", "bert", "resnet-c", "gpt", "RESNET-d", "resnet-e", "vit", "resnet-f"]
FILTERS: list[dict[str, Any]] = [
    {"ModelNameContains": "resnet"},
    {"ModelNameContains": "s"},  # one character: no index
    {"ModelNameContains": "zzz"},
    {"ModelName": "bert"},
    {"ModelNameContains": "net", "IdContains": "m-"},
]


def _fill(store: Store, clock: FakeClock) -> None:
    for k, name in enumerate(NAMES):
        clock.tick(1 if k % 3 else 0)  # ties on CreateTime
        register(store, name=name)
    register(store, OTHER_ACCOUNT, name="resnet-other")


def _reference(store: Store, body: dict[str, Any]) -> list[str]:
    """Ids by the store's rules computed in Python: exact name; Contains with ASCII case ignored."""
    with store.engine.connect() as conn:
        query = text("SELECT id, name, create_time FROM models WHERE account_id = :a")
        rows = conn.execute(query, {"a": ACCOUNT}).all()
    fold = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
    kept = [
        row
        for row in rows
        if body.get("ModelName", row.name) == row.name
        and body.get("ModelNameContains", "").translate(fold) in row.name.translate(fold)
        and body.get("IdContains", "").translate(fold) in row.id.translate(fold)
    ]
    if body.get("SortBy") == "ModelName":
        kept.sort(key=lambda row: (row.name, row.create_time, row.id))
    else:
        kept.sort(key=lambda row: (row.create_time, row.id))
    ids = [row.id for row in kept]
    return ids if body.get("SortOrder") == "Ascend" else ids[::-1]


def _check_every_page(store: Store) -> None:
    for body, sort_by, order in itertools.product(
        FILTERS, ("CreateTime", "ModelName"), ("Ascend", "Descend")
    ):
        full = {**body, "SortBy": sort_by, "SortOrder": order}
        expected = _reference(store, full)
        # Deep offsets first: they read and keep every match.
        for offset, limit in itertools.product(range(len(expected) + 1, -1, -1), (1, 3)):
            page = _ids(store, {**full, "Offset": offset, "Limit": limit})
            assert page == (len(expected), expected[offset : offset + limit]), (full, offset, limit)


def test_pages_from_the_cache_are_the_reference_through_writes(store: Store, clock: FakeClock) -> None:
    _fill(store, clock)
    _check_every_page(store)
    doomed = _ids(store, {"ModelNameContains": "resnet"})[1][2]
    store.delete_model(ACCOUNT, {"ModelID": doomed})
    _check_every_page(store)
    renamed = _ids(store, {"ModelNameContains": "vit"})[1][0]
    store.update_model(ACCOUNT, {"ModelID": renamed, "ModelName": "resnet-renamed"})
    _check_every_page(store)
    clock.tick(-100)  # older than every other model: first in CreateTime order
    register(store, name="resnet-old")
    register(store, OTHER_ACCOUNT, name="resnet-other-2")  # another account's writes change nothing here
    _check_every_page(store)


def test_a_warm_page_neither_counts_nor_searches(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A page inside the matches (here: no walk of the sort index testing each row, which serves the
    # pages near either end at any size) reads and keeps every match; the other pages reuse them.
    monkeypatch.setattr(model_listing, "LIKE_WALK_BUDGET", 0)
    _fill(store, clock)
    body = {"ModelNameContains": "resnet", "Offset": 3, "Limit": 2}
    with sent_statements(store) as cold:
        first = _ids(store, body)
    with sent_statements(store) as warm:
        again = _ids(store, body)
        other_page = _ids(store, {**body, "Offset": 1, "SortOrder": "Ascend"})
    assert first == again and first[0] == 6
    assert other_page[1] == _reference(store, {**body, "SortOrder": "Ascend"})[1:3]

    def searching(statement: str) -> bool:  # a count of the models, or the filter applied
        lowered = " ".join(statement.lower().split())
        counting = "count(*)" in lowered and "from models " in lowered
        searched = "models_search" in lowered.replace("models_search_unordered", "")  # not the flag
        return counting or " like " in lowered or searched

    assert any(searching(statement) for statement, _ in cold)
    assert not [statement for statement, _ in warm if searching(statement)]


def test_renaming_to_the_same_name_keeps_the_generation(store: Store, clock: FakeClock) -> None:
    _fill(store, clock)

    def generation() -> int:
        with store.engine.connect() as conn:
            query = text("SELECT generation FROM model_counts WHERE account_id = :a")
            found: int = conn.execute(query, {"a": ACCOUNT}).scalar_one()
            return found

    start = generation()
    assert start == len(NAMES)  # one per create
    model_id = _ids(store, {"ModelName": "gpt"})[1][0]
    store.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": "gpt"})
    assert generation() == start
    store.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": "gpt-2"})
    store.delete_model(ACCOUNT, {"ModelID": model_id})
    assert generation() == start + 2


def test_writes_through_another_store_and_around_the_store(
    db_url: str, store: Store, clock: FakeClock
) -> None:
    # Two stores on one database, as two `mlp serve` on one PostgreSQL (or one SQLite folder): each keeps
    # its own cache, and the generation read in the list's own snapshot tells it what it kept is old.
    _fill(store, clock)
    other = Store(db_url, clock=clock)
    try:
        body = {"ModelNameContains": "resnet", "Offset": 4, "Limit": 2}
        assert _ids(store, body)[0] == _ids(other, body)[0] == 6
        register(other, name="resnet-new")
        assert _ids(store, body) == (7, _reference(store, body)[4:6])
        victim = _ids(store, {"ModelName": "bert"})[1][0]
        assert _ids(other, {"ModelName": "bert"})[0] == 1
        store.delete_model(ACCOUNT, {"ModelID": victim})
        assert _ids(other, {"ModelName": "bert"}) == (0, [])
        target = _ids(other, {"ModelNameContains": "resnet-a"})[1][0]
        assert _ids(store, {"ModelNameContains": "zzz", "Offset": 0})[0] == 0
        other.update_model(ACCOUNT, {"ModelID": target, "ModelName": "zzz"})
        assert _ids(store, {"ModelNameContains": "zzz"}) == (1, [target])
        # Rows written around the store, then counted again (as bulk loads do).
        with store.engine.begin() as conn:
            conn.execute(text("DELETE FROM model_versions WHERE model_id = :m"), {"m": target})
            conn.execute(text("DELETE FROM models WHERE id = :m"), {"m": target})
            recount(conn)
        assert _ids(store, {"ModelNameContains": "zzz"}) == (0, [])
        assert _ids(other, {"ModelNameContains": "resnet"})[0] == 6
    finally:
        other.close()


def test_the_cache_keeps_only_the_newest_generation_and_stays_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = ListCache()
    key = (1, None, "x", None)
    a, b = ("t1", "a"), ("t2", "b")
    cache.put_keys(key, 5, "CreateTime", [a, b])
    entry = cache.get(key)
    assert entry is not None and entry.generation == 5 and entry.total == 2
    assert entry.keys == {"CreateTime": (a, b)}
    cache.put_total(key, 5, 2)  # the same generation: added to what is kept
    assert cache.get(key) == entry
    cache.put_keys(key, 4, "ModelName", [("a", "t1", "a")])  # a snapshot older than one seen: not kept
    assert cache.get(key) == entry
    cache.put_total((2, None, "x", None), 1, 3)  # another account
    cache.put_total(key, 6, 1)  # newer: replaces what was kept for the filter
    assert cache.get(key) == Entry(6, 1) and cache.get((2, None, "x", None)) == Entry(1, 3)
    monkeypatch.setattr(list_cache, "MAX_IDS", 5)
    cache.put_keys((1, None, "a", None), 6, "CreateTime", [("t", "1"), ("t", "2"), ("t", "3")])
    cache.put_keys((1, None, "b", None), 6, "CreateTime", [("t", "4"), ("t", "5"), ("t", "6")])  # 6 > 5
    assert cache.get((1, None, "a", None)) is None
    assert cache.get((1, None, "b", None)) is not None
    cache.put_keys((1, None, "c", None), 6, "CreateTime", [("t", c) for c in "123456"])  # more than all
    assert cache.get((1, None, "c", None)) is None
    monkeypatch.setattr(list_cache, "MAX_ENTRIES", 0)
    cache.put_total((1, None, "z", None), 7, 1)
    assert cache.get((1, None, "z", None)) is None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_lists_during_writes_from_other_engines(db_url: str, store: Store, clock: FakeClock) -> None:
    # Writers in two other stores while this one lists: every answer is one snapshot's (its Total is
    # the number of its matches), and once the writers stop the answer is the reference's.
    _fill(store, clock)
    writers = [Store(db_url, clock=clock) for _ in range(2)]
    body = {"ModelNameContains": "resnet", "Limit": 1000}
    try:

        def write(k: int) -> None:
            mine = writers[k]
            ids = [register(mine, name=f"resnet-w{k}-{n}")[0] for n in range(8)]
            for model_id in ids[::2]:
                mine.delete_model(ACCOUNT, {"ModelID": model_id})
            for model_id in ids[1::4]:
                mine.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": f"gone-{model_id[-4:]}"})

        with ThreadPoolExecutor(2) as pool:
            running = [pool.submit(write, k) for k in range(2)]
            while not all(job.done() for job in running):
                for offset in (0, 2):
                    total, page = _ids(store, {**body, "Offset": offset})
                    assert len(page) == max(0, total - offset)
            for job in running:
                job.result()
    finally:
        for writer in writers:
            writer.close()
    for offset in (0, 2):
        assert _ids(store, {**body, "Offset": offset}) == (6 + 4, _reference(store, body)[offset:])

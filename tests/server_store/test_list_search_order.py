"""A CreateTime page of a substring filter read from the search index in rowid order (SQLite): used
only while the account owns every model and its rowids follow its (create_time, id) order, which the
``models_search_unordered`` triggers and the recount keep true; the pages always equal the reference
(on PostgreSQL, which has no such path, too).
"""

from __future__ import annotations

import itertools
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from mlp_server.store import Store, list_cache, model_listing, sqlite_url
from mlp_server.store.model_index import UNORDERED_TABLE, recount

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register, sent_statements
from .test_list_scale import NAMES, _ids, _like_reference
from .test_migrations import legacy_data_dir

# Needles the index answers (3+ characters): non-ASCII letters, LIKE's wildcards, FTS5 syntax.
NEEDLES = ["resnet", "RESNET", "ésn", "ÉSN", "\u212aEL", '"hi"', "a*b", "0% ", "r_s", "_sc", "near(", "dup"]


def _index_pages(store: Store) -> AbstractContextManager[list[tuple[str, Any]]]:
    """The statements that read a page of the search index's matches in rowid order."""
    return sent_statements(store, lambda statement: "ORDER BY models_search.rowid" in statement)


def _unordered(store: Store) -> set[int]:
    if store.dialect != "sqlite":
        return set()  # no such table: PostgreSQL has no rowid order
    with store.engine.connect() as conn:
        return set(conn.execute(text(f"SELECT account_id FROM {UNORDERED_TABLE}")).scalars())


def _out_of_order(store: Store) -> set[int]:
    """The accounts whose rowid order differs from their (create_time, id) order, computed in Python."""
    if store.dialect != "sqlite":
        return set()
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT account_id, rowid, create_time, id FROM models")).all()
    found = set()
    for account in {row[0] for row in rows}:
        mine = [row for row in rows if row[0] == account]
        if sorted(mine, key=lambda row: row[1]) != sorted(mine, key=lambda row: (row[2], row[3])):
            found.add(account)
    return found


def _check_pages(store: Store) -> None:
    """Every CreateTime page of each needle (name, id, both), both orders, equals the reference."""
    model_id = _ids(store, {"Limit": 1})[1][0]
    bodies: list[dict[str, Any]] = [{"ModelNameContains": needle} for needle in NEEDLES]
    bodies += [
        {"IdContains": model_id[2:9]},
        {"IdContains": "m-2"},
        {"ModelNameContains": "net", "IdContains": "M-"},
    ]
    for body, order in itertools.product(bodies, ("Ascend", "Descend")):
        full = {**body, "SortOrder": order, "Limit": 100}
        expected = _like_reference(store, {**body, "SortOrder": order})
        if order == "Ascend":
            expected.reverse()  # the reference lists newest first
        n = len(expected)  # both ends, the middle, past the end
        offsets = sorted({*range(min(n, 4)), n // 2, *range(max(0, n - 3), n + 2)})
        for offset, limit in itertools.product(offsets, (1, 3)):
            page = _ids(store, {**full, "Offset": offset, "Limit": limit})
            assert page == (len(expected), expected[offset : offset + limit]), (full, offset, limit)


@pytest.mark.parametrize(
    ("db_url", "cached", "at_once"),
    # Every match's rowid read at once (kept or not), or counted and each page skipped to in the index
    # (for more than 2 matches; for all of them). PostgreSQL, which has no such path: the reference.
    [
        ("sqlite", False, 50_000),
        ("sqlite", True, 50_000),
        ("sqlite", True, 2),
        ("sqlite", False, 0),
        ("postgresql", True, 50_000),
    ],
    indirect=["db_url"],
)
def test_index_pages_equal_the_reference_through_writes(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, cached: bool, at_once: int
) -> None:
    if not cached:
        monkeypatch.setattr(list_cache, "MAX_ENTRIES", 0)
    monkeypatch.setattr(model_listing, "ROWIDS_AT_ONCE", at_once)
    sqlite = store.dialect == "sqlite"
    ids = []
    for name in NAMES:
        clock.tick(1)  # distinct times: rowid order is CreateTime order
        ids.append(register(store, name=name)[0])
    with _index_pages(store) as used:
        _check_pages(store)
    assert bool(used) == sqlite and _unordered(store) == set()
    # Renames and deletes keep the order: the index still serves the pages.
    store.update_model(ACCOUNT, {"ModelID": ids[3], "ModelName": "resnet-renamed"})
    store.update_model(ACCOUNT, {"ModelID": ids[0], "ModelName": "plain"})
    store.delete_model(ACCOUNT, {"ModelID": ids[1]})
    store.delete_model(ACCOUNT, {"ModelID": ids[-1]})  # the highest rowid: SQLite may hand it out again
    clock.tick(1)
    register(store, name="ResNet-new")
    with _index_pages(store) as used:
        _check_pages(store)
    assert bool(used) == sqlite and _unordered(store) == set()

    # A clock set back: the new model's rowid is after models created later. Not from the index.
    clock.tick(-3600)
    old = register(store, name="resnet-from-the-past")[0]
    assert _unordered(store) == ({ACCOUNT} if sqlite else set())
    with _index_pages(store) as used:
        _check_pages(store)
    assert not used
    with store.engine.begin() as conn:
        recount(conn)
    assert _unordered(store) == _out_of_order(store) == ({ACCOUNT} if sqlite else set())
    # Gone again, the recount finds the order restored.
    store.delete_model(ACCOUNT, {"ModelID": old})
    with store.engine.begin() as conn:
        recount(conn)
    assert _unordered(store) == set()
    with _index_pages(store) as used:
        _check_pages(store)
    assert bool(used) == sqlite


def test_another_account_turns_the_index_pages_off(store: Store, clock: FakeClock) -> None:
    for name in NAMES:
        clock.tick(1)
        register(store, name=name)
    register(store, OTHER_ACCOUNT, name="resnet-other")
    clock.tick(-3600)  # the other account's disorder is its own
    register(store, OTHER_ACCOUNT, name="other-from-the-past")
    assert _unordered(store) == ({OTHER_ACCOUNT} if store.dialect == "sqlite" else set())
    with _index_pages(store) as used:
        _check_pages(store)
    assert not used  # the index's matches hold the other account's model
    assert _ids(store, {"ModelNameContains": "resnet"})[0] == len(
        _like_reference(store, {"ModelNameContains": "resnet"})
    )
    assert store.list_models(OTHER_ACCOUNT, {"ModelNameContains": "RESNET"})["Total"] == 1


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_triggers_flag_exactly_what_breaks_the_order(store: Store, clock: FakeClock) -> None:
    # Two models created in the same instant: their order is their ids', whatever their rowids say.
    tied = [register(store, name="tie-a")[0], register(store, name="tie-b")[0]]
    assert _unordered(store) == _out_of_order(store) == ({ACCOUNT} if tied[1] < tied[0] else set())
    with store.engine.begin() as conn:
        conn.execute(text(f"DELETE FROM {UNORDERED_TABLE}"))
        conn.execute(text("DELETE FROM models WHERE id = :id"), {"id": min(tied)})
    # Rows written around the store: a later time inserted first, an explicit rowid, a key changed.
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO models (id, account_id, name, next_version, create_time) "
                "VALUES ('m-x', :a, 'resnet-x', 1, '2999-01-01 00:00:00.000000')"
            ),
            {"a": OTHER_ACCOUNT},
        )
        conn.execute(
            text(
                "INSERT INTO models (rowid, id, account_id, name, next_version, create_time) "
                "VALUES (1000000, 'm-y', :a, 'resnet-y', 1, '3000-01-01 00:00:00.000000')"
            ),
            {"a": OTHER_ACCOUNT + 1},
        )
    assert _unordered(store) == set()  # each in order so far
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO models (rowid, id, account_id, name, next_version, create_time) "
                "VALUES (999999, 'm-z', :a, 'resnet-z', 1, '3001-01-01 00:00:00.000000')"
            ),
            {"a": OTHER_ACCOUNT + 2},
        )
    assert _unordered(store) == {OTHER_ACCOUNT + 2}  # a later rowid exists: flagged
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE models SET create_time = '1999-01-01 00:00:00.000000' WHERE id = 'm-x'"))
    assert _unordered(store) == {OTHER_ACCOUNT, OTHER_ACCOUNT + 2}
    with store.engine.begin() as conn:
        recount(conn)
    assert _unordered(store) == _out_of_order(store) == set()  # one model each: in order after all


def test_an_upgraded_database_gets_the_same_search_objects_and_order(tmp_path: Path) -> None:
    data_dir = legacy_data_dir(tmp_path)
    upgraded = Store(sqlite_url(data_dir / "mlp.sqlite3"), upgrade=True)
    fresh = Store(sqlite_url(tmp_path / "new.sqlite3"))
    try:

        def search_objects(store: Store) -> list[tuple[str, str, str]]:
            with store.engine.connect() as conn:
                query = (
                    "SELECT type, name, sql FROM sqlite_master WHERE name LIKE 'models_search%' ORDER BY name"
                )
                return [(row[0], row[1], " ".join(str(row[2]).split())) for row in conn.execute(text(query))]

        assert search_objects(upgraded) == search_objects(fresh)
        assert _unordered(upgraded) == _out_of_order(upgraded)
        resnet = upgraded.list_models(ACCOUNT, {"ModelNameContains": "ESNe"})
        assert resnet["Total"] == 1 and resnet["List"][0]["ModelName"] == "resnet"
    finally:
        upgraded.close()
        fresh.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_first_request_reads_every_rowid_once_and_the_next_pages_none(
    store: Store, clock: FakeClock
) -> None:
    for name in NAMES:
        clock.tick(1)
        register(store, name=name)
    body = {"ModelNameContains": "dup", "Limit": 1}
    expected = _like_reference(store, body)
    with _index_pages(store) as first:
        assert _ids(store, body) == (3, expected[:1])
    with _index_pages(store) as next_pages:
        for offset in range(4):
            for order in ("Ascend", "Descend"):
                want = expected if order == "Descend" else expected[::-1]
                page = _ids(store, {**body, "Offset": offset, "SortOrder": order})
                assert page == (3, want[offset : offset + 1])
    assert len(first) == 1 and "json_group_array" in first[0][0] and not next_pages
    # Creates and renames carry the rowids forward (each changed model's rowid looked up by id) ...
    clock.tick(1)
    created = register(store, name="dup")[0]
    plain = _ids(store, {"ModelNameContains": "straß"})[1][0]
    store.update_model(ACCOUNT, {"ModelID": plain, "ModelName": "DUP-renamed"})
    store.update_model(ACCOUNT, {"ModelID": expected[0], "ModelName": "gone"})
    expected = _like_reference(store, body)
    assert created in expected and plain in expected and len(expected) == 4
    with _index_pages(store) as after:
        for offset in range(5):
            assert _ids(store, {**body, "Offset": offset}) == (4, expected[offset : offset + 1])
    assert not after
    # ... a delete does not: the carried Total, and each page skipped to in the index.
    store.delete_model(ACCOUNT, {"ModelID": created})
    expected = _like_reference(store, body)
    with _index_pages(store) as after_delete:
        assert _ids(store, {**body, "Offset": 1}) == (3, expected[1:2])
    assert len(after_delete) == 1 and "json_group_array" not in after_delete[0][0]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_warm_page_sends_only_its_rows(store: Store, clock: FakeClock) -> None:
    """A kept filter's next pages read the counter and their rows: no sole-owner count, no order flag.
    Then another account's first model (the kept matches are still this account's) and a create that
    breaks the rowid order (the kept rowids are dropped on the carry): every page still the reference."""
    for name in NAMES:
        clock.tick(1)
        register(store, name=name)
    body = {"ModelNameContains": "dup", "Limit": 1}

    def pages(expected: list[str] | None = None) -> None:
        expected = _like_reference(store, body) if expected is None else expected
        for offset, order in itertools.product(range(len(expected) + 1), ("Ascend", "Descend")):
            want = expected if order == "Descend" else expected[::-1]
            got = _ids(store, {**body, "Offset": offset, "SortOrder": order})
            assert got == (len(expected), want[offset : offset + 1])

    pages()  # the first request keeps every match's rowid
    reference = _like_reference(store, body)
    with sent_statements(store) as warm:
        pages(reference)
    flat = [" ".join(statement.split()) for statement, _ in warm if not statement.startswith("BEGIN")]
    # Per page: the counter (with the sole-owner and order facts in the same statement) and its rows.
    counters = [s for s in flat if "FROM model_counts" in s]
    rows = [s for s in flat if "FROM models WHERE models.rowid IN" in s]
    matches = len(reference)
    assert (len(counters), len(rows)) == (2 * (matches + 1), 2 * matches), flat
    assert len(flat) == len(counters) + len(rows), flat
    assert not [s for s in flat if " MATCH " in s], flat  # nor the search index
    register(store, OTHER_ACCOUNT, name="dup-other")
    with sent_statements(store) as after_other:
        pages()
    assert not [s for s, _ in after_other if " MATCH " in s]  # still the kept rowids
    assert store.list_models(OTHER_ACCOUNT, {"ModelNameContains": "dup"})["Total"] == 1
    other = store.list_models(OTHER_ACCOUNT, {})["List"][0]["ModelID"]
    store.delete_model(OTHER_ACCOUNT, {"ModelID": other})
    clock.tick(-3600)  # a create before the newest: the rowids no longer follow CreateTime
    register(store, name="dup-from-the-past")
    assert _unordered(store) == {ACCOUNT}
    with _index_pages(store) as used:
        pages()
    assert not used

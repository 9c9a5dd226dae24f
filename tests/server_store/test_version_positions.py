"""Pages of a model's versions found by arithmetic on the numbers (``version_positions``): every page, in
both sorts and both orders, equals the Python reference through registrations, ties, a clock set back,
deletes of every shape (one, sweeps, every other one, the highest), racing registrations and deletes from
several stores and rows written around the store; the kept runs of holes and the order flag equal what
the recount computes from the versions table; a deep page skips nothing.
"""

from __future__ import annotations

import itertools
import random
from datetime import timedelta
from typing import Any

from sqlalchemy import text

from mlp_server.store import Store
from mlp_server.store.model_index import recount

from .helpers import (
    ACCOUNT,
    FakeClock,
    delete_version,
    race_deletes_and_registrations,
    register,
    sent_statements,
)

SORTS = list(itertools.product(("CreateTime", "ModelVersion"), ("Ascend", "Descend")))


def _reference(store: Store, model_id: str, sort_by: str, order: str) -> list[int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT version, create_time FROM model_versions WHERE model_id = :m"), {"m": model_id}
        ).all()
    key = (lambda r: r[0]) if sort_by == "ModelVersion" else (lambda r: (r[1], r[0]))
    return [r[0] for r in sorted(rows, key=key, reverse=order == "Descend")]


def _kept(store: Store) -> tuple[set[tuple[str, int, int]], dict[str, Any]]:
    """The runs of holes and each model's order flag, as stored."""
    with store.engine.connect() as conn:
        runs = {tuple(r) for r in conn.execute(text("SELECT model_id, low, high FROM model_version_holes"))}
        flags = dict(conn.execute(text("SELECT id, last_version_time FROM models")).all())
    return runs, flags


def _runs_below(store: Store) -> set[tuple[str, int, int, int]]:
    """The runs with how many versions each has below it."""
    with store.engine.connect() as conn:
        query = text("SELECT model_id, low, high, versions_below FROM model_version_holes")
        return {tuple(r) for r in conn.execute(query)}


def _check_kept(store: Store) -> None:
    """The runs kept equal the recount's; a flag kept may say "not known" where the recount finds the
    order again (a deleted version took the disorder with it), never the other way."""
    runs, flags = _runs_below(store), _kept(store)[1]
    with store.engine.begin() as conn:
        recount(conn)
    counted_runs, counted_flags = _runs_below(store), _kept(store)[1]
    assert runs == counted_runs
    with store.engine.connect() as conn:
        numbers = {tuple(r) for r in conn.execute(text("SELECT model_id, version FROM model_versions"))}
    for model_id, low, _, below in runs:  # and each says what the versions table does
        assert below == sum(1 for m, n in numbers if m == model_id and n < low)
    for model_id, flag in flags.items():
        if flag is not None:
            assert counted_flags[model_id] is not None, model_id


def _check_pages(store: Store, model_id: str, limits: tuple[int, ...] = (0, 1, 3, 10)) -> None:
    for sort_by, order in SORTS:
        expected = _reference(store, model_id, sort_by, order)
        total = len(expected)
        for offset, limit in itertools.product(range(total + 2), limits):
            body = {
                "ModelID": model_id,
                "SortBy": sort_by,
                "SortOrder": order,
                "Offset": offset,
                "Limit": limit,
            }
            got = store.list_model_versions(ACCOUNT, body)
            assert got["Total"] == total
            assert [v["ModelVersion"] for v in got["List"]] == expected[offset : offset + limit], body


def test_pages_through_deletes_of_every_shape(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    for k in range(159):
        if k % 3:  # ties in CreateTime, broken by the number
            clock.tick()
        register(store, model_id=model_id)
    _check_pages(store, model_id)
    # Every other one of 3..141 (more runs than one read of them holds), a sweep of 150..155, the highest.
    for number in [*range(3, 142, 2), *range(150, 156), 160]:
        delete_version(store, model_id, number)
    _check_kept(store)
    _check_pages(store, model_id)
    # Gaps closed from both sides: runs merge.
    for number in (142, 144, 146, 148, 147, 145, 143, 149, 1, 2, 159):
        delete_version(store, model_id, number)
    runs, _ = _kept(store)
    assert (model_id, 141, 155) in runs and (model_id, 1, 3) in runs and (model_id, 159, 160) in runs
    _check_kept(store)
    _check_pages(store, model_id, (1, 10))
    # Registrations after the deletes: the new numbers are the highest.
    for _ in range(3):
        clock.tick()
        register(store, model_id=model_id)
    _check_kept(store)
    _check_pages(store, model_id, (1, 10))


def test_a_clock_set_back_reads_create_time_pages_from_their_index(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    other, _ = register(store, name="other")
    for _ in range(20):
        clock.tick()
        register(store, model_id=model_id)
        register(store, model_id=other)
    assert all(flag is not None for flag in _kept(store)[1].values())
    clock.set(clock.now - timedelta(seconds=30))
    register(store, model_id=model_id)
    delete_version(store, model_id, 4)
    flags = _kept(store)[1]
    assert flags[model_id] is None and flags[other] is not None
    _check_pages(store, model_id)
    _check_pages(store, other, (1, 10))
    _check_kept(store)
    # Deleting the version that broke the order: the recount finds the order again, and then uses it.
    delete_version(store, model_id, 22)
    with store.engine.begin() as conn:
        recount(conn)
    assert _kept(store)[1][model_id] is not None
    _check_pages(store, model_id, (1, 10))


def test_rows_written_around_the_store_are_counted_again(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    with store.engine.begin() as conn:
        for number in [n for n in range(2, 90) if n % 7 and n not in (40, 41, 42)]:
            conn.execute(
                text(
                    "INSERT INTO model_versions (id, model_id, account_id, version, model_format, "
                    "model_type, path, source_type, description, create_time) "
                    "VALUES (:id, :m, :a, :n, 'ONNX', 'ONNX:1.0', :p, 'TOS', '', :t)"
                ),
                {
                    "id": f"{model_id}-{number}",
                    "m": model_id,
                    "a": ACCOUNT,
                    "n": number,
                    "p": f"tos://b/{number}/",
                    # 2021-08-12 07:07:50 + n seconds, in the stored text form of both databases
                    "t": (clock.now + timedelta(seconds=number)).replace(tzinfo=None),
                },
            )
        conn.execute(text("UPDATE models SET next_version = 95 WHERE id = :m"), {"m": model_id})
        recount(conn)
    runs, flags = _kept(store)
    assert (model_id, 40, 42) in runs and (model_id, 90, 94) in runs and flags[model_id] is not None
    _check_pages(store, model_id)
    clock.tick(200)
    assert register(store, model_id=model_id)[1] == 95
    _check_kept(store)
    _check_pages(store, model_id, (1, 10))


def test_a_deep_page_skips_nothing(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    for _ in range(199):
        clock.tick()
        register(store, model_id=model_id)
    for number in (5, 6, 7, 50, 120):
        delete_version(store, model_id, number)
    for sort_by, order in SORTS:
        body = {"ModelID": model_id, "SortBy": sort_by, "SortOrder": order, "Offset": 90}
        with sent_statements(store) as seen:
            got = store.list_model_versions(ACCOUNT, body)
        assert [v["ModelVersion"] for v in got["List"]] == _reference(store, model_id, sort_by, order)[90:100]
        flat = [" ".join(s.upper().split()) for s, _ in seen]
        # SQLite's LIMIT comes with an OFFSET of 0; nothing else is skipped, nothing counted.
        skips = [s for s, p in seen if "OFFSET" in s and not (isinstance(p, tuple) and p[-1] == 0)]
        assert not skips and not [s for s in flat if "COUNT(" in s], flat
        pages = [s for s in flat if s.startswith("SELECT") and "FROM MODEL_VERSIONS " in s]
        assert len(pages) == 1 and "LIMIT" in pages[0], pages
        if store.engine.dialect.name == "sqlite":
            with store.engine.connect() as conn:
                statement, parameters = next((s, p) for s, p in seen if "FROM model_versions " in s)
                plan = [r[-1] for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
            assert len(plan) == 1 and "(model_id=? AND version" in plan[0], plan


def test_racing_registrations_and_deletes_from_several_stores(db_url: str, store: Store) -> None:
    """Real clocks (the racers' create times may land out of their numbers' order) and four stores."""
    model_id, _ = register(store)
    for _ in range(39):
        register(store, model_id=model_id)
    writers = [Store(db_url) for _ in range(4)]
    doomed = random.Random(15).sample(range(2, 41), 24)
    try:  # two deleters of the same versions, in different orders
        gone = race_deletes_and_registrations(writers, model_id, (doomed, doomed[::-1]), 8)
    finally:
        for writer in writers:
            writer.close()
    assert sorted(gone) == sorted(doomed)
    flag = _kept(store)[1][model_id]
    if flag is not None:  # said ordered: it is
        assert _reference(store, model_id, "CreateTime", "Ascend") == _reference(
            store, model_id, "ModelVersion", "Ascend"
        )
    _check_kept(store)
    _check_pages(store, model_id, (1, 7))


def test_a_deleted_model_takes_its_runs(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    for _ in range(5):
        register(store, model_id=model_id)
    delete_version(store, model_id, 3)
    assert _kept(store)[0] == {(model_id, 3, 3)}
    store.delete_model(ACCOUNT, {"ModelID": model_id})
    assert _kept(store) == (set(), {})

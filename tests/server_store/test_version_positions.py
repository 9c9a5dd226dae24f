"""Pages of a model's versions found by arithmetic on the numbers (``version_positions``): every page, in
both sorts and both orders, equals the Python reference through registrations, ties, a clock set back,
deletes of every shape (one, sweeps, every other one, the highest), racing registrations and deletes from
several stores and rows written around the store; the kept runs of holes and the order flag equal what
the recount computes from the versions table; a deep page skips nothing.
"""

from __future__ import annotations

import copy
import itertools
import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, text

from mlp_server.store import Store
from mlp_server.store.ids import wire_time
from mlp_server.store.model_index import recount
from mlp_server.store.models import RACE_MARGIN, _take_version_number
from mlp_server.store.schema import VersionRow

from .helpers import (
    ACCOUNT,
    BASE_TIME,
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


def _create_times(store: Store, model_id: str) -> list[tuple[int, datetime]]:
    """(number, create time) of each version, typed (aware UTC), by number."""
    query = select(VersionRow.version, VersionRow.create_time).where(VersionRow.model_id == model_id)
    with store.engine.connect() as conn:
        return [(r[0], r[1]) for r in conn.execute(query.order_by(VersionRow.version))]


def test_racing_registrations_keep_the_create_time_order(db_url: str, store: Store) -> None:
    """Real clocks, four stores registering into one model at once: each reads its clock before it waits
    for the model row's lock, so without the version taking the last one's time when it lands a little
    before it, the numbers' order and the create times' part (on PostgreSQL, 16-21 times in 100)."""
    model_id, _ = register(store)
    writers = [Store(db_url) for _ in range(4)]
    start = threading.Barrier(4)

    def work(writer: Store) -> None:
        start.wait()
        for _ in range(25):
            register(writer, model_id=model_id)

    try:
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(work, writers))
    finally:
        for writer in writers:
            writer.close()
    times = _create_times(store, model_id)
    assert [n for n, _ in times] == list(range(1, 102))
    assert all(earlier <= later for (_, earlier), (_, later) in itertools.pairwise(times)), times
    assert _kept(store)[1][model_id] is not None
    _check_kept(store)
    _check_pages(store, model_id, (1, 7))


def test_a_step_back_inside_the_margin_ties_and_a_larger_one_drops_the_flag(
    store: Store, clock: FakeClock
) -> None:
    model_id, _ = register(store)
    clock.tick()
    register(store, model_id=model_id)
    last = clock.now
    # A racer's clock read (or a step back) under RACE_MARGIN: the version takes the last one's time.
    clock.set(last - RACE_MARGIN + timedelta(microseconds=1))
    assert register(store, model_id=model_id)[1] == 3
    assert _kept(store)[1][model_id] is not None
    got = store.get_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-3"})
    assert got["CreateTime"] == wire_time(last) == "2021-08-12T07:07:51+00:00"
    assert [t for _, t in _create_times(store, model_id)][1:] == [last] * 2
    # A step back of the margin or more is a clock set back: the version keeps its clock's time and the
    # model's CreateTime pages walk their index from now on, also once the clock is ahead again.
    clock.set(last - RACE_MARGIN)
    assert register(store, model_id=model_id)[1] == 4
    assert _kept(store)[1][model_id] is None
    assert _create_times(store, model_id)[-1][1] == last - RACE_MARGIN
    clock.set(last + timedelta(seconds=5))
    register(store, model_id=model_id)
    assert _kept(store)[1][model_id] is None
    _check_kept(store)
    _check_pages(store, model_id)


class _NoReturning:
    """A connection whose dialect says it has no UPDATE ... RETURNING (the other path of
    ``_take_version_number``), running its statements on the real one."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.dialect = copy.copy(conn.dialect)
        self.dialect.update_returning = False

    def execute(self, statement: Any, parameters: Any) -> Any:
        return self._conn.execute(statement, parameters)


def test_both_ways_of_taking_a_number_decide_the_same_time(store: Store, clock: FakeClock) -> None:
    """RETURNING and SELECT ... FOR UPDATE then UPDATE: the same numbers, create times and flags, for a
    clock that goes on, ties, steps back a little, steps back a lot, and goes on after that."""
    # Seconds after the model's creation: on, a tie, racers 0.4 and 0.999 s behind, on, a step back of
    # the margin (NULL for good), further back, ahead again.
    clocks = [1.0, 1.0, 0.6, 0.001, 2.5, 1.5, -3.0, 5.0]
    seen: dict[bool, list[tuple[int, datetime, datetime | None]]] = {}
    for returning in (True, False):
        clock.set(BASE_TIME)
        model_id, _ = register(store)
        for after in clocks:
            now = BASE_TIME + timedelta(seconds=after)
            with store.engine.begin() as conn:
                taker = conn if returning else _NoReturning(conn)
                number, moment = _take_version_number(taker, ACCOUNT, model_id, now)
            flag = _kept(store)[1][model_id]
            seen.setdefault(returning, []).append((number, moment, flag))
    assert seen[True] == seen[False]
    taken = [1.0, 1.0, 1.0, 1.0, 2.5, 1.5, -3.0, 5.0]
    assert [m for _, m, _ in seen[True]] == [BASE_TIME + timedelta(seconds=s) for s in taken]
    assert [n for n, _, _ in seen[True]] == list(range(2, 10))
    assert [f is None for _, _, f in seen[True]] == [False] * 5 + [True] * 3

"""Each model's number of versions and highest version number, kept on its row (``version_stats``):
equal to a fresh count of the versions after creates, resends, conversions, failed registrations,
deletes and concurrent writers from several stores, on both databases; read by GetModel, ListModels and
an unfiltered ListModelVersions without counting the versions; a drifted value put right by the recount.
ListModelVersions pages equal the Python reference at every offset, and on SQLite a page's versions are
found in the sort's covering index.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from mlp_server.errors import ApiError
from mlp_server.store import Store
from mlp_server.store.model_index import recount

from .helpers import (
    ACCOUNT,
    OTHER_ACCOUNT,
    FakeClock,
    delete_version,
    race_deletes_and_registrations,
    register,
    sent_statements,
    source_task,
    version_info,
)


def _kept(store: Store) -> dict[str, tuple[int, int]]:
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, version_count, latest_version FROM models"))
        return {model_id: (count, latest) for model_id, count, latest in rows}


def _counted(store: Store) -> dict[str, tuple[int, int]]:
    """What the versions table says, every model included (0, 0 without a version)."""
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT m.id, count(v.id), coalesce(max(v.version), 0) FROM models m "
                "LEFT JOIN model_versions v ON v.model_id = m.id GROUP BY m.id"
            )
        )
        return {model_id: (count, latest) for model_id, count, latest in rows}


def _check(store: Store) -> None:
    """Stored == counted, and every read answers the counted values."""
    counted = _counted(store)
    assert _kept(store) == counted
    for account in (ACCOUNT, OTHER_ACCOUNT):
        listed = store.list_models(account, {"Limit": 1000})["List"]
        for item in listed:
            count, latest = counted[item["ModelID"]]
            assert item["ModelVersionsCount"] == count
            assert item.get("LatestVersion") == (str(latest) if count else None)
            assert store.get_model(account, {"ModelID": item["ModelID"]}) == item
            versions = store.list_model_versions(account, {"ModelID": item["ModelID"], "Limit": 1000})
            assert versions["Total"] == count == len(versions["List"])


def test_stats_follow_every_write(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store, name="a")
    other, _ = register(store, OTHER_ACCOUNT, name="b")
    _check(store)
    for _ in range(4):
        register(store, model_id=model_id)
    _check(store)
    # A resend answers the same version: nothing counted twice.
    info = version_info()
    for _ in range(2):
        store.create_model(ACCOUNT, {"ModelID": model_id, "VersionInfo": info})
    assert _kept(store)[model_id] == (6, 6)
    # A conversion's result: InnerCreateModel of the source's model (workers/runner.register_converted).
    task = source_task(store, f"{model_id}-2")
    converted = version_info(SourceType="Perf", BaseModelVersionID=f"{model_id}-2", SourceId=task)
    store.create_model(ACCOUNT, {"ModelID": model_id, "VersionInfo": converted})
    _check(store)
    delete_version(store, model_id, 3)  # a middle one: the highest stays
    assert _kept(store)[model_id] == (6, 7)
    delete_version(store, model_id, 7)  # the highest: the next highest is found
    delete_version(store, model_id, 6)
    assert _kept(store)[model_id] == (4, 5)
    _check(store)
    for number in (1, 2, 4, 5):
        delete_version(store, model_id, number)
    assert _kept(store)[model_id] == (0, 0)
    _check(store)
    # A registration that fails after taking its number (nothing to inherit the format from) counts
    # nothing; numbers are not reused after deletes, and the new one is the highest.
    with pytest.raises(ApiError) as failed:
        store.create_model(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://bucket/x/"}})
    assert failed.value.code == "InvalidParameter"
    assert _kept(store)[model_id] == (0, 0)
    assert register(store, model_id=model_id)[1] == 8
    assert _kept(store)[model_id] == (1, 8)
    # A version that is already gone is NotFound and counted out only once.
    delete_version(store, model_id, 8)
    with pytest.raises(ApiError) as missing:
        delete_version(store, model_id, 8)
    assert missing.value.code == "NotFound"
    assert _kept(store)[model_id] == (0, 0)
    store.delete_model(OTHER_ACCOUNT, {"ModelID": other})
    _check(store)


def test_the_recount_repairs_drifted_stats(store: Store, clock: FakeClock) -> None:
    first, _ = register(store, name="a")
    for _ in range(3):
        register(store, model_id=first)
    second, _ = register(store, name="b")
    delete_version(store, second, 1)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE models SET version_count = version_count + 7, latest_version = 99"))
    assert _kept(store) != _counted(store)  # what a repair must find
    with store.engine.begin() as conn:
        recount(conn)
    assert _kept(store) == _counted(store) == {first: (4, 4), second: (0, 0)}
    _check(store)


def test_reads_count_no_versions(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    for _ in range(5):
        register(store, model_id=model_id)
    with sent_statements(store) as seen:
        store.get_model(ACCOUNT, {"ModelID": model_id})
        store.list_models(ACCOUNT, {})
        assert store.list_model_versions(ACCOUNT, {"ModelID": model_id, "Offset": 4})["Total"] == 6
    flat = [" ".join(statement.lower().split()) for statement, _ in seen]
    assert flat and not [s for s in flat if "count(" in s or "max(" in s], flat
    # A ModelVersion filter still counts its matches.
    listed = store.list_model_versions(ACCOUNT, {"ModelID": model_id, "ModelVersion": 3})
    assert [v["ModelVersion"] for v in listed["List"]] == [3] and listed["Total"] == 1


def _reference(store: Store, model_id: str, sort_by: str, order: str) -> list[int]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT version, create_time FROM model_versions WHERE model_id = :m"), {"m": model_id}
        ).all()
    key = (lambda r: r[0]) if sort_by == "ModelVersion" else (lambda r: (r[1], r[0]))
    return [r[0] for r in sorted(rows, key=key, reverse=order == "Descend")]


def test_version_pages_are_the_reference_at_every_offset(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    for k in range(24):
        if k % 3:  # ties in CreateTime, broken by the number
            clock.tick()
        register(store, model_id=model_id)
    for number in (2, 9, 25):
        delete_version(store, model_id, number)
    total = 22
    for sort_by, order in itertools.product(("CreateTime", "ModelVersion"), ("Ascend", "Descend")):
        expected = _reference(store, model_id, sort_by, order)
        assert len(expected) == total
        for offset, limit in itertools.product(range(total + 2), (0, 1, 3, 10, total)):
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


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("offset", [3, 37])
def test_a_deep_offset_skips_versions_in_a_covering_index(
    store: Store, clock: FakeClock, offset: int
) -> None:
    """A CreateTime page when the create times left the numbers' order (else see version_positions)."""
    model_id, _ = register(store)
    clock.set(clock.now - timedelta(seconds=1))
    for _ in range(39):
        register(store, model_id=model_id)
    with sent_statements(store) as seen:
        store.list_model_versions(ACCOUNT, {"ModelID": model_id, "SortBy": "CreateTime", "Offset": offset})
    numbers, rows = [(s, p) for s, p in seen if "FROM model_versions" in s]
    with store.engine.connect() as conn:

        def plan(statement: str, parameters: Any) -> list[str]:
            return [row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]

        # The page's numbers: the entries an Offset skips are the sort's index entries, not table rows.
        steps = plan(*numbers)
        assert "OFFSET" in numbers[0] and len(steps) == 1 and "COVERING INDEX" in steps[0], steps
        # Then only the page's rows, each by its (model_id, version) key.
        steps = plan(*rows)
        assert len(steps) == 1 and "(model_id=? AND version=?)" in steps[0], steps


def test_concurrent_registrations_and_deletes_leave_exact_stats(
    db_url: str, store: Store, clock: FakeClock
) -> None:
    model_id, _ = register(store)
    for _ in range(29):
        register(store, model_id=model_id)
    writers = [Store(db_url, clock=clock) for _ in range(4)]
    doomed = list(range(30, 10, -1))  # from the highest down, while new highest ones arrive
    try:  # two deleters of the same versions: each version goes once
        gone = race_deletes_and_registrations(writers, model_id, (doomed, doomed), 6)
    finally:
        for writer in writers:
            writer.close()
    assert sorted(gone) == sorted(doomed)
    assert _kept(store)[model_id] == (30 - 20 + 4 * 6, 54)
    _check(store)

"""Unfiltered ListModels pages found through ``model_ranks`` (stretch sizes kept on every create, delete
and rename) are exactly the pages of a plain sort of every model, at every offset, in both orders of
both sorts; and the kept sizes are the true ones, as a recount from the models table gives them.

Stretches hold 2 to 4 models here (instead of 1,000 to 2,000) so that splits, emptied stretches and
keys before the first stretch all happen with a few dozen models.
"""

from __future__ import annotations

import itertools
import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from mlp_server.store import Store, model_ranks
from mlp_server.store.model_index import recount

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register

NAMES = ["b", "a", "B", "ab", "b", "zz", "é", "a-1", "a_1", "Z", "b"]  # ties, code point order


def _reference(store: Store, sort_by: str, descending: bool) -> list[str]:
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, name, create_time FROM models WHERE account_id = :a"), {"a": ACCOUNT}
        ).all()
    if sort_by == "CreateTime":
        rows.sort(key=lambda row: (row.create_time, row.id))
    else:
        rows.sort(key=lambda row: (row.name, row.create_time, row.id))
    ids = [row.id for row in rows]
    return ids[::-1] if descending else ids


def _check_pages(store: Store) -> None:
    for sort_by, descending in itertools.product(("CreateTime", "ModelName"), (False, True)):
        expected = _reference(store, sort_by, descending)
        order = "Descend" if descending else "Ascend"
        for offset, limit in itertools.product(range(len(expected) + 2), (1, 7)):
            body = {"SortBy": sort_by, "SortOrder": order, "Offset": offset, "Limit": limit}
            result = store.list_models(ACCOUNT, body)
            got = [item["ModelID"] for item in result["List"]]
            assert (result["Total"], got) == (len(expected), expected[offset : offset + limit]), body


def _stretches(store: Store) -> list[tuple[Any, ...]]:
    with store.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text("SELECT * FROM model_ranks ORDER BY 1, 2, 3, 4, 5"))]


def _check_sizes(store: Store) -> None:
    """Every stretch holds the models from its key to the next stretch's key (the first: from the
    start), and the sizes add up to the account's counter."""
    for account in (ACCOUNT, OTHER_ACCOUNT):
        for sort_by in model_ranks.SORTS:
            with store.engine.connect() as conn:
                stretches = conn.execute(
                    text(
                        "SELECT name, create_time, id, models FROM model_ranks "
                        "WHERE account_id = :a AND sort_by = :s"
                    ),
                    {"a": account, "s": sort_by},
                ).all()
                models = conn.execute(
                    text("SELECT name, create_time, id FROM models WHERE account_id = :a"), {"a": account}
                ).all()
            keys = sorted(model_ranks.key_of(sort_by, m.name, m.create_time, m.id) for m in models)
            starts = sorted((s.name, s.create_time, s.id) for s in stretches)
            sizes = {(s.name, s.create_time, s.id): s.models for s in stretches}
            for k, start in enumerate(starts):
                upper = starts[k + 1] if k + 1 < len(starts) else None
                inside = [key for key in keys if (k == 0 or key >= start) and (upper is None or key < upper)]
                assert sizes[start] == len(inside) > 0, (account, sort_by, start)
                assert len(inside) <= 2 * model_ranks.STRETCH
            assert sum(sizes.values()) == len(models)


def test_pages_and_sizes_through_creates_deletes_and_renames(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_ranks, "STRETCH", 2)
    rng = random.Random(7)
    start = clock.now
    ids: list[str] = []
    for k in range(36):
        # Mostly forward in time, with ties and with models older than every other one.
        clock.set(start + timedelta(seconds=rng.choice([k, k, k, 0, -k, k // 2])))
        ids.append(register(store, name=rng.choice(NAMES))[0])
        if k % 4 == 0:
            register(store, OTHER_ACCOUNT, name=rng.choice(NAMES))
    _check_sizes(store)
    _check_pages(store)

    rng.shuffle(ids)
    for model_id in ids[:14]:
        store.delete_model(ACCOUNT, {"ModelID": model_id})
    for model_id in ids[14:24]:
        store.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": rng.choice(NAMES) + "x"})
    store.update_model(ACCOUNT, {"ModelID": ids[24], "ModelName": "0 first"})
    _check_sizes(store)
    _check_pages(store)

    # A recount (bulk loads, the migration) gives stretches that serve the same pages.
    with store.engine.begin() as conn:
        recount(conn)
    assert len(_stretches(store)) > 4
    _check_sizes(store)
    _check_pages(store)
    for model_id in ids[14:]:
        store.delete_model(ACCOUNT, {"ModelID": model_id})
    assert store.list_models(ACCOUNT, {"Offset": 0})["List"] == []
    assert all(row[0] == OTHER_ACCOUNT for row in _stretches(store))  # emptied stretches go
    _check_sizes(store)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_concurrent_writers_keep_the_sizes_true(
    db_url: str, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PostgreSQL runs writers at once: creates, deletes and renames from several engines (as from
    # several `mlp serve`) take turns on the account's counter row, so no split races an increment.
    monkeypatch.setattr(model_ranks, "STRETCH", 2)
    others = [Store(db_url) for _ in range(3)]
    try:

        def work(k: int) -> None:
            mine = others[k]
            ids = [register(mine, name=f"w{k}-{n % 5}")[0] for n in range(12)]
            for model_id in ids[::3]:
                mine.delete_model(ACCOUNT, {"ModelID": model_id})
            for model_id in ids[1::3]:
                mine.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": f"r{k}-{model_id[-3:]}"})

        with ThreadPoolExecutor(len(others)) as pool:
            list(pool.map(work, range(len(others))))
    finally:
        for other in others:
            other.close()
    assert store.list_models(ACCOUNT, {})["Total"] == 3 * 8
    _check_sizes(store)
    _check_pages(store)

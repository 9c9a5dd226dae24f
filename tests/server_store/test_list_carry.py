"""Cached filtered lists follow the account's writes through the change log (``model_changes``): pages
from a carried-forward entry equal the Python reference after creates, deletes and renames by another
store, without counting or searching again; a log with a gap (pruned, a row deleted by hand, a recount)
is never used: the list is computed again.
"""

from __future__ import annotations

import itertools
import random
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import text

from mlp_server.store import Store, list_cache, model_changes, model_listing
from mlp_server.store.list_cache import Entry, SortKey
from mlp_server.store.model_changes import ModelChange
from mlp_server.store.model_index import recount

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register, sent_statements
from .test_list_cache import _fill, _reference
from .test_list_scale import _ids

CARRY_FILTERS: list[dict[str, Any]] = [
    {"ModelNameContains": "resnet"},
    {"ModelNameContains": "s"},  # one character: no index
    {"ModelNameContains": "éSN"},  # folds to "ésn": "É" is not folded, by either database
    {"ModelName": "bert"},
    {"ModelNameContains": "net", "IdContains": "M-"},
]


def _check_pages(store: Store) -> None:
    for body, sort_by, order in itertools.product(
        CARRY_FILTERS, ("CreateTime", "ModelName"), ("Ascend", "Descend")
    ):
        full = {**body, "SortBy": sort_by, "SortOrder": order}
        expected = _reference(store, full)
        for offset, limit in itertools.product(range(len(expected) + 1, -1, -1), (1, 3)):
            page = _ids(store, {**full, "Offset": offset, "Limit": limit})
            assert page == (len(expected), expected[offset : offset + limit]), (full, offset, limit)


def _counting(statement: str) -> bool:
    lowered = " ".join(statement.lower().split())
    return "count(*)" in lowered and "from models " in lowered


def _searching(statement: str) -> bool:
    """A count of the models, or the filter applied in SQL."""
    lowered = " ".join(statement.lower().split())
    searched = "models_search" in lowered.replace("models_search_unordered", "")  # not the order flag
    return _counting(statement) or " like " in lowered or searched


def _generation(store: Store) -> int:
    with store.engine.connect() as conn:
        query = text("SELECT generation FROM model_counts WHERE account_id = :a")
        found: int = conn.execute(query, {"a": ACCOUNT}).scalar_one()
        return found


def test_carried_pages_are_the_reference_through_another_stores_writes(
    db_url: str, store: Store, clock: FakeClock
) -> None:
    _fill(store, clock)
    _check_pages(store)  # every filter kept, in both orders
    other = Store(db_url, clock=clock)  # another `mlp serve` on the same database
    by_name = {
        name: _ids(store, {"ModelName": name})[1][0]
        for name in ("vit", "resnet-a", "gpt", "resnet-c", "resnet-e")
    }
    writes = [
        lambda: register(other, name="resnet-new"),
        lambda: other.update_model(ACCOUNT, {"ModelID": by_name["vit"], "ModelName": "RESNET-vit"}),  # in
        lambda: other.update_model(ACCOUNT, {"ModelID": by_name["resnet-a"], "ModelName": "alpha"}),  # out
        lambda: other.update_model(ACCOUNT, {"ModelID": by_name["gpt"], "ModelName": "réSNet"}),
        # Out of "resnet" and not into "ésn": only ASCII letters fold, as in the databases.
        lambda: other.update_model(ACCOUNT, {"ModelID": by_name["resnet-e"], "ModelName": "RÉSNET-e"}),
        lambda: other.update_model(ACCOUNT, {"ModelID": by_name["resnet-c"], "ModelName": "resnet-0"}),
        lambda: other.delete_model(ACCOUNT, {"ModelID": by_name["vit"]}),
        lambda: (clock.tick(-100), register(other, name="bert")),  # first in CreateTime order, a tie on name
        lambda: register(other, OTHER_ACCOUNT, name="resnet-other-2"),  # another account: nothing here
    ]
    try:
        for write in writes:
            before = _generation(store)
            write()
            with sent_statements(store) as seen:
                _check_pages(store)
            # Every filter was kept: carried forward, never counted again.
            assert _generation(store) in (before, before + 1)
            assert not [statement for statement, _ in seen if _counting(statement)]
            assert any("model_changes" in statement for statement, _ in seen) == (_generation(store) > before)
    finally:
        other.close()


def test_a_carried_page_neither_counts_nor_searches(
    db_url: str, store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(model_listing, "LIKE_WALK_BUDGET", 0)  # pages inside the matches keep them all
    _fill(store, clock)
    body = {"ModelNameContains": "resnet", "Offset": 3, "Limit": 2}
    _ids(store, body)
    other = Store(db_url, clock=clock)
    try:
        renamed = _ids(store, {"ModelName": "gpt"})[1][0]
        other.update_model(ACCOUNT, {"ModelID": renamed, "ModelName": "resnet-gpt"})
        register(other, name="ResNet-z")
        with sent_statements(store) as carried:
            page = _ids(store, body)
        assert page == (8, _reference(store, body)[3:5])
        assert not [statement for statement, _ in carried if _searching(statement)]
        assert [statement for statement, _ in carried if "model_changes" in statement]
    finally:
        other.close()


def test_a_gap_in_the_log_is_never_used(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pruned rows, a row deleted by hand, or a recount (which logs nothing): the list is computed again.
    monkeypatch.setattr(model_listing, "LIKE_WALK_BUDGET", 0)
    _fill(store, clock)
    body = {"ModelNameContains": "resnet", "Offset": 1, "Limit": 3}

    def listed() -> list[tuple[str, Any]]:
        with sent_statements(store) as seen:
            assert _ids(store, body) == (len(_reference(store, body)), _reference(store, body)[1:4])
        return seen

    listed()
    victim = register(store, name="resnet-x")[0]
    store.update_model(ACCOUNT, {"ModelID": victim, "ModelName": "resnet-y"})
    with store.engine.begin() as conn:  # the log misses the create: the rename alone would not fit
        conn.execute(text("DELETE FROM model_changes WHERE generation = :g"), {"g": _generation(store) - 1})
    assert any(_searching(statement) for statement, _ in listed())
    assert not any(_searching(statement) for statement, _ in listed())  # kept again

    with store.engine.begin() as conn:
        recount(conn)  # moves the generation on, logs no change
    assert any(_searching(statement) for statement, _ in listed())

    monkeypatch.setattr(model_changes, "PRUNE_EVERY", 2)
    monkeypatch.setattr(model_changes, "KEEP", 2)
    listed()
    for name in ("zzz-1", "zzz-2", "zzz-3", "zzz-4"):  # prunes on the way: the entry's changes are gone
        register(store, name=name)
    with store.engine.connect() as conn:
        kept = conn.execute(text("SELECT count(*) FROM model_changes WHERE account_id = :a"), {"a": ACCOUNT})
        assert kept.scalar_one() <= 2 + 2
    assert any(_searching(statement) for statement, _ in listed())

    monkeypatch.setattr(list_cache, "MAX_CARRY", 1)  # further behind than carried
    register(store, name="zzz-5")
    register(store, name="zzz-6")
    assert any(_searching(statement) for statement, _ in listed())
    register(store, name="resnet-7")
    assert not any(_searching(statement) for statement, _ in listed())


def test_every_create_delete_and_rename_is_logged_under_its_generation(
    store: Store, clock: FakeClock
) -> None:
    model_id = register(store, name="a")[0]
    store.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": "a"})  # no change, no row
    store.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": "b"})
    store.delete_model(ACCOUNT, {"ModelID": model_id})
    with store.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT generation, model_id, name_before, name_after FROM model_changes ORDER BY generation"
            )
        ).all()
    assert [tuple(row) for row in rows] == [
        (1, model_id, None, "a"),
        (2, model_id, "a", "b"),
        (3, model_id, "b", None),
    ]


def _keys(sort_by: str, models: dict[str, tuple[str, str]]) -> tuple[SortKey, ...]:
    if sort_by == "ModelName":
        return tuple(sorted((name, time, model_id) for model_id, (name, time) in models.items()))
    return tuple(sorted((time, model_id) for model_id, (_, time) in models.items()))


def test_carrying_equals_computing_again_for_random_changes() -> None:
    # The edit itself, against a reference computed from scratch, over many random batches of changes.
    rng = random.Random(7)
    names = ["resnet", "ResNet-2", "bert", "net", "vit", "RESNET"]

    def matches(model_id: str, name: str) -> bool:
        return "net" in name.lower()

    for _ in range(300):
        models = {f"m-{k}": (rng.choice(names), f"t{rng.randrange(5)}") for k in range(rng.randrange(12))}
        matching = {k: v for k, v in models.items() if matches(k, v[0])}
        entry = Entry(0, len(matching), {s: _keys(s, matching) for s in ("CreateTime", "ModelName")})
        changes: list[ModelChange] = []
        serial = len(models)
        for _ in range(rng.randrange(8)):
            action = rng.choice(("create", "delete", "rename"))
            if action == "create" or not models:
                model_id, serial = f"m-{serial}", serial + 1
                models[model_id] = (rng.choice(names), f"t{rng.randrange(5)}")
                changes.append(ModelChange(model_id, models[model_id][1], None, models[model_id][0]))
                continue
            model_id = rng.choice(sorted(models))
            name, time = models[model_id]
            if action == "delete":
                del models[model_id]
                changes.append(ModelChange(model_id, time, name, None))
            else:
                models[model_id] = (rng.choice(names), time)
                changes.append(ModelChange(model_id, time, name, models[model_id][0]))
        carried = entry.carried(len(changes), changes, matches)
        matching = {k: v for k, v in models.items() if matches(k, v[0])}
        assert carried == Entry(
            len(changes), len(matching), {s: _keys(s, matching) for s in ("CreateTime", "ModelName")}
        )
    # A change that does not fit what is kept (its model is not where the log says): computed again.
    kept = Entry(0, 1, {"CreateTime": (("t1", "m-1"),)})
    assert kept.carried(1, [ModelChange("m-2", "t1", "resnet", None)], matches) is None
    assert kept.carried(1, [ModelChange("m-1", "t1", None, "resnet")], matches) is None


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_rename_logs_the_name_it_replaced_when_another_writer_renamed_first(
    db_url: str, store: Store, clock: FakeClock
) -> None:
    # PostgreSQL runs writers at once: a rename that loaded the model before another writer renamed it
    # must log the name it replaced (read after taking the account's turn), not the one it loaded.
    model_id = register(store, name="a")[0]
    start = _generation(store)
    with store.engine.connect() as holder:
        holder.execute(
            text("SELECT generation FROM model_counts WHERE account_id = :a FOR UPDATE"), {"a": ACCOUNT}
        )
        with ThreadPoolExecutor(1) as pool:
            renaming = pool.submit(store.update_model, ACCOUNT, {"ModelID": model_id, "ModelName": "c"})
            deadline = time.monotonic() + 30
            while not _waiting_on_a_lock(store) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _waiting_on_a_lock(store) and not renaming.done()
            # The other writer's rename a -> b, as the store writes one, committed while the first waits.
            holder.execute(text("UPDATE models SET name = 'b' WHERE id = :m"), {"m": model_id})
            holder.execute(
                text("UPDATE model_counts SET generation = generation + 1 WHERE account_id = :a"),
                {"a": ACCOUNT},
            )
            holder.execute(
                text(
                    "INSERT INTO model_changes (account_id, generation, model_id, create_time, name_before, "
                    "name_after) SELECT :a, :g, id, create_time, 'a', 'b' FROM models WHERE id = :m"
                ),
                {"a": ACCOUNT, "g": start + 1, "m": model_id},
            )
            holder.commit()
            renaming.result()
    with store.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT generation, name_before, name_after FROM model_changes WHERE generation > :g"),
            {"g": start},
        ).all()
    assert sorted(tuple(row) for row in rows) == [(start + 1, "a", "b"), (start + 2, "b", "c")]
    assert _ids(store, {"ModelName": "c"}) == (1, [model_id])


def _waiting_on_a_lock(store: Store) -> bool:
    with store.engine.connect() as conn:
        query = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
        waiting: int = conn.execute(text(query)).scalar_one()
        return waiting > 0

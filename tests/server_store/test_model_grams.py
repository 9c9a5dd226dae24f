"""A lone ModelNameContains of 1 or 2 characters takes its Total from the account's name-gram counters
(``model_grams``): equal to the Python reference through creates, renames and deletes on both
databases (non-ASCII letters, ``%`` and ``_``, several accounts, concurrent creates), read without a
count of the models, and a drifted counter is put right by the recount (migration, repair).
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import text

from mlp_server.store import Store, model_grams
from mlp_server.store.model_index import recount

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register, sent_statements
from .test_list_cache import _reference
from .test_list_scale import _ids

NAMES = ["ResNet-50", "résnet", "RÉSUMÉ", "100%_sure", "a_b", "x%", "né", "NE", "ne-ne", "q"]
# Present and absent, folded and not ("É" is not folded by either database, "E" is), and the empty
# needle, which matches every name (the account's model counter).
NEEDLES = [
    "",
    "ne",
    "NE",
    "nE",
    "e",
    "E",
    "é",
    "É",
    "és",
    "ÉS",
    "%",
    "_",
    "%_",
    "0%",
    "_b",
    "zz",
    "z",
    "-",
    " ",
]


def _kept(store: Store) -> dict[tuple[int, str], int]:
    """The counters as stored, rows fallen to 0 left out."""
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT account_id, gram, models FROM model_grams WHERE models <> 0"))
        return {(account_id, gram): models for account_id, gram, models in rows}


def _counted(store: Store) -> dict[tuple[int, str], int]:
    with store.engine.connect() as conn:
        return dict(model_grams.counted(conn))


def _check(store: Store) -> None:
    assert _kept(store) == _counted(store)
    for needle, order in itertools.product(NEEDLES, ("Ascend", "Descend")):
        body = {"ModelNameContains": needle, "SortOrder": order}
        expected = _reference(store, body)
        for offset in range(len(expected) + 1):
            assert _ids(store, {**body, "Offset": offset, "Limit": 2}) == (
                len(expected),
                expected[offset : offset + 2],
            ), (needle, order, offset)


def test_short_contains_totals_follow_creates_renames_and_deletes(store: Store, clock: FakeClock) -> None:
    ids = {}
    for name in NAMES:
        clock.tick()
        ids[name] = register(store, name=name)[0]
    register(store, OTHER_ACCOUNT, name="ne-other")  # another account's grams are its own
    register(store, OTHER_ACCOUNT, name="%")
    _check(store)
    assert store.list_models(OTHER_ACCOUNT, {"ModelNameContains": "Ne"})["Total"] == 1
    # Renames that gain and lose grams, one to a name of one character, one to itself.
    store.update_model(ACCOUNT, {"ModelID": ids["NE"], "ModelName": "É%"})
    store.update_model(ACCOUNT, {"ModelID": ids["q"], "ModelName": "ne"})
    store.update_model(ACCOUNT, {"ModelID": ids["ne-ne"], "ModelName": "ne-ne"})
    store.update_model(ACCOUNT, {"ModelID": ids["a_b"], "ModelName": "a__b"})
    _check(store)
    store.delete_model(ACCOUNT, {"ModelID": ids["né"]})
    store.delete_model(ACCOUNT, {"ModelID": ids["100%_sure"]})
    _check(store)
    assert _kept(store)[(OTHER_ACCOUNT, "ne")] == 1


def test_a_short_contains_total_reads_one_counter(store: Store, clock: FakeClock) -> None:
    for name in NAMES:
        register(store, name=name)
    with sent_statements(store) as seen:
        assert store.list_models(ACCOUNT, {"ModelNameContains": "Ne", "Limit": 1})["Total"] == 4
    counts = [s for s, _ in seen if "count(" in s.lower() and "from models " in " ".join(s.lower().split())]
    assert not counts, counts
    assert any("model_grams" in s for s, _ in seen)


def test_combined_filters_still_count_the_models(store: Store, clock: FakeClock) -> None:
    for name in NAMES:
        register(store, name=name)
    for body in (
        {"ModelNameContains": "ne", "IdContains": "m-"},
        {"ModelNameContains": "e", "ModelName": "né"},
    ):
        expected = _reference(store, body)
        assert _ids(store, body) == (len(expected), expected[:10])


def test_the_recount_repairs_drifted_counters(store: Store, clock: FakeClock) -> None:
    for name in NAMES:
        register(store, name=name)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE model_grams SET models = models + 7 WHERE gram = 'ne'"))
        conn.execute(text("DELETE FROM model_grams WHERE gram = 'e'"))
    assert _kept(store) != _counted(store)  # what a repair must find
    with store.engine.begin() as conn:
        recount(conn)
    assert _kept(store) == _counted(store)
    assert store.list_models(ACCOUNT, {"ModelNameContains": "nE"})["Total"] == 4
    assert store.list_models(ACCOUNT, {"ModelNameContains": "e"})["Total"] == len(
        _reference(store, {"ModelNameContains": "e"})
    )


def test_concurrent_creates_and_renames_count_every_gram(db_url: str, store: Store, clock: FakeClock) -> None:
    others = [Store(db_url, clock=clock) for _ in range(3)]
    try:

        def work(k: int) -> None:
            writer = others[k % len(others)]
            model_id = register(writer, name=f"ne{k % 7}-é")[0]
            writer.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": f"Renamed{k}"})
            register(writer, OTHER_ACCOUNT, name=f"NE-{k}")

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(work, range(24)))
    finally:
        for other in others:
            other.close()
    assert _kept(store) == _counted(store)
    assert store.list_models(ACCOUNT, {"ModelNameContains": "aM"})["Total"] == 24  # "Renamed"
    assert store.list_models(ACCOUNT, {"ModelNameContains": "é"})["Total"] == 0
    assert store.list_models(OTHER_ACCOUNT, {"ModelNameContains": "-"})["Total"] == 24

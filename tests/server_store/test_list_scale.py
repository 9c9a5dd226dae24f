"""ListModels' fast paths (counters, the trigram index, id-first pages from the nearer end) give exactly
what SQLite's own LIKE and a plain count give, whichever path a query takes.

The store's one rule (ASCII case ignored, nothing else folded) is what these tests pin down: SQLite's
LIKE as it is, and on PostgreSQL lower() under COLLATE "C" (which folds A-Z only) with the needle
folded the same way.
"""

from __future__ import annotations

import itertools
import string
from typing import Any

import pytest
from sqlalchemy import text

from mlp_server.errors import ApiError
from mlp_server.store import Store, list_cache, model_listing, sqlite_url
from mlp_server.store.model_index import rebuild

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register

_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

# Non-ASCII case pairs (LIKE compares them as they are), a Kelvin sign (Unicode folds it to "k"),
# FTS5 query syntax, LIKE wildcards and the escape character.
NAMES = [
    "ResNet-50", "resnet-101", "RÉSNET", "résnet", "\u212aelvin-net", "kelvin-net", 'say "hi" now',
    "a*b:c", "100% pure", "under_score", "a/b/c", "NEAR(x y)", "AND OR NOT", "ĳssel", "straße", "STRASSE",
    "x" * 40, "dup", "dup", "dup",
]  # fmt: skip
NEEDLES = [
    "resnet", "RESNET", "ésn", "ÉSN", "kel", "\u212aEL", '"hi"', 'y "', "a*b", "b:c", "0% ", "r_s", "_sc",
    "/b/", "near(", "and or", "ĳs", "ße", "SSE", "x" * 39, "dup", "zzz", "net", "-10", "ne",
]  # fmt: skip


def _fill(store: Store, clock: FakeClock, sole_owner: bool) -> None:
    for k, name in enumerate(NAMES):
        clock.tick(1 if k % 3 else 0)  # ties on CreateTime too
        register(store, name=name)
    if not sole_owner:
        for name in NAMES[:5]:
            register(store, OTHER_ACCOUNT, name=name)


def _like_reference(store: Store, body: dict[str, Any]) -> list[str]:
    """Ids by a LIKE over every row, newest first (the store's rule, without any index)."""
    clauses, params = ["account_id = :account"], {"account": ACCOUNT}
    postgresql = store.dialect == "postgresql"
    for field, column in (("ModelNameContains", "name"), ("IdContains", "id")):
        if field in body:
            needle = body[field].translate(_ASCII_FOLD) if postgresql else body[field]
            escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
            target = f'lower({column} COLLATE "C")' if postgresql else column
            clauses.append(f"{target} LIKE :{column} ESCAPE '/'")
            params[column] = f"%{escaped}%"
    order = "create_time DESC, id DESC" if body.get("SortBy") != "ModelName" else "name, create_time, id"
    sql = f"SELECT id FROM models WHERE {' AND '.join(clauses)} ORDER BY {order}"
    with store.engine.connect() as conn:
        return list(conn.execute(text(sql), params).scalars())


def _ids(store: Store, body: dict[str, Any]) -> tuple[int, list[str]]:
    result = store.list_models(ACCOUNT, body)
    return result["Total"], [item["ModelID"] for item in result["List"]]


@pytest.mark.parametrize("sole_owner", [True, False])
@pytest.mark.parametrize(
    ("like_walk", "walk_budget", "cached"),
    # Every way to a filtered page: sort the matches; walk the index keeping matches; walk it testing
    # LIKE, bounded so short that it often falls back to the index; walk it testing LIKE only (each
    # page computed afresh: no cache); and pages from the kept Total and matches (test_list_cache.py).
    [(0, 0, False), (0, 10**9, False), (3, 10**9, False), (2_000, 0, False), (3, 10**9, True)],
)
def test_contains_matches_sqlite_like_on_every_page(
    store: Store,
    clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
    sole_owner: bool,
    like_walk: int,
    walk_budget: int,
    cached: bool,
) -> None:
    monkeypatch.setattr(model_listing, "WALK_BUDGET", walk_budget)
    monkeypatch.setattr(model_listing, "LIKE_WALK_BUDGET", like_walk)
    if not cached:
        monkeypatch.setattr(list_cache, "MAX_ENTRIES", 0)
    _fill(store, clock, sole_owner)
    matched = 0
    for needle in NEEDLES:
        body: dict[str, Any] = {"ModelNameContains": needle, "Limit": 100}
        expected = _like_reference(store, body)
        matched += bool(expected)
        assert _ids(store, body) == (len(expected), expected), needle
        for offset, limit in itertools.product(range(0, len(expected) + 2), (1, 3)):
            page = _ids(store, {**body, "Offset": offset, "Limit": limit})
            assert page == (len(expected), expected[offset : offset + limit]), (needle, offset, limit)
    assert matched >= len(NEEDLES) - 2  # the needles do match things
    # The Kelvin sign is not "k" for LIKE, nor for the index.
    assert _ids(store, {"ModelNameContains": "\u212ael"})[0] == 1
    model_id = _ids(store, {"Limit": 1})[1][0]
    both = {"ModelNameContains": "dup", "IdContains": model_id[2:12].upper()}
    assert _ids(store, both)[1] == _like_reference(store, both)


def test_unfiltered_pages_from_both_ends_and_counters(store: Store, clock: FakeClock) -> None:
    _fill(store, clock, sole_owner=False)
    for sort_by, order in itertools.product(("CreateTime", "ModelName"), ("Ascend", "Descend")):
        body = {"SortBy": sort_by, "SortOrder": order}
        everything = _ids(store, {**body, "Limit": 1000})[1]
        assert len(everything) == len(NAMES)
        for offset, limit in itertools.product(range(len(NAMES) + 2), (1, 7, 100)):
            assert _ids(store, {**body, "Offset": offset, "Limit": limit}) == (
                len(NAMES),
                everything[offset : offset + limit],
            )
    # Deletes and renames keep the counters and the index true.
    doomed = _ids(store, {"ModelNameContains": "resnet"})[1]
    store.delete_model(ACCOUNT, {"ModelID": doomed[0]})
    renamed = _ids(store, {"ModelNameContains": "kelvin"})[1][0]
    store.update_model(ACCOUNT, {"ModelID": renamed, "ModelName": "Renamed-Thing"})
    assert _ids(store, {})[0] == len(NAMES) - 1
    assert _ids(store, {"ModelNameContains": "resnet"})[1] == doomed[1:]
    assert _ids(store, {"ModelNameContains": "kelvin"})[0] == 0
    assert _ids(store, {"ModelNameContains": "amed-th"})[1] == [renamed]
    assert store.list_models(OTHER_ACCOUNT, {})["Total"] == 5
    with store.engine.begin() as conn:
        before = conn.execute(text("SELECT account_id, models FROM model_counts ORDER BY 1")).all()
        rebuild(conn)
        after = conn.execute(text("SELECT account_id, models FROM model_counts ORDER BY 1")).all()
    assert before == after == [(ACCOUNT, len(NAMES) - 1), (OTHER_ACCOUNT, 5)]
    assert _ids(store, {"ModelNameContains": "amed-th"})[1] == [renamed]


def test_counters_survive_failed_creates(tmp_path: Any, clock: FakeClock) -> None:
    store = Store(sqlite_url(tmp_path / "db.sqlite"), clock=clock)
    try:
        with pytest.raises(ApiError, match="ModelFormat"):
            store.create_model(ACCOUNT, {"ModelName": "x", "VersionInfo": {"Path": "tos://b/x/"}})
        assert store.list_models(ACCOUNT, {})["Total"] == 0  # rolled back with the model
        register(store, name="x")
        assert store.list_models(ACCOUNT, {})["Total"] == 1
    finally:
        store.close()

"""PostgreSQL's search table (``models_search``, :mod:`mlp_server.store.model_index`): a copy of each
model's id, account, create time and name that triggers keep equal to ``models`` through every write,
by the store or around it, and that a version's registration leaves alone; a Contains filter's Total and
sort keys are read from it alone, and a deep first page's from one statement, every page equal to the
reference computed in Python, also when there are more matches than are kept.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import text

from mlp_server.store import Store, list_cache, model_listing
from mlp_server.store.list_cache import ListCache

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register, sent_statements
from .test_list_cache import _reference
from .test_list_scale import _ids

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

NAMES = ["ResNet-a", "resnet_b", "100%-net", "Élan", "élan", "a_b", "RESNET%", "vit", "K\u212aelvin", "bert"]
FILTERS: list[dict[str, Any]] = [
    {"ModelNameContains": "resnet"},
    {"ModelNameContains": "%-n"},  # "%" and "_" match themselves
    {"ModelNameContains": "t_b"},
    {"ModelNameContains": "Éla"},  # only ASCII letters fold: not "élan"
    {"ModelNameContains": "net", "IdContains": "M-"},
    {"ModelName": "vit", "IdContains": "m-"},
    {"ModelNameContains": "qqq"},
    {"IdContains": "m-2"},
]


def _mirrored(store: Store) -> None:
    columns = "id, account_id, create_time, name"
    with store.engine.connect() as conn:
        copy = conn.execute(text(f"SELECT {columns} FROM models_search ORDER BY id")).all()
        models = conn.execute(text(f"SELECT {columns} FROM models ORDER BY id")).all()
    assert copy == models
    assert models  # something to compare


def _fill(store: Store, clock: FakeClock) -> list[str]:
    ids = []
    for k, name in enumerate(NAMES):
        clock.tick(1 if k % 3 else 0)  # ties on CreateTime
        ids.append(register(store, name=name)[0])
        register(store, OTHER_ACCOUNT, name=name)
    return ids


def test_the_copy_follows_every_write_and_not_a_version(store: Store, clock: FakeClock) -> None:
    ids = _fill(store, clock)
    _mirrored(store)
    store.update_model(ACCOUNT, {"ModelID": ids[0], "ModelName": "renamed-ResNet"})
    store.delete_model(ACCOUNT, {"ModelID": ids[1]})
    _mirrored(store)
    with store.engine.connect() as conn:
        before = conn.execute(text("SELECT xmin::text FROM models_search WHERE id = :i"), {"i": ids[2]}).one()
    register(store, model_id=ids[2])  # a new version: the model row's version stats change
    with store.engine.connect() as conn:
        after = conn.execute(text("SELECT xmin::text FROM models_search WHERE id = :i"), {"i": ids[2]}).one()
    assert after == before  # not rewritten
    with store.engine.begin() as conn:  # around the store
        conn.execute(
            text("UPDATE models SET name = 'x-' || name, create_time = create_time - interval '1 day'")
        )
        conn.execute(
            text("UPDATE models SET account_id = :o WHERE id = :i"), {"o": OTHER_ACCOUNT, "i": ids[3]}
        )
        conn.execute(
            text(
                "INSERT INTO models (id, account_id, name, next_version, create_time) "
                "VALUES ('m-raw', :a, 'raw ResNet', 1, now())"
            ),
            {"a": ACCOUNT},
        )
        conn.execute(text("UPDATE models SET id = 'm-moved' WHERE id = 'm-raw'"))
        conn.execute(text("DELETE FROM models WHERE id = :i"), {"i": ids[5]})
    _mirrored(store)
    with store.engine.begin() as conn:
        conn.execute(text("TRUNCATE models CASCADE"))
        assert conn.execute(text("SELECT count(*) FROM models_search")).scalar_one() == 0


@pytest.mark.parametrize(
    ("like_walk", "kept_at_most"),
    # No page in the sort index walk's reach: the one statement answers each, and with few keys kept
    # (3) it answers with the Total only for most filters; a walk of 3 rows, often too short to hold
    # the page; a walk of every row, which holds every page of a filter that matches enough.
    [(0, 3), (0, list_cache.IDS_PER_FILTER), (3, list_cache.IDS_PER_FILTER), (10**6, 3)],
)
def test_first_pages_equal_the_reference(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch, like_walk: int, kept_at_most: int
) -> None:
    monkeypatch.setattr(model_listing, "LIKE_WALK_BUDGET", like_walk)
    monkeypatch.setattr(list_cache, "IDS_PER_FILTER", kept_at_most)
    _fill(store, clock)
    searched = 0
    for body, sort_by, order in itertools.product(
        FILTERS, ("CreateTime", "ModelName"), ("Ascend", "Descend")
    ):
        full = {**body, "SortBy": sort_by, "SortOrder": order}
        expected = _reference(store, full)
        for offset, limit in itertools.product(range(len(expected) + 1, -1, -1), (1, 3)):
            store.__dict__["_model_lists"] = ListCache()  # each page the filter's first
            with sent_statements(store) as sent:
                page = _ids(store, {**full, "Offset": offset, "Limit": limit})
            assert page == (len(expected), expected[offset : offset + limit]), (full, offset, limit)
            lowered = [" ".join(statement.lower().split()) for statement, _ in sent]
            # Where a trigram index applies, the matches are never counted in the models table.
            if any(len(body.get(key, "")) >= 3 for key in ("ModelNameContains", "IdContains")):
                assert not [s for s in lowered if "from models " in s and "count(" in s], full
            # The matches' keys read in the search table: one statement with the Total, or, counted
            # first, on their own (too few for the walk).
            searched += any(_reads_keys(s) for s in lowered)
    assert searched > 100 if like_walk == 0 else searched > 0


def _reads_keys(statement: str) -> bool:
    return statement.startswith("with matches as") or (
        statement.startswith("select models_search.") and " order by " in statement
    )


def _walks(statement: str) -> bool:
    """The sort index walk: models rows tested with LIKE."""
    return statement.startswith("select models.id from models where") and " like " in statement


def test_a_first_request_walks_only_when_its_matches_can_hold_the_page(
    store: Store, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The walk of the sort index's first LIKE_WALK_BUDGET rows runs only when the statement that
    counts the matches finds enough of them among those rows to hold the page; otherwise (none, one,
    all far from the page's end of the sort) that statement's keys answer. Every answer equals the
    reference."""
    monkeypatch.setattr(model_listing, "LIKE_WALK_BUDGET", 8)
    for k in range(40):
        clock.tick()
        name = f"resnet-{k}" if k % 4 == 0 else "vit-x" if k == 5 else f"early-{k}" if k < 10 else f"bert-{k}"
        register(store, name=name)
    # The walk reaches the newest 8 (k 32..39) in CreateTime Descend, the oldest 8 in Ascend.
    cases = [  # (filter, offset, limit, walks)
        ({"ModelNameContains": "qqq"}, 0, 10, False),  # nothing
        ({"ModelNameContains": "vit"}, 0, 1, False),  # one, old
        ({"ModelNameContains": "resnet"}, 0, 1, True),  # 36 and 32 within reach
        ({"ModelNameContains": "resnet"}, 0, 2, True),
        ({"ModelNameContains": "resnet"}, 1, 2, False),  # a third one needed
        ({"ModelNameContains": "resnet", "SortBy": "ModelName"}, 0, 2, True),  # 7 within reach
        ({"ModelNameContains": "early"}, 0, 1, False),  # 6 matches, all old
        ({"ModelNameContains": "early", "SortOrder": "Ascend"}, 0, 3, True),  # 5 within reach
        ({"ModelNameContains": "early", "SortOrder": "Ascend"}, 4, 2, False),
        ({"IdContains": "m-", "ModelNameContains": "vit"}, 0, 3, False),
    ]
    for body, offset, limit, walks in cases:
        expected = _reference(store, body)
        store.__dict__["_model_lists"] = ListCache()  # the filter's first request
        with sent_statements(store) as sent:
            page = _ids(store, {**body, "Offset": offset, "Limit": limit})
        assert page == (len(expected), expected[offset : offset + limit]), body
        lowered = [" ".join(statement.lower().split()) for statement, _ in sent]
        assert any(_walks(s) for s in lowered) == walks, (body, offset, limit, lowered)
        if not walks and expected:
            assert any(_reads_keys(s) for s in lowered), lowered

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
            searched += any(s.startswith("with matches as") for s in lowered)
    assert searched > 100 if like_walk == 0 else searched > 0

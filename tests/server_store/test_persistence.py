"""The database file: data survives a restart, SQLite is set up for a server, lists use indexes."""

from __future__ import annotations

import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text

from mlp_server.store import Store, paging
from mlp_server.store.engine import MMAP_BYTES

from .helpers import ACCOUNT, FakeClock, perf_job, register, sent_statements, service_body, task_ids


def everything(store: Store) -> list[Any]:
    models = store.list_models(ACCOUNT, {"Limit": 100})
    return [
        models,
        [store.list_model_versions(ACCOUNT, {"ModelID": m["ModelID"]}) for m in models["List"]],
        store.list_perf_jobs(ACCOUNT, {}),
        store.list_perf_tasks(ACCOUNT, {}),
        store.list_services(ACCOUNT, {}),
        store.list_accounts(),
    ]


def test_data_survives_closing_and_reopening(db_url: str, clock: FakeClock) -> None:
    store = Store(db_url, clock=clock)
    model_id, _ = register(
        store, name="kept", MetricsList=[{"MetricsType": "Perf", "Params": "{}", "MetricsData": "{}"}]
    )
    register(store, model_id=model_id)
    register(store, model_id=model_id)
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-3"})
    job = perf_job(store, f"{model_id}-1", ["ml.c1i.large", "ml.g1e.large"])
    store.update_perf_task(ACCOUNT, {"TaskID": task_ids(store, job["JobID"])[0], "Status": "Running"})
    store.create_service(ACCOUNT, service_body(model_id, 2))
    store.create_account(ACCOUNT, 7, "team", is_admin=True)
    ak, sk = store.add_access_key(ACCOUNT, 7)
    before = everything(store)
    store.close()

    reopened = Store(db_url, clock=clock)
    try:
        assert everything(reopened) == before
        key = reopened.lookup_access_key(ak)
        assert key is not None and key.sk == sk
        assert register(reopened, model_id=model_id)[1] == 4  # the counter survived too
    finally:
        reopened.close()


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(store: Store) -> None:
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        # Below the client's 30 s read timeout: a locked database reaches it as the retried 503.
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10_000
        # Reads through a memory map (a filter's first list at scale): on unless the build forbids it.
        # (capped at the build's own limit, 0x7fff0000 by default).
        assert 0 < conn.execute(text("PRAGMA mmap_size")).scalar() <= MMAP_BYTES


def test_in_memory_url_works_for_single_threaded_use() -> None:
    store = Store("sqlite://")
    try:
        model_id, _ = register(store)
        assert store.get_model(ACCOUNT, {"ModelID": model_id})["ModelVersionsCount"] == 1
    finally:
        store.close()


def test_an_in_memory_store_removes_its_turn_folder_when_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where it makes its private folder
    store = Store("sqlite://")
    try:
        with store.reclaim_turn(ACCOUNT, exclusive=True, wait=1):
            (folder,) = tmp_path.glob("mlp-reclaim-turns-*")
            assert sorted(p.name for p in folder.iterdir()) == [f"{ACCOUNT}.gate", f"{ACCOUNT}.lock"]
        with store.reclaim_turn(ACCOUNT, exclusive=False, wait=1):
            assert list(tmp_path.glob("mlp-reclaim-turns-*")) == [folder]  # the same one
    finally:
        store.close()
    assert list(tmp_path.iterdir()) == []


FULL_SCAN = re.compile(r"SCAN (models|model_versions|perf_jobs|perf_tasks|services)\b")


def _is_select(statement: str) -> bool:
    return statement.lstrip().upper().startswith("SELECT")


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("action", "body", "page_index"),
    [
        ("list_models", {}, "ix_models_account_time (account_id=?)"),
        (
            "list_models",
            {"SortBy": "ModelName", "SortOrder": "Ascend"},
            "ix_models_account_name (account_id=?)",
        ),
        ("list_models", {"ModelName": "m"}, "ix_models_account_name (account_id=? AND name=?)"),
        (
            "list_models",
            {"ModelName": "m", "SortBy": "ModelName"},
            "ix_models_account_name (account_id=? AND name=?)",
        ),
        # Versions whose create times follow their numbers: either sort's page from the numbers
        # (version_positions; two versions, a page of ten: read from the lowest).
        ("list_model_versions", {}, "(model_id=? AND version>?)"),
        ("list_model_versions", {"SortBy": "ModelVersion"}, "(model_id=? AND version>?)"),
        ("list_model_versions", {"ModelVersion": 1}, "(model_id=? AND version=?)"),
        ("list_perf_jobs", {}, "ix_perf_jobs_account_time (account_id=?)"),
        ("list_perf_tasks", {}, "ix_perf_tasks_account_time (account_id=?)"),
        ("list_services", {}, "ix_services_account_time (account_id=?)"),
    ],
)
def test_list_queries_search_an_index_and_need_no_sort(
    store: Store, action: str, body: dict[str, Any], page_index: str
) -> None:
    # What keeps a page fast with 100,000 models and 1,000,000 versions: every query reaches its
    # rows through an index (no full SCAN of a table or index) and reads them in index order
    # (no temp B-tree to sort).
    model_id, _ = register(store, name="m")
    register(store, model_id=model_id)
    perf_job(store, f"{model_id}-1", ["ml.c1i.large"])
    store.create_service(ACCOUNT, service_body(model_id, 1))
    if action == "list_model_versions":
        body = {**body, "ModelID": model_id}
    with sent_statements(store, _is_select) as selects:
        getattr(store, action)(ACCOUNT, body)
    assert selects
    steps: list[str] = []
    with store.engine.connect() as conn:
        for statement, parameters in selects:
            plan = [row[-1] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)]
            assert not any(FULL_SCAN.match(step) for step in plan), (statement, plan)
            # Except the sum over one account's model_ranks (a few hundred rows at a million models).
            if "model_ranks" not in statement:
                assert not any("TEMP B-TREE" in step for step in plan), (statement, plan)
            steps += plan
    assert any(step.startswith("SEARCH") and step.endswith(page_index) for step in steps), steps


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_pages_longer_than_the_bound_parameter_limit(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    # Items of a page are decorated with per-id lookups (version counts, task counts, model names);
    # a long page must not exceed SQLite's cap on bound parameters. Shrink both to see it.
    for n in range(12):
        model_id, _ = register(store, name=f"m{n}")
        register(store, model_id=model_id)
        perf_job(store, f"{model_id}-1", ["ml.c1i.large"])
        store.create_service(ACCOUNT, service_body(model_id, 2, name=f"s{n}"))
    monkeypatch.setattr(paging, "IN_CHUNK", 4)

    def limit_parameters(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 8)

    event.listen(store.engine, "connect", limit_parameters)
    store.engine.dispose()
    try:
        models = store.list_models(ACCOUNT, {"Limit": 100})["List"]
        assert [(m["ModelVersionsCount"], m["LatestVersion"]) for m in models] == [(2, "2")] * 12
        jobs = store.list_perf_jobs(ACCOUNT, {"Limit": 100})["List"]
        assert [j["TaskCount"] for j in jobs] == [1] * 12
        services = store.list_services(ACCOUNT, {"Limit": 100})["List"]
        assert sorted(s["ServiceDeployment"]["Model"]["Name"] for s in services) == sorted(
            f"m{n}" for n in range(12)
        )
    finally:
        event.remove(store.engine, "connect", limit_parameters)
        store.engine.dispose()

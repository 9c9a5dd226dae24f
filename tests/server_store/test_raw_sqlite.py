"""CreateModel with ModelID on SQLite's driver directly (store/raw_sqlite.py, the group commit's raw
units) writes exactly what the SQLAlchemy path writes, answers the same and fails the same."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from mlp_server.errors import ApiError
from mlp_server.store import Store, sqlite_url

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock

FULL_INFO: dict[str, Any] = {
    "ModelFormat": "TensorRT",
    "ModelType": "TensorRT:8",
    "SourceType": "Perf",
    "Description": "converted, ünïcode",
    "TensorConfig": {"Inputs": [{"TensorName": "x", "Shape": [1, 3], "DType": "FLOAT"}], "Outputs": []},
    "MetricsList": [{"MetricsType": "Perf", "Params": "{}", "MetricsData": '{"qps": 3}'}],
    "ModelTags": [{"Key": "team", "Value": "vision"}],
}


def _script(store: Store, clock: FakeClock) -> list[Any]:
    """The same registrations on a store: every answer or error (code and message), model ids named."""
    model_id = store.create_model(
        ACCOUNT,
        {
            "ModelName": "m",
            "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.0", "Path": "tos://b/1/"},
        },
    )["ModelID"]
    other = store.create_model(
        OTHER_ACCOUNT,
        {
            "ModelName": "o",
            "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.0", "Path": "tos://b/o/"},
        },
    )["ModelID"]
    outcomes: list[Any] = []

    def attempt(account: int, body: dict[str, Any]) -> None:
        clock.tick(0.25)
        try:
            got: Any = store.create_model(account, body)
        except ApiError as exc:
            got = (exc.code, exc.message)
        outcomes.append(repr(got))

    attempt(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://b/2/"}})  # inherits the format
    based = {"BaseModelVersionID": f"{model_id}-1"}  # the converted version's provenance, which exists
    info = {**FULL_INFO, "Path": "tos://b/3", **based}
    attempt(ACCOUNT, {"ModelID": model_id, "DatasetID": "d-1", "VersionInfo": info})
    attempt(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://b/4/", "ModelFormat": "PyTorch"}})
    attempt(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://b/2/"}})  # a resend
    attempt(ACCOUNT, {"ModelID": other, "VersionInfo": {"Path": "tos://b/5/"}})  # another account's model
    attempt(ACCOUNT, {"ModelID": "m-20990101000000-zzzzz", "VersionInfo": {"Path": "tos://b/6/"}})
    attempt(OTHER_ACCOUNT, {"ModelID": other, "VersionInfo": {"Path": "tos://b/o/"}})  # a resend, model 1
    attempt(OTHER_ACCOUNT, {"ModelID": other, "VersionInfo": {"Path": "tos://b/2/"}})  # another account
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-2"})
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-4"})
    attempt(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://b/7/"}})  # inherits from version 3
    attempt(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://b/1/"}})  # version 1, again
    new = store.create_model(
        ACCOUNT,
        {"ModelName": "n", "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "x", "Path": "tos://b/n/"}},
    )["ModelID"]
    attempt(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://b/n/"}})  # Path of model n
    outcomes.append(repr(store.get_model_next_version(ACCOUNT, {"ModelID": model_id})))
    outcomes.extend(repr(row) for row in _rows(store))
    names = {model_id: "<M>", other: "<O>", new: "<N>"}
    for k, outcome in enumerate(outcomes):
        for found, name in names.items():
            outcome = outcome.replace(found, name)
        outcomes[k] = outcome
    return outcomes


def _rows(store: Store) -> list[tuple[Any, ...]]:
    """Every stored column of every version and model, as the database holds it (not as read back)."""
    database = store.engine.url.database
    assert database is not None
    with sqlite3.connect(database) as conn:
        versions = conn.execute("SELECT * FROM model_versions ORDER BY path").fetchall()
        models = conn.execute("SELECT * FROM models ORDER BY name").fetchall()
    return [*versions, *models]


def _sent(store: Store) -> list[str]:
    """The SQL statements the store sends through SQLAlchemy from now on."""
    statements: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    return statements


def _store(tmp_path: Path, name: str, group_commit: bool, clock: FakeClock) -> Store:
    return Store(sqlite_url(tmp_path / f"{name}.sqlite"), group_commit=group_commit, clock=clock)


def test_raw_registrations_write_and_answer_what_the_session_path_does(tmp_path: Path) -> None:
    outcomes: dict[bool, list[Any]] = {}
    inserts: dict[bool, list[str]] = {}
    for raw in (True, False):
        store = _store(tmp_path, f"raw-{raw}", raw, FakeClock())
        try:
            sent = _sent(store)
            clock: Callable[[], Any] = store._clock
            assert isinstance(clock, FakeClock)
            outcomes[raw] = _script(store, clock)
            inserts[raw] = [s for s in sent if s.startswith("INSERT INTO model_versions")]
        finally:
            store.close()
    assert outcomes[True] == outcomes[False]
    # Both ran: the raw path sent the added versions' inserts around SQLAlchemy (only the 3 new
    # models' first versions went through it), the other path all of them.
    assert len(inserts[True]) == 3 and len(inserts[False]) == 3 + 5
    assert any("TensorRT:8', 'tos://b/3', 'Perf'" in o for o in outcomes[True])


@pytest.mark.parametrize("raw", [True, False])
def test_a_failure_after_taking_a_number_gives_it_back(tmp_path: Path, raw: bool) -> None:
    store = _store(tmp_path, "fail", raw, FakeClock())
    try:
        model_id = store.create_model(
            ACCOUNT,
            {
                "ModelName": "m",
                "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "x", "Path": "tos://b/1/"},
            },
        )["ModelID"]
        store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-1"})
        # No version left to inherit a format from: refused once version 2 was taken, and rolled back.
        with pytest.raises(ApiError, match=r"VersionInfo\.ModelFormat"):
            store.create_model(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://b/2/"}})
        assert store.get_model_next_version(ACCOUNT, {"ModelID": model_id}) == {"ModelVersion": 2}
        assert _rows(store)[0][0] == model_id  # no version row, the model only
    finally:
        store.close()

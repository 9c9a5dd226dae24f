"""GetModel and GetModelVersion read one statement without a Session or a transaction
(``StoreBase._single_read``: SQLite's driver connection, PostgreSQL in autocommit): their answers equal
the ORM's, byte for byte once rendered, for every shape of row (optional fields absent and present,
JSON of every kind, non-ASCII text, microseconds), on both databases; NotFound as before; the pooled
connection comes back with no transaction open.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from mlp_server.errors import ApiError
from mlp_server.store import Store
from mlp_server.store.models import _model_item, _version_item, owned_version
from mlp_server.store.schema import ModelRow

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register, sent_statements

SHAPES: list[dict[str, Any]] = [
    {},
    {"Description": 'é ✓ \u2028 "quoted"', "SourceType": "Local"},
    {
        "TensorConfig": {"Inputs": [{"Name": "x", "DType": "FP32", "Shape": [1, -1, 3]}], "Outputs": []},
        "MetricsList": [{"MetricsType": "Accuracy", "MetricsValue": 0.125, "Extra": None}],
        "ModelTags": {"team": "ç", "nested": {"list": [True, False, None, 1.5e300]}},
    },
    {"TensorConfig": {}, "MetricsList": [], "ModelTags": {}},
]


def _orm(store: Store, account_id: int, model_id: str, version_ids: list[str]) -> tuple[Any, list[Any]]:
    """The answers as the ORM reads them (the path these reads took before)."""
    with store._read() as session:
        model = session.get(ModelRow, model_id)
        assert model is not None
        versions = [_version_item(owned_version(session, account_id, v)) for v in version_ids]
        return _model_item(model), versions


def _bytes(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def test_answers_equal_the_orm_byte_for_byte(store: Store, clock: FakeClock) -> None:
    clock.set(clock.now + timedelta(microseconds=654321))
    model_id, _ = register(store, name="naïve model", ModelFormat="ONNX", ModelType="ONNX:1.0")
    ids = [f"{model_id}-1"]
    for shape in SHAPES:
        clock.tick(0.5)
        ids.append(f"{model_id}-{register(store, model_id=model_id, **shape)[1]}")
    base = f"{model_id}-2"
    ids.append(f"{model_id}-{register(store, model_id=model_id, BaseModelVersionID=base)[1]}")
    store.update_model_version(
        ACCOUNT, {"ModelVersionID": ids[1], "TensorConfig": {"Inputs": [{"Name": "ü"}]}}
    )
    empty, _ = register(store, OTHER_ACCOUNT, name="emptied")
    store.delete_model_version(OTHER_ACCOUNT, {"ModelVersionID": f"{empty}-1"})
    model, versions = _orm(store, ACCOUNT, model_id, ids)
    assert _bytes(store.get_model(ACCOUNT, {"ModelID": model_id})) == _bytes(model)
    for version_id, expected in zip(ids, versions, strict=True):
        got = store.get_model_version(ACCOUNT, {"ModelVersionID": version_id})
        assert _bytes(got) == _bytes(expected)
        assert list(got) == list(expected)  # the same keys in the same order
    # A model without versions: no LatestVersion.
    model, _ = _orm(store, OTHER_ACCOUNT, empty, [])
    assert store.get_model(OTHER_ACCOUNT, {"ModelID": empty}) == model and "LatestVersion" not in model


def test_not_found_for_another_account_or_no_such_row(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    for account, body in ((OTHER_ACCOUNT, model_id), (ACCOUNT, "m-20210812070750-nosuch")):
        with pytest.raises(ApiError) as missing:
            store.get_model(account, {"ModelID": body})
        assert missing.value.code == "NotFound"
    for account, version_id in ((OTHER_ACCOUNT, f"{model_id}-1"), (ACCOUNT, f"{model_id}-2")):
        with pytest.raises(ApiError) as missing:
            store.get_model_version(account, {"ModelVersionID": version_id})
        assert missing.value.code == "NotFound"


def test_one_statement_and_no_transaction_left_open(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    with sent_statements(store) as seen:
        store.get_model(ACCOUNT, {"ModelID": model_id})
        store.get_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-1"})
    statements = [" ".join(s.split()).upper() for s, _ in seen]
    if store.dialect == "sqlite":
        assert statements == []  # the driver's own cursor: no SQLAlchemy statement, no BEGIN
    else:
        assert len(statements) == 2 and all(s.startswith("SELECT") for s in statements), statements
    # The pooled connection is back in autocommit's opposite, idle: a write still commits or rolls back.
    register(store, model_id=model_id)
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_count FROM models")).scalar_one() == 2
        if store.dialect == "postgresql":
            assert conn.connection.driver_connection.autocommit is False  # type: ignore[union-attr]

"""Version numbering, model/version fields and their life cycle."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from mlp_server.errors import ApiError
from mlp_server.store import Store

from .helpers import ACCOUNT, OTHER_ACCOUNT, FakeClock, register, register_many, source_task, version_info


def next_version(store: Store, model_id: str | None) -> int:
    body = {} if model_id is None else {"ModelID": model_id}
    result = store.get_model_next_version(ACCOUNT, body)
    assert set(result) == {"ModelVersion"}
    return int(result["ModelVersion"])


def test_versions_start_at_one_and_count_up(store: Store) -> None:
    model_id, first = register(store)
    later = [register(store, model_id=model_id)[1] for _ in range(4)]
    assert [first, *later] == [1, 2, 3, 4, 5]


def test_model_id_shape(store: Store, clock: FakeClock) -> None:
    model_id, _ = register(store)
    prefix, stamp, suffix = model_id.split("-")
    assert (prefix, stamp) == ("m", "20210812070750")
    assert len(suffix) == 5 and suffix.isalnum() and suffix == suffix.lower()


def test_next_version_agrees_with_the_next_registration(store: Store) -> None:
    assert next_version(store, None) == 1
    model_id, _ = register(store)
    for _ in range(3):
        predicted = next_version(store, model_id)
        assert register(store, model_id=model_id)[1] == predicted


def test_numbers_are_never_reused_after_deleting_the_latest(store: Store) -> None:
    model_id, _ = register(store)
    register(store, model_id=model_id)
    register(store, model_id=model_id)
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-3"})
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-2"})
    assert next_version(store, model_id) == 4
    assert register(store, model_id=model_id)[1] == 4


def test_numbers_are_never_reused_after_deleting_every_version(store: Store) -> None:
    model_id, _ = register(store)
    register(store, model_id=model_id)
    for n in (1, 2):
        store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-{n}"})
    model = store.get_model(ACCOUNT, {"ModelID": model_id})
    assert model["ModelVersionsCount"] == 0
    assert "LatestVersion" not in model
    assert register(store, model_id=model_id)[1] == 3


def test_count_and_latest_version_follow_deletes(store: Store) -> None:
    model_id, _ = register(store)
    for _ in range(4):
        register(store, model_id=model_id)

    def counts() -> tuple[int, str | None]:
        model = store.get_model(ACCOUNT, {"ModelID": model_id})
        listed = store.list_models(ACCOUNT, {})["List"][0]
        assert listed == model
        return model["ModelVersionsCount"], model.get("LatestVersion")

    assert counts() == (5, "5")
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-2"})
    assert counts() == (4, "5")
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-5"})
    assert counts() == (3, "4")
    register(store, model_id=model_id)
    assert counts() == (4, "6")


def test_concurrent_registrations_from_threads_sharing_a_store(store: Store) -> None:
    model_id, _ = register(store)

    def worker(_: int) -> list[int]:
        return [register(store, model_id=model_id)[1] for _ in range(10)]

    with ThreadPoolExecutor(8) as pool:
        numbers = [n for batch in pool.map(worker, range(8)) for n in batch]
    assert sorted(numbers) == list(range(2, 82))
    assert next_version(store, model_id) == 82
    assert store.get_model(ACCOUNT, {"ModelID": model_id})["ModelVersionsCount"] == 81


def test_concurrent_registrations_from_separate_engines(store: Store, db_url: str) -> None:
    # Each thread opens its own Store (own pool and connections), as separate processes would.
    model_id, _ = register(store)
    with ThreadPoolExecutor(8) as pool:
        batches = list(pool.map(lambda _: register_many(db_url, model_id, 10), range(8)))
    assert sorted(n for batch in batches for n in batch) == list(range(2, 82))
    assert all(batch == sorted(batch) for batch in batches)


def test_concurrent_registrations_from_processes(store: Store, db_url: str) -> None:
    model_id, _ = register(store)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        batches = pool.starmap(register_many, [(db_url, model_id, 10)] * 3)
    assert sorted(n for batch in batches for n in batch) == list(range(2, 32))


def test_adding_a_version_keeps_the_model_fields_and_inherits_format(store: Store) -> None:
    model_id, _ = register(store, name="first", ModelFormat="ONNX", ModelType="ONNX:1.10")
    body = {"ModelID": model_id, "ModelName": "ignored", "VersionInfo": {"Path": "tos://bucket/m/2/"}}
    assert store.create_model(ACCOUNT, body)["VersionInfo"]["ModelVersion"] == 2
    assert store.get_model(ACCOUNT, {"ModelID": model_id})["ModelName"] == "first"
    version = store.get_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-2"})
    assert (version["ModelFormat"], version["ModelType"], version["Path"]) == (
        "ONNX",
        "ONNX:1.10",
        "tos://bucket/m/2/",
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1", "Path": "tos://b/k/"}}, "ModelName"),
        (
            {"ModelName": "m", "VersionInfo": {"ModelType": "ONNX:1", "Path": "tos://b/k/"}},
            "VersionInfo.ModelFormat",
        ),
        (
            {"ModelName": "m", "VersionInfo": {"ModelFormat": "ONNX", "Path": "tos://b/k/"}},
            "VersionInfo.ModelType",
        ),
        (
            {"ModelName": "m", "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1"}},
            "VersionInfo.Path",
        ),
    ],
)
def test_a_new_model_needs_its_fields(store: Store, body: dict[str, object], field: str) -> None:
    with pytest.raises(ApiError) as caught:
        store.create_model(ACCOUNT, body)
    assert caught.value.code == "InvalidParameter"
    assert caught.value.message.startswith(field)
    assert store.list_models(ACCOUNT, {})["Total"] == 0


def test_adding_a_version_to_an_unknown_model_is_not_found(store: Store) -> None:
    with pytest.raises(ApiError) as caught:
        register(store, model_id="m-20210812150750-nope0")
    assert caught.value.code == "NotFound"


def test_a_failed_registration_does_not_consume_a_number(store: Store) -> None:
    model_id, _ = register(store, name="m")
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-1"})
    with pytest.raises(ApiError):  # nothing to inherit ModelFormat from
        store.create_model(ACCOUNT, {"ModelID": model_id, "VersionInfo": {"Path": "tos://b/k/"}})
    assert next_version(store, model_id) == 2


def test_model_and_version_shapes(store: Store) -> None:
    model_id, _ = register(store, name="resnet", Path="tos://bucket/m/1/")
    assert store.get_model(ACCOUNT, {"ModelID": model_id}) == {
        "ModelID": model_id,
        "ModelName": "resnet",
        "CreateTime": "2021-08-12T07:07:50+00:00",
        "ModelVersionsCount": 1,
        "LatestVersion": "1",
    }
    assert store.get_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-1"}) == {
        "ModelVersionID": f"{model_id}-1",
        "ModelVersion": 1,
        "ModelFormat": "SavedModel",
        "ModelType": "TensorFlow:2.4",
        "Path": "tos://bucket/m/1/",
        "Description": "",
        "SourceType": "TOS",
        "CreateTime": "2021-08-12T07:07:50+00:00",
        "TensorConfig": {"Inputs": []},
    }


def test_every_optional_field_round_trips(store: Store) -> None:
    tensor_config = {"Inputs": [{"TensorName": "x", "Shape": [1, 3], "DType": "FLOAT"}], "Outputs": []}
    metrics = [{"MetricsType": "Perf", "Params": "{}", "MetricsData": '{"qps": 3}'}]
    tags = [{"Key": "team", "Value": "vision"}]
    base = f"{register(store, name='base')[0]}-1"
    task = source_task(store, base)
    body = {
        "ModelName": "conv",
        "ModelCategory": "ImageClassification",
        "DatasetID": "d-1",
        "VersionInfo": {
            "ModelFormat": "TensorRT",
            "ModelType": "TensorRT:8",
            "Path": "tos://b/k/",
            "SourceType": "Perf",
            "Description": "converted",
            "TensorConfig": tensor_config,
            "MetricsList": metrics,
            "ModelTags": tags,
            "BaseModelVersionID": base,
            "SourceId": task,
        },
    }
    model_id = store.create_model(ACCOUNT, body)["ModelID"]
    assert store.get_model(ACCOUNT, {"ModelID": model_id})["ModelCategory"] == "ImageClassification"
    version = store.get_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-1"})
    assert {
        k: version[k] for k in ("SourceType", "Description", "TensorConfig", "MetricsList", "ModelTags")
    } == {
        "SourceType": "Perf",
        "Description": "converted",
        "TensorConfig": tensor_config,
        "MetricsList": metrics,
        "ModelTags": tags,
    }
    assert version["BaseModelVersionID"] == base
    assert version["SourceId"] == task


def test_update_model_renames_only_when_asked(store: Store) -> None:
    model_id, _ = register(store, name="old")
    assert store.update_model(ACCOUNT, {"ModelID": model_id}) == {"ModelID": model_id}
    assert store.get_model(ACCOUNT, {"ModelID": model_id})["ModelName"] == "old"
    store.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": "new"})
    assert store.get_model(ACCOUNT, {"ModelID": model_id})["ModelName"] == "new"


def test_update_model_version_changes_only_given_fields(store: Store) -> None:
    model_id, _ = register(store, Description="keep")
    version_id = f"{model_id}-1"
    tensor_config = {"Inputs": [{"TensorName": "x", "Shape": [1], "DType": "INT64"}]}
    metrics = [{"MetricsType": "TabularRegression", "Params": "{}", "MetricsData": "{}"}]
    store.update_model_version(ACCOUNT, {"ModelVersionID": version_id, "TensorConfig": tensor_config})
    version = store.get_model_version(ACCOUNT, {"ModelVersionID": version_id})
    assert (version["Description"], version["TensorConfig"], "MetricsList" in version) == (
        "keep",
        tensor_config,
        False,
    )
    result = store.update_model_version(
        ACCOUNT, {"ModelVersionID": version_id, "Description": "", "MetricsList": metrics}
    )
    assert result == {"ModelVersionID": version_id}
    version = store.get_model_version(ACCOUNT, {"ModelVersionID": version_id})
    assert (version["Description"], version["TensorConfig"], version["MetricsList"]) == (
        "",
        tensor_config,
        metrics,
    )


def test_delete_model_removes_it_and_its_versions(store: Store) -> None:
    model_id, _ = register(store)
    register(store, model_id=model_id)
    kept, _ = register(store, name="other")
    assert store.delete_model(ACCOUNT, {"ModelID": model_id}) == {"ModelID": model_id}
    for call, body in [
        (store.get_model, {"ModelID": model_id}),
        (store.get_model_version, {"ModelVersionID": f"{model_id}-1"}),
        (store.list_model_versions, {"ModelID": model_id}),
        (store.delete_model, {"ModelID": model_id}),
    ]:
        with pytest.raises(ApiError) as caught:
            call(ACCOUNT, body)
        assert caught.value.code == "NotFound"
    assert [m["ModelID"] for m in store.list_models(ACCOUNT, {})["List"]] == [kept]


def test_deleted_version_is_gone(store: Store) -> None:
    model_id, _ = register(store)
    store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-1"})
    for call in (store.get_model_version, store.delete_model_version, store.update_model_version):
        with pytest.raises(ApiError) as caught:
            call(ACCOUNT, {"ModelVersionID": f"{model_id}-1"})
        assert caught.value.code == "NotFound"


def test_concurrent_resends_of_one_registration_make_one_version(store: Store, db_url: str) -> None:
    # CreateModel is idempotent by Path: resends racing each other (each on its own engine, as from
    # several server processes) all answer the one version they made, on SQLite and PostgreSQL.
    model_id, _ = register(store)
    body = {"ModelID": model_id, "VersionInfo": version_info()}

    def resend(_: int) -> tuple[str, int]:
        other = Store(db_url)
        try:
            result = other.create_model(ACCOUNT, body)
        finally:
            other.close()
        return result["ModelID"], result["VersionInfo"]["ModelVersion"]

    with ThreadPoolExecutor(8) as pool:
        answers = set(pool.map(resend, range(16)))
    assert answers == {(model_id, 2)}
    assert next_version(store, model_id) == 3
    assert store.get_model(ACCOUNT, {"ModelID": model_id})["ModelVersionsCount"] == 2


def test_a_new_model_id_that_collides_is_drawn_again(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlp_server.store import base

    drawn = iter(["m-20210812070750-aaaaa", "m-20210812070750-aaaaa", "m-20210812070750-bbbbb"])
    monkeypatch.setattr(base, "new_id", lambda _prefix, _now: next(drawn))
    first, _ = register(store, name="first")
    second, _ = register(store, name="second")
    assert (first, second) == ("m-20210812070750-aaaaa", "m-20210812070750-bbbbb")
    listed = store.list_models(ACCOUNT, {"SortBy": "ModelName", "SortOrder": "Ascend"})
    assert [(m["ModelID"], m["ModelName"]) for m in listed["List"]] == [(first, "first"), (second, "second")]
    assert listed["Total"] == 2


def test_a_conversions_provenance_must_be_the_accounts_own(store: Store) -> None:
    """InnerCreateModel's BaseModelVersionID and SourceId are checked in the registration's transaction:
    a made-up or another account's version, or a task of another version, records nothing."""
    model_id, _ = register(store)
    base = f"{model_id}-1"
    task = source_task(store, base)
    other_version = f"{register(store, model_id=model_id)[0]}-2"
    theirs = f"{register(store, OTHER_ACCOUNT)[0]}-1"
    cases = [
        ({"BaseModelVersionID": "m-20990101000000-zzzzz-1"}, "NotFound", "VersionInfo.BaseModelVersionID"),
        ({"BaseModelVersionID": theirs}, "NotFound", "VersionInfo.BaseModelVersionID"),
        ({"SourceId": source_task(store, theirs, OTHER_ACCOUNT)}, "NotFound", "VersionInfo.SourceId"),
        ({"BaseModelVersionID": other_version, "SourceId": task}, "InvalidParameter", "VersionInfo.SourceId"),
    ]
    for provenance, code, field in cases:
        for new_model in (True, False):
            body: dict[str, Any] = {"VersionInfo": version_info(SourceType="Perf", **provenance)}
            body.update({"ModelName": "converted"} if new_model else {"ModelID": model_id})
            with pytest.raises(ApiError) as caught:
                store.create_model(ACCOUNT, body)
            assert (caught.value.code, caught.value.message.split(":")[0]) == (code, field)
    assert store.list_model_versions(ACCOUNT, {"ModelID": model_id})["Total"] == 2
    assert store.list_models(ACCOUNT, {"ModelName": "converted"})["Total"] == 0
    info = version_info(SourceType="Perf", BaseModelVersionID=base, SourceId=task)
    number = store.create_model(ACCOUNT, {"ModelID": model_id, "VersionInfo": info})["VersionInfo"][
        "ModelVersion"
    ]
    got = store.get_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-{number}"})
    assert (got["BaseModelVersionID"], got["SourceId"]) == (base, task)

"""Version numbering over real HTTP: concurrent registrations, the next number, deletes.

Numbers are handed out by the model's counter: consecutive under concurrency, never reused after a
delete (the document: "its number is never given again"), and GetModelNextVersion tells the truth.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

from .helpers import Api, LiveServer, error_of, fresh_upload, version_info

THREADS = 8
PER_THREAD = 5


def next_version(api: Api, model_id: str | None = None) -> int:
    body = {} if model_id is None else {"ModelID": model_id}
    number: int = api.ok("GetModelNextVersion", body)["ModelVersion"]
    return number


def versions(api: Api, model_id: str) -> list[int]:
    listed = api.list_all("ListModelVersions", ModelID=model_id, SortBy="ModelVersion", SortOrder="Ascend")
    return [v["ModelVersion"] for v in listed]


def summary(api: Api, model_id: str) -> tuple[int, str | None]:
    model = api.ok("GetModel", {"ModelID": model_id})
    return model["ModelVersionsCount"], model.get("LatestVersion")


def register_concurrently(server: LiveServer, body: Callable[[], dict[str, Any]]) -> list[dict[str, Any]]:
    """THREADS clients, each with its own connection, PER_THREAD registrations each, started together.
    Each registration its own upload: CreateModel is idempotent by Path."""
    barrier = threading.Barrier(THREADS)
    bodies = [[body() for _ in range(PER_THREAD)] for _ in range(THREADS)]

    def worker(index: int) -> list[dict[str, Any]]:
        with Api(server.url, server.default_keys()) as api:
            barrier.wait(timeout=30)
            return [api.ok("CreateModel", b) for b in bodies[index]]

    with ThreadPoolExecutor(THREADS) as pool:
        return [result for results in pool.map(worker, range(THREADS)) for result in results]


def test_concurrent_registrations_get_distinct_consecutive_numbers(server: LiveServer, admin: Api) -> None:
    path = server.upload(admin.account_id, "modelrepo/concurrent/1")
    fresh = partial(fresh_upload, server, admin.account_id, "modelrepo/concurrent")
    first = admin.register(path, name="concurrent")
    model_id = first["ModelID"]
    assert first["VersionInfo"] == {"ModelVersionID": f"{model_id}-1", "ModelVersion": 1}

    results = register_concurrently(
        server, lambda: {"ModelID": model_id, "VersionInfo": version_info(fresh())}
    )

    numbers = sorted(r["VersionInfo"]["ModelVersion"] for r in results)
    total = 1 + THREADS * PER_THREAD
    assert numbers == list(range(2, total + 1))
    for result in results:
        assert result["ModelID"] == model_id
        number = result["VersionInfo"]["ModelVersion"]
        assert result["VersionInfo"]["ModelVersionID"] == f"{model_id}-{number}"
    assert versions(admin, model_id) == list(range(1, total + 1))
    assert summary(admin, model_id) == (total, str(total))
    assert next_version(admin, model_id) == total + 1
    # Registering to one model left the others alone.
    assert admin.ok("ListModels", {})["Total"] == 1


def test_concurrent_new_models_each_start_at_version_one(server: LiveServer, admin: Api) -> None:
    fresh = partial(fresh_upload, server, admin.account_id, "modelrepo/many")
    results = register_concurrently(
        server, lambda: {"ModelName": "many", "VersionInfo": version_info(fresh())}
    )
    model_ids = {r["ModelID"] for r in results}
    assert len(model_ids) == THREADS * PER_THREAD
    assert {r["VersionInfo"]["ModelVersion"] for r in results} == {1}
    assert len(admin.list_all("ListModels", ModelName="many")) == THREADS * PER_THREAD


def test_next_version_agrees_with_the_next_registration(server: LiveServer, admin: Api) -> None:
    path = server.upload(admin.account_id, "modelrepo/next/1")
    fresh = partial(fresh_upload, server, admin.account_id, "modelrepo/next")
    assert next_version(admin) == 1  # a new model
    model_id = admin.register(path)["ModelID"]
    for _ in range(4):
        expected = next_version(admin, model_id)
        assert next_version(admin, model_id) == expected  # asking does not take the number
        got = admin.register(fresh(), model_id=model_id)["VersionInfo"]["ModelVersion"]
        assert got == expected
    assert next_version(admin) == 1


def test_numbers_are_never_reused_after_deletes(server: LiveServer, admin: Api) -> None:
    path = server.upload(admin.account_id, "modelrepo/reuse/1")
    fresh = partial(fresh_upload, server, admin.account_id, "modelrepo/reuse")
    model_id = admin.register(path)["ModelID"]
    for _ in range(4):
        admin.register(fresh(), model_id=model_id)
    assert versions(admin, model_id) == [1, 2, 3, 4, 5]

    # Delete the latest: the count and LatestVersion follow, the next number does not go back.
    admin.ok("DeleteModelVersion", {"ModelVersionID": f"{model_id}-5"})
    assert summary(admin, model_id) == (4, "4")
    assert next_version(admin, model_id) == 6
    assert admin.register(fresh(), model_id=model_id)["VersionInfo"]["ModelVersion"] == 6
    assert summary(admin, model_id) == (5, "6")

    # Delete from the middle, then the latest again.
    admin.ok("DeleteModelVersion", {"ModelVersionID": f"{model_id}-2"})
    admin.ok("DeleteModelVersion", {"ModelVersionID": f"{model_id}-6"})
    assert versions(admin, model_id) == [1, 3, 4]
    assert summary(admin, model_id) == (3, "4")
    assert next_version(admin, model_id) == 7

    # A deleted version is gone, and deleting it again is NotFound.
    for action in ("GetModelVersion", "DeleteModelVersion", "UpdateModelVersion"):
        status, code, _ = error_of(admin.call(action, {"ModelVersionID": f"{model_id}-6"}))
        assert (status, code) == (404, "NotFound"), action

    # Every version deleted: the model stays, without versions, and still counts on.
    for number in (1, 3, 4):
        admin.ok("DeleteModelVersion", {"ModelVersionID": f"{model_id}-{number}"})
    assert summary(admin, model_id) == (0, None)
    assert versions(admin, model_id) == []
    [listed] = admin.list_all("ListModels")
    assert listed["ModelVersionsCount"] == 0 and "LatestVersion" not in listed
    assert next_version(admin, model_id) == 7
    assert admin.register(fresh(), model_id=model_id)["VersionInfo"]["ModelVersion"] == 7
    assert summary(admin, model_id) == (1, "7")


def test_a_new_version_inherits_format_and_type(server: LiveServer, admin: Api) -> None:
    path = server.upload(admin.account_id, "modelrepo/inherit/1")
    fresh = partial(fresh_upload, server, admin.account_id, "modelrepo/inherit")
    model_id = admin.register(path, ModelFormat="ONNX", ModelType="ONNX:1.9")["ModelID"]
    second = admin.ok("CreateModel", {"ModelID": model_id, "VersionInfo": {"Path": fresh()}})
    got = admin.ok("GetModelVersion", {"ModelVersionID": second["VersionInfo"]["ModelVersionID"]})
    assert (got["ModelFormat"], got["ModelType"], got["SourceType"]) == ("ONNX", "ONNX:1.9", "TOS")


def test_delete_model_removes_all_its_versions(server: LiveServer, admin: Api) -> None:
    path = server.upload(admin.account_id, "modelrepo/delete/1")
    fresh = partial(fresh_upload, server, admin.account_id, "modelrepo/delete")
    model_id = admin.register(path, name="doomed")["ModelID"]
    for _ in range(3):
        admin.register(fresh(), model_id=model_id)
    keep = admin.register(fresh(), name="kept")["ModelID"]

    assert admin.ok("DeleteModel", {"ModelID": model_id}) == {"ModelID": model_id}

    for number in range(1, 5):
        status, code, _ = error_of(admin.call("GetModelVersion", {"ModelVersionID": f"{model_id}-{number}"}))
        assert (status, code) == (404, "NotFound")
    for action, body in [
        ("GetModel", {"ModelID": model_id}),
        ("ListModelVersions", {"ModelID": model_id}),
        ("GetModelNextVersion", {"ModelID": model_id}),
        ("DeleteModel", {"ModelID": model_id}),
        ("CreateModel", {"ModelID": model_id, "VersionInfo": version_info(fresh())}),
    ]:
        status, code, _ = error_of(admin.call(action, body))
        assert (status, code) == (404, "NotFound"), action
    assert [m["ModelID"] for m in admin.list_all("ListModels")] == [keep]
    assert versions(admin, keep) == [1]

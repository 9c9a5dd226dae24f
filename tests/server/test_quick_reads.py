"""The embedded platform's quick reads (``mlp_server.quick_reads``) against the full platform.

Every answer the quick reads give must be the full platform's answer, byte for byte but for the
RequestId: the same signed requests go to both on one data folder (paging, filters, both sorts in
both orders, ties, LIKE's special characters, case, another account's models, GetModel). What they
decline (errors, anything unusual) the embedded transport hands to the full platform, which answers
it as before (the error names the field). And a data folder is read quickly only when opening the
full platform would change nothing in it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from server_store.helpers import FakeClock, register, version_info
from sqlalchemy import text

from mlp_server import quick_reads
from mlp_server.platform import DEFAULT_ACCOUNT_ID, build_app
from mlp_server.quick_reads import QuickReads, open_quick
from mlp_server.settings import ServerSettings
from mlp_server.store import Store
from mlp_server.store.migrate import HEAD_REVISION
from mlp_server.store.model_index import recount
from mlp_server.store.schema import Base
from mlp_testing import Keys, read_default_keys
from volcengine_ml_platform import embedded
from volcengine_ml_platform.embedded import EmbeddedPlatform, EmbeddedTransport

from .helpers import Api

OTHER = 2100000077
RICH: dict[str, Any] = {
    "ModelFormat": "ONNX",
    "ModelType": "ONNX:1.23",
    "Path": "tos://bucket/m/rich/",
    "Description": "every optional field",
    "SourceType": "Local",
    "TensorConfig": {"Inputs": [{"TensorName": "x", "DType": "FLOAT", "Shape": {"MinShape": [1, 3]}}]},
    "MetricsList": [{"MetricsType": "Accuracy", "Params": "{}", "MetricsData": '{"top1": 0.9}'}],
    "ModelTags": [{"Key": "team", "Value": "vision"}],
}
RANGE = {"MinShape": [1, 3], "MaxShape": [2, 3]}
NAMES = [
    "alpha-1",
    "Alpha-2",
    "ALPHA_3",
    "beta%1",
    "beta_1",
    "b/eta",
    "Éclair",
    "éclair",
    "same",
    "same",
    "same",
    "zeta",
    "model-with-a-long-name-0001",
]


@dataclass
class Folder:
    settings: ServerSettings
    keys: Keys
    app: Any
    ids: list[str]


@pytest.fixture(autouse=True)
def _closed_with_the_last_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests watch the full platform open and close with its sessions: no linger (0, the 0.9
    behaviour). The linger has its own tests (tests/e2e/test_client_lifetime.py)."""
    monkeypatch.setenv(embedded.LINGER_ENV, "0")


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Folder]:
    """A data folder opened by the full platform, with models of two accounts: names that tie, that
    differ by case only (ASCII and not), that hold LIKE's special characters, created at times that
    tie too, with 0 to 3 versions and a category or none."""
    data_dir = tmp_path_factory.mktemp("quick") / "platform"
    settings = ServerSettings(data_dir=data_dir)
    app = build_app(settings)  # creates the database, the default account and its keys
    keys = read_default_keys(data_dir)
    clock = FakeClock()
    store = Store(settings.db_url, clock=clock)
    ids: list[str] = []
    try:
        for n, name in enumerate(NAMES):
            if n % 3:
                clock.tick()  # every third model shares its create time with the one before
            body: dict[str, Any] = {"ModelName": name, "VersionInfo": version_info()}
            if n % 2:
                body["ModelCategory"] = "CV"
            model_id = store.create_model(DEFAULT_ACCOUNT_ID, body)["ModelID"]
            for _ in range(n % 4 - 1):
                register(store, DEFAULT_ACCOUNT_ID, model_id=model_id)
            if n == 4:  # a model whose only version is gone: no LatestVersion
                store.delete_model_version(DEFAULT_ACCOUNT_ID, {"ModelVersionID": f"{model_id}-1"})
            if n == 7:  # a version with every optional field, registered earlier than the others
                clock.set(clock.now - timedelta(hours=1))
                job = {
                    "ModelVersionID": f"{model_id}-1",
                    "TensorConfig": {"Inputs": [{"TensorName": "x", "DType": "FLOAT", "Shape": RANGE}]},
                    "JobType": "PERF_ONLY",
                    "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"]}],
                }
                job_id = store.create_perf_job(DEFAULT_ACCOUNT_ID, job)["JobID"]
                (task,) = store.list_perf_tasks(DEFAULT_ACCOUNT_ID, {"JobID": job_id})["List"]
                provenance = {"BaseModelVersionID": f"{model_id}-1", "SourceId": task["TaskID"]}
                info = {**RICH, **provenance}
                store.create_model(DEFAULT_ACCOUNT_ID, {"ModelID": model_id, "VersionInfo": info})
                clock.set(clock.now + timedelta(hours=1))
                store.update_model_version(
                    DEFAULT_ACCOUNT_ID, {"ModelVersionID": f"{model_id}-2", "Description": "réseau ✓"}
                )
            if n == len(NAMES) - 1:  # a long history (create times that tie), its highest deleted
                for k in range(16):
                    if k % 3:
                        clock.tick()
                    register(store, DEFAULT_ACCOUNT_ID, model_id=model_id)
                for number in (5, 17):
                    store.delete_model_version(DEFAULT_ACCOUNT_ID, {"ModelVersionID": f"{model_id}-{number}"})
            ids.append(model_id)
        for name in ("alpha-other", "same"):
            register(store, OTHER, name=name)
        # The models named "same" get create times in the opposite order of their ids (which start
        # with their create time): every sort key then decides some order. Written around the store,
        # so its counters and stretches are counted again, as after a bulk load.
        same = sorted(model_id for model_id, name in zip(ids, NAMES, strict=True) if name == "same")
        with store.engine.begin() as conn:
            for n, model_id in enumerate(reversed(same)):
                conn.execute(
                    text("UPDATE models SET create_time = :t WHERE id = :m"),
                    {"t": f"2021-08-12 07:30:0{n}.000000", "m": model_id},
                )
            recount(conn)
    finally:
        store.close()
    yield Folder(settings, keys, app, ids)
    app.state.platform.store.close()


class QuickOnly(httpx.BaseTransport):
    """Answers with the quick reads alone; a declined request is answered 599 (no platform)."""

    def __init__(self, quick: QuickReads) -> None:
        self.quick = quick

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        answer = embedded.answer_quickly(self.quick, request)
        return answer if answer is not None else httpx.Response(599, request=request)


@pytest.fixture(scope="module")
def both(folder: Folder) -> Iterator[tuple[Api, Api]]:
    quick = open_quick(folder.settings)
    assert quick is not None
    with (
        Api("http://ml-platform.embedded", folder.keys, transport=QuickOnly(quick)) as fast,
        Api("http://ml-platform.embedded", folder.keys, transport=EmbeddedTransport(folder.app)) as full,
    ):
        yield fast, full
    quick.close()


def without_request_id(response: httpx.Response) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    request_id = response.json()["ResponseMetadata"]["RequestId"]
    headers = [(k, b"ID" if v == request_id.encode() else v) for k, v in response.headers.raw]
    return response.status_code, headers, response.content.replace(request_id.encode(), b"ID")


LISTS: list[dict[str, Any]] = [
    {},
    {"Limit": 1},
    {"Limit": 100},
    {"Offset": 3, "Limit": 4},
    {"Offset": 12, "Limit": 5},
    {"Offset": 13},
    {"Offset": 1000},
    *(
        {"SortBy": by, "SortOrder": order, "Offset": offset, "Limit": 5}
        for by in ("CreateTime", "ModelName")
        for order in ("Ascend", "Descend")
        for offset in (0, 4, 9)
    ),
    {"ModelName": "same"},
    {"ModelName": "same", "SortBy": "ModelName", "SortOrder": "Ascend", "Offset": 1, "Limit": 1},
    {"ModelName": "SAME"},
    {"ModelName": "alpha-other"},  # another account's
    {"ModelNameContains": "alpha"},
    {"ModelNameContains": "ALPHA", "SortBy": "ModelName", "SortOrder": "Ascend"},
    {"ModelNameContains": "a"},
    {"ModelNameContains": "%"},
    {"ModelNameContains": "_"},
    {"ModelNameContains": "a_"},
    {"ModelNameContains": "/"},
    {"ModelNameContains": "/e"},
    {"ModelNameContains": "éclair"},
    {"ModelNameContains": "ÉCLAIR"},
    {"ModelNameContains": "lpha-", "Offset": 1, "Limit": 1},
    {"ModelNameContains": "nothing matches this"},
    {"IdContains": "m-2021"},
    {"IdContains": "M-2021", "SortBy": "ModelName"},
    {"ModelNameContains": "e", "IdContains": "m-", "SortOrder": "Ascend", "Limit": 3, "Offset": 2},
    {"ModelName": "same", "ModelNameContains": "am", "IdContains": "m"},
    {"ModelNameContains": None, "Offset": None},  # null means absent
    {"Unknown": 1},  # the document allows other fields
]


@pytest.mark.parametrize("body", LISTS, ids=lambda body: json.dumps(body, ensure_ascii=False))
def test_list_models_answers_are_the_full_platforms(both: tuple[Api, Api], body: dict[str, Any]) -> None:
    fast, full = both
    quick, reference = fast.call("ListModels", body), full.call("ListModels", body)
    assert reference.status_code == 200, reference.text
    assert quick.status_code == 200, "the quick reads declined a valid ListModels"
    assert without_request_id(quick) == without_request_id(reference)


def test_the_lists_see_every_case_of_the_data(both: tuple[Api, Api], folder: Folder) -> None:
    # The data holds what the comparisons are about (so an empty answer cannot pass them all).
    fast, _ = both
    assert fast.ok("ListModels", {"ModelName": "same"})["Total"] == 3
    assert fast.ok("ListModels", {"ModelNameContains": "%"})["Total"] == 1
    assert fast.ok("ListModels", {"ModelNameContains": "ÉCLAIR"})["Total"] == 1  # only ASCII folds
    everything = fast.ok("ListModels", {"Limit": 100})["List"]
    assert len(everything) == len(NAMES)
    # "16": the long history, whose highest number (17) was deleted.
    assert {item.get("LatestVersion") for item in everything} == {None, "1", "2", "3", "4", "16"}
    assert {item.get("ModelCategory") for item in everything} == {None, "CV"}


@pytest.mark.parametrize("which", [0, 5, 11])
def test_get_model_answers_are_the_full_platforms(both: tuple[Api, Api], folder: Folder, which: int) -> None:
    fast, full = both
    body = {"ModelID": folder.ids[which]}
    quick, reference = fast.call("GetModel", body), full.call("GetModel", body)
    assert reference.status_code == 200 and quick.status_code == 200
    assert without_request_id(quick) == without_request_id(reference)


VERSION_LISTS: list[dict[str, Any]] = [
    {},
    {"Limit": 2},
    {"Offset": 1, "Limit": 2},
    {"Offset": 9},
    *(
        {"SortBy": by, "SortOrder": order}
        for by in ("CreateTime", "ModelVersion")
        for order in ("Ascend", "Descend")
    ),
    {"ModelVersion": 2},
    {"ModelVersion": "4"},
    {"ModelVersion": 99},
]


@pytest.mark.parametrize("which", [4, 7, 8])
@pytest.mark.parametrize("body", VERSION_LISTS, ids=lambda body: json.dumps(body))
def test_version_answers_are_the_full_platforms(
    both: tuple[Api, Api], folder: Folder, which: int, body: dict[str, Any]
) -> None:
    fast, full = both
    request = {"ModelID": folder.ids[which], **body}
    quick, reference = fast.call("ListModelVersions", request), full.call("ListModelVersions", request)
    assert reference.status_code == 200, reference.text
    assert quick.status_code == 200, "the quick reads declined a valid ListModelVersions"
    assert without_request_id(quick) == without_request_id(reference)
    for item in reference.json()["Result"]["List"]:
        one = {"ModelVersionID": item["ModelVersionID"]}
        quick, reference = fast.call("GetModelVersion", one), full.call("GetModelVersion", one)
        assert quick.status_code == reference.status_code == 200
        assert without_request_id(quick) == without_request_id(reference)


@pytest.mark.parametrize(
    "body",
    [
        {"SortBy": by, "SortOrder": order, "Offset": offset, "Limit": 4}
        for by in ("CreateTime", "ModelVersion")
        for order in ("Ascend", "Descend")
        for offset in (0, 5, 7, 11, 12, 14, 15, 16)
    ],
    ids=lambda body: json.dumps(body),
)
def test_pages_of_a_long_history_are_the_full_platforms(
    both: tuple[Api, Api], folder: Folder, body: dict[str, Any]
) -> None:
    """15 versions: pages from either end (the quick reads walk the nearer one, as the store does)."""
    fast, full = both
    request = {"ModelID": folder.ids[-1], **body}
    quick, reference = fast.call("ListModelVersions", request), full.call("ListModelVersions", request)
    assert reference.status_code == 200, reference.text
    assert reference.json()["Result"]["Total"] == 15
    assert quick.status_code == 200, "the quick reads declined a valid ListModelVersions"
    assert without_request_id(quick) == without_request_id(reference)


def test_the_versions_hold_every_field_and_a_tie(both: tuple[Api, Api], folder: Folder) -> None:
    fast, _ = both
    listed = fast.ok("ListModelVersions", {"ModelID": folder.ids[7], "SortBy": "CreateTime"})["List"]
    assert [item["ModelVersion"] for item in listed] == [3, 2, 1, 4]  # 1-3 tie on CreateTime
    assert listed[-1]["ModelTags"] == RICH["ModelTags"] and listed[-1]["SourceId"].startswith("pf-")
    assert listed[1]["Description"] == "réseau ✓" and listed[0]["TensorConfig"] == {"Inputs": []}


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("ListModels", {"SortBy": "Size"}, "SortBy"),
        ("ListModels", {"SortOrder": "Sideways"}, "SortOrder"),
        ("ListModels", {"Limit": 0}, "Limit"),
        ("ListModels", {"Limit": 101}, "Limit"),
        ("ListModels", {"Offset": -1}, "Offset"),
        ("ListModels", {"Offset": "2"}, "Offset"),
        ("ListModels", {"ModelNameContains": 7}, "ModelNameContains"),
        ("GetModel", {}, "ModelID"),
        ("GetModel", {"ModelID": "m-20210812070750-nones"}, "m-20210812070750-nones"),
        ("ListModelVersions", {}, "ModelID"),
        ("ListModelVersions", {"ModelID": "m-20210812070750-nones"}, "m-20210812070750-nones"),
        ("ListModelVersions", {"ModelID": "m-20210812070750-nones", "SortBy": "Name"}, "SortBy"),
        ("ListModelVersions", {"ModelID": "m-20210812070750-nones", "ModelVersion": "x"}, "ModelVersion"),
        ("GetModelVersion", {"ModelVersionID": "m-20210812070750-nones-1"}, "m-20210812070750-nones-1"),
    ],
)
def test_errors_are_declined_and_the_full_platform_writes_them(
    both: tuple[Api, Api], folder: Folder, action: str, body: dict[str, Any], field: str
) -> None:
    fast, full = both
    assert fast.call(action, body).status_code == 599  # declined: nothing answered by the quick reads
    status, code, message = full.fails(action, body)
    assert status in (400, 404) and field in message, (code, message)
    # Through the embedded transport the user gets exactly that error.
    platform = EmbeddedPlatform(folder.settings.data_dir)
    with Api(
        "http://ml-platform.embedded", folder.keys, transport=EmbeddedTransport(platform=platform)
    ) as api:
        assert api.fails(action, body)[1:] == (code, message)


def test_another_accounts_model_is_not_found(both: tuple[Api, Api], folder: Folder) -> None:
    fast, full = both
    other_id = full.ok("ListModels", {"ModelName": "alpha-other"})
    assert other_id["Total"] == 0  # not the caller's
    store = Store(folder.settings.db_url)
    try:
        foreign = store.list_models(OTHER, {"ModelName": "alpha-other"})["List"][0]["ModelID"]
    finally:
        store.close()
    assert fast.call("GetModel", {"ModelID": foreign}).status_code == 599
    assert full.fails("GetModel", {"ModelID": foreign})[1] == "NotFound"


def test_bad_signatures_are_declined(both: tuple[Api, Api], folder: Folder) -> None:
    fast, _ = both
    wrong = Keys(folder.keys.ak, "x" * 40, folder.keys.account_id)
    unknown = Keys("AKLTnotakey", folder.keys.sk, folder.keys.account_id)
    for keys in (wrong, unknown):
        with Api("http://ml-platform.embedded", keys, transport=fast.http._transport) as api:
            assert api.call("ListModels", {}).status_code == 599
    # Other actions, the inner door and other methods are not the quick reads' either.
    assert fast.call("GetModelNextVersion", {}).status_code == 599
    assert fast.call("ListModels", {}, version="2099-01-01").status_code == 599
    assert fast.http.get("/?Action=ListModels&Version=2021-07-01").status_code == 599


def test_columns_read_are_the_schemas() -> None:
    for table, columns in quick_reads.COLUMNS_READ.items():
        assert set(columns) <= set(Base.metadata.tables[table].columns.keys()), table
    assert quick_reads.head_revision() == HEAD_REVISION


def test_a_large_account_is_left_to_the_full_store(
    both: tuple[Api, Api], monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, _ = both
    monkeypatch.setattr(quick_reads, "MAX_MODELS", len(NAMES) - 1)
    assert fast.call("ListModels", {}).status_code == 599
    monkeypatch.setattr(quick_reads, "MAX_MODELS", len(NAMES))
    assert fast.call("ListModels", {}).status_code == 200


# ---- which folders are read quickly -----------------------------------------------------------------


def test_a_new_folder_is_opened_in_full_and_then_read_quickly(tmp_path: Path) -> None:
    settings = ServerSettings(data_dir=tmp_path / "new")
    assert open_quick(settings) is None  # nothing there: the full open creates it
    platform = EmbeddedPlatform(settings.data_dir)
    try:
        assert not platform.quick
        assert (settings.data_dir / "credentials.json").is_file()
        quick = open_quick(settings)
        assert quick is not None
        quick.close()
    finally:
        platform.close()
    assert (settings.data_dir.resolve(), settings.region) not in embedded._platforms  # its last session


@pytest.fixture
def ready(tmp_path: Path) -> Iterator[ServerSettings]:
    settings = ServerSettings(data_dir=tmp_path / "ready")
    app = build_app(settings)
    app.state.platform.store.close()
    quick = open_quick(settings)
    assert quick is not None
    quick.close()
    yield settings


def _sql(settings: ServerSettings, statement: str) -> None:
    with sqlite3.connect(settings.data_dir / "mlp.sqlite3") as conn:
        conn.execute(statement)


@pytest.mark.parametrize(
    "change",
    [
        "UPDATE alembic_version SET version_num = '0007'",  # an older schema: the full open migrates
        "INSERT INTO alembic_version VALUES ('9999')",
        "DELETE FROM access_keys",
        "DELETE FROM accounts",  # the full open bootstraps an account
    ],
)
def test_a_folder_the_full_open_would_change_is_not_read_quickly(ready: ServerSettings, change: str) -> None:
    _sql(ready, "PRAGMA foreign_keys = OFF")
    with sqlite3.connect(ready.data_dir / "mlp.sqlite3") as conn:
        conn.execute(change)
        if "access_keys" in change:
            conn.execute("DELETE FROM accounts")
    assert open_quick(ready) is None


@pytest.mark.parametrize("missing", ["token.key", "objects/.tmp", "mlp.sqlite3"])
def test_a_folder_missing_what_the_full_open_makes_is_not_read_quickly(
    ready: ServerSettings, missing: str
) -> None:
    path = ready.data_dir / missing
    if path.is_dir():
        path.rmdir()
    else:
        path.unlink()
    assert open_quick(ready) is None


def test_another_database_is_not_read_quickly(ready: ServerSettings) -> None:
    other = ServerSettings(data_dir=ready.data_dir, database_url=ready.db_url)
    assert open_quick(other) is None


def test_a_model_read_quickly_then_written_uses_the_full_platform(ready: ServerSettings) -> None:
    """Reads stay quick until a request needs the full platform; from then on it answers everything."""
    keys = read_default_keys(ready.data_dir)
    platform = EmbeddedPlatform(ready.data_dir)
    key = (ready.data_dir.resolve(), ready.region)
    try:
        assert platform.quick and key not in embedded._platforms
        with Api("http://ml-platform.embedded", keys, transport=EmbeddedTransport(platform=platform)) as api:
            assert api.ok("ListModels", {}) == {"Total": 0, "List": []}
            assert key not in embedded._platforms  # answered without the full platform
            assert api.ok("GetTOSUploadPath", {"ServiceName": "modelrepo"})[
                "Bucket"
            ]  # a write: the full platform opens
            assert key in embedded._platforms and not platform.quick
            assert api.ok("ListModels", {}) == {"Total": 0, "List": []}
    finally:
        platform.close()
    assert key not in embedded._platforms  # closed with its last session


def test_a_closed_transport_leaves_its_requests_to_the_full_platform(ready: ServerSettings) -> None:
    keys = read_default_keys(ready.data_dir)
    platform = EmbeddedPlatform(ready.data_dir)
    key = (ready.data_dir.resolve(), ready.region)
    transport = EmbeddedTransport(platform=platform)
    try:
        with Api("http://ml-platform.embedded", keys, transport=transport) as api:
            assert api.ok("ListModels", {})["Total"] == 0
            assert key not in embedded._platforms
            transport.close()
            assert api.ok("ListModels", {})["Total"] == 0  # answered, by the full platform
            assert key in embedded._platforms
    finally:
        platform.close()
    assert key not in embedded._platforms  # closed with its last session


def test_async_model_reads_quickly_and_writes_through_the_full_platform(
    ready: ServerSettings, tmp_path: Path
) -> None:
    """AsyncModel on the embedded platform: reads the quick reads are sure of never open the full
    platform; a write opens it, on the caller's loop, and from then on it answers everything, with the
    same answers the sync Model gets."""
    from volcengine_ml_platform.models.model import AsyncModel, Model

    files = tmp_path / "files"
    files.mkdir()
    (files / "model.onnx").write_bytes(b"onnx")
    key = (ready.data_dir.resolve(), ready.region)

    async def run() -> tuple[Any, Any, Any, bool]:
        async with AsyncModel(data_dir=ready.data_dir, region=ready.region) as model:
            empty = await model.list_models()
            quick = key not in embedded._platforms
            created = await model.register(
                str(files), model_name="async-one", model_format="ONNX", model_type="ONNX:1.23"
            )
            assert key in embedded._platforms  # the registration opened the full platform
            listed = await model.list_models()
            versions = await model.get_model_versions(created.result.model_id)
            return empty, (created, listed), versions, quick

    import asyncio

    empty, (created, listed), versions, quick = asyncio.run(run())
    assert key not in embedded._platforms  # closed with its last session
    assert quick and empty["Result"]["Total"] == 0
    assert listed["Result"]["Total"] == 1
    assert [v["ModelVersion"] for v in versions["Result"]["List"]] == [1]
    with Model(data_dir=ready.data_dir, region=ready.region) as sync:
        assert sync.list_models().to_dict()["Result"] == listed.to_dict()["Result"]
        model_id = created.result.model_id
        assert sync.get_model_versions(model_id).to_dict()["Result"] == versions.to_dict()["Result"]
    assert key not in embedded._platforms  # closed with its last session

"""Hostile or broken input over real HTTP: one JSON policy, malformed tokens, foreign regions, storage
failures, unserialisable answers; every refusal a documented envelope, never a plain-text 500."""

from __future__ import annotations

import json
import logging
import socket
import sqlite3
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import event, text

from ml_platform_client.api.models import create_model
from ml_platform_client.models import CreateModelRequest
from mlp_server.envelope import new_request_id
from mlp_server.guard import EnvelopeGuard
from mlp_server.json_policy import MAX_DEPTH
from mlp_testing import REGION, Keys, clean_env, mlp_script
from volcengine_ml_platform.auth import Credentials, VolcSignerAuth
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.errors import ServerError
from volcengine_ml_platform.session import Session
from volcengine_ml_platform.transfer.retry import RetryPolicy

from .helpers import API_VERSION, Api, LiveServer, error_of, perf_job_body, version_info


def raw_call(api: Api, action: str, content: bytes) -> httpx.Response:
    """A signed call with exactly these body bytes."""
    return api.http.post(
        f"/?Action={action}&Version={API_VERSION}",
        content=content,
        headers={"Content-Type": "application/json"},
        auth=api.auth,
    )


def refused(response: httpx.Response, status: int, code: str) -> str:
    got = error_of(response)
    assert got[:2] == (status, code), response.text
    return got[2]


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.fixture
def version(admin: Api, server: LiveServer) -> str:
    path = server.upload(admin.account_id, "policy/m1")
    result = admin.register(path, name="policy")
    version_id: str = result["VersionInfo"]["ModelVersionID"]
    return version_id


# ---------------------------------------------------------------------------------------------------
# One JSON policy


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_in_free_form_fields_are_refused_and_not_stored(
    admin: Api, server: LiveServer, literal: str
) -> None:
    path = server.upload(admin.account_id, "policy/nan")
    body = json.dumps({"ModelName": "nan", "VersionInfo": version_info(path)})
    # an extra field inside the TensorConfig, a free-form place the schema does not describe
    info = json.loads(body)
    info["VersionInfo"]["TensorConfig"] = {"Inputs": [], "Extra": {"x": "__N__"}}
    content = json.dumps(info).replace('"__N__"', literal).encode()
    message = refused(raw_call(admin, "CreateModel", content), 400, "InvalidParameter")
    assert message.startswith("VersionInfo.TensorConfig.Extra.x:"), message
    assert admin.ok("ListModels", {}) == {"Total": 0, "List": []}


def test_nan_in_model_tags_is_refused(admin: Api, server: LiveServer) -> None:
    path = server.upload(admin.account_id, "policy/tags")
    body = {
        "ModelName": "tags",
        "VersionInfo": {**version_info(path), "ModelTags": [{"Key": "k", "Value": "v"}]},
    }
    content = json.dumps(body).replace('"Value": "v"', '"Value": "v", "Score": NaN').encode()
    message = refused(raw_call(admin, "CreateModel", content), 400, "InvalidParameter")
    assert "VersionInfo.ModelTags[0].Score" in message
    assert admin.ok("ListModels", {})["Total"] == 0


def test_nan_in_a_perf_job_is_refused_and_list_perf_jobs_stays_readable(admin: Api, version: str) -> None:
    body = perf_job_body(version)
    body["JobParamsList"][0]["Weight"] = "__N__"
    content = json.dumps(body).replace('"__N__"', "NaN").encode()
    message = refused(raw_call(admin, "CreatePerfJob", content), 400, "InvalidParameter")
    assert "JobParamsList[0].Weight" in message and "NaN" in message
    assert admin.ok("ListPerfJobs", {}) == {"Total": 0, "List": []}
    admin.ok("CreatePerfJob", perf_job_body(version))  # a finite job still goes in
    assert admin.ok("ListPerfJobs", {})["Total"] == 1


@pytest.mark.parametrize("depth", [MAX_DEPTH, 1000, 100_000])
def test_deep_nesting_is_refused_on_the_open_door(admin: Api, depth: int) -> None:
    content = b'{"ModelName": "x", "Deep": ' + nested(depth).encode() + b"}"
    message = refused(raw_call(admin, "ListModels", content), 400, "InvalidParameter")
    assert f"deeper than {MAX_DEPTH}" in message


def test_nesting_up_to_the_limit_is_accepted(admin: Api) -> None:
    content = b'{"Deep": ' + nested(MAX_DEPTH - 1).encode() + b"}"
    assert raw_call(admin, "ListModels", content).status_code == 200


def test_deep_nesting_is_refused_on_the_inner_door(admin: Api, version: str) -> None:
    token = admin.token_for(admin.account_id)
    response = admin.http.post(
        f"/ml-platform/{REGION}/api/InnerGetModelVersion",
        params={"Token": token},
        content=b'{"ModelVersionID": "' + version.encode() + b'", "D": ' + nested(5000).encode() + b"}",
    )
    assert f"deeper than {MAX_DEPTH}" in refused(response, 400, "InvalidParameter")


@pytest.mark.parametrize("where", ["value", "key"])
def test_lone_surrogates_are_refused_naming_the_field(admin: Api, server: LiveServer, where: str) -> None:
    path = server.upload(admin.account_id, "policy/sur")
    if where == "value":
        content = json.dumps({"ModelName": "a\ud800b", "VersionInfo": version_info(path)}).encode()
        expected = "ModelName:"
    else:
        info = {**version_info(path), "TensorConfig": {"Inputs": [], "\udfff": 1}}
        content = json.dumps({"ModelName": "ok", "VersionInfo": info}).encode()
        expected = "VersionInfo.TensorConfig:"
    message = refused(raw_call(admin, "CreateModel", content), 400, "InvalidParameter")
    assert message.startswith(expected) and "surrogate" in message, message
    assert admin.ok("ListModels", {})["Total"] == 0


NUL = "holds a NUL character (U+0000), which is not allowed"


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        # A filter: SQLite's full-text MATCH fails on it, PostgreSQL refuses it in text.
        ("ListModels", {"ModelNameContains": "ab\x00c"}, "ModelNameContains"),
        ("ListModels", {"IdContains": "\x00"}, "IdContains"),
        ("ListServices", {"ServiceNameContains": "a\x00"}, "ServiceNameContains"),
    ],
)
def test_a_nul_character_in_a_filter_is_refused_naming_the_field(
    admin: Api, action: str, body: dict[str, Any], field: str
) -> None:
    message = refused(admin.call(action, body), 400, "InvalidParameter")
    assert message == f"{field}: {NUL}", message


def test_a_nul_character_in_the_url_is_a_client_error(admin: Api) -> None:
    """The query and the path never reach the store: each is checked against a closed set or a
    pattern first. (HTTP itself refuses a NUL in a header.)"""
    token = admin.token_for(admin.account_id)
    for url, status in [
        (f"/?Action=List%00Models&Version={API_VERSION}", 404),
        ("/?Action=ListModels&Version=2021-07-01%00", 404),
        (f"/ml-platform/{REGION}/api/GetSTSToken?Token=v1.a%00b.c", 401),
        (f"/ml-platform/{REGION}/api/GetSTSToken?Token={token}%00", 401),
        (f"/ml-platform/{REGION}%00/api/GetSTSToken?Token={token}", 400),
        (f"/ml-platform/{REGION}/api/GetSTS%00Token?Token={token}", 404),
    ]:
        response = admin.http.post(url, content=b"{}", headers={"Content-Type": "application/json"})
        assert response.status_code == status, (url, response.text)
        assert response.json()["ResponseMetadata"]["Error"]["Code"] != "InternalError"


@pytest.mark.parametrize("where", ["description", "tensor name", "key"])
def test_a_nul_character_in_a_new_version_is_refused_and_nothing_is_stored(
    admin: Api, server: LiveServer, where: str
) -> None:
    path = server.upload(admin.account_id, "policy/nul")
    tensor = {"TensorName": "input", "Shape": [1], "DType": "FLOAT"}
    if where == "description":
        info, expected = version_info(path, Description="x\x00y"), f"VersionInfo.Description: {NUL}"
    elif where == "tensor name":
        tc = {"Inputs": [{**tensor, "TensorName": "in\x00put"}]}
        info, expected = (
            version_info(path, TensorConfig=tc),
            f"VersionInfo.TensorConfig.Inputs[0].TensorName: {NUL}",
        )
    else:
        tc = {"Inputs": [tensor], "\x00": 1}
        info, expected = (
            version_info(path, TensorConfig=tc),
            f"VersionInfo.TensorConfig: the key '\\x00' {NUL}",
        )
    message = refused(
        admin.call("CreateModel", {"ModelName": "m", "VersionInfo": info}), 400, "InvalidParameter"
    )
    assert message == expected, message
    assert admin.ok("ListModels", {})["Total"] == 0


DUPLICATED = "the key appears more than once in its object; send each key once"


def _with_duplicate(body: dict[str, Any], marker: str, twice: str) -> bytes:
    """``body`` as JSON with the ``"marker": 0`` member replaced by ``twice`` (a key sent twice)."""
    content = json.dumps(body)
    assert f'"{marker}": 0' in content
    return content.replace(f'"{marker}": 0', twice).encode()


@pytest.mark.parametrize(
    ("where", "twice", "expected"),
    [
        ("top", '"ModelName": "first", "ModelName": "second"', "ModelName"),
        (
            "nested",
            '"ModelTags": [{"Key": "a", "Value": "1"}], "ModelTags": []',
            "VersionInfo.ModelTags",
        ),
        (
            "in a list",
            '"ModelTags": [{"Key": "a", "Key": "b", "Value": "1"}]',
            "VersionInfo.ModelTags[0].Key",
        ),
        (
            "free-form",
            '"TensorConfig": {"Inputs": [], "Extra": {"x": 1, "x": 2}}',
            "VersionInfo.TensorConfig.Extra.x",
        ),
    ],
    ids=["top", "nested", "in a list", "free-form"],
)
def test_a_duplicated_key_is_refused_naming_its_path_and_nothing_is_stored(
    admin: Api, server: LiveServer, where: str, twice: str, expected: str
) -> None:
    """json.loads keeps the last of a duplicated key, silently: the sender and the platform would
    disagree on what was asked (the signature covers the bytes, not one reading of them)."""
    path = server.upload(admin.account_id, "policy/dup")
    if where == "top":
        body: dict[str, Any] = {"__dup__": 0, "VersionInfo": version_info(path)}
    else:
        body = {"ModelName": "dup", "VersionInfo": {**version_info(path), "__dup__": 0}}
    message = refused(
        raw_call(admin, "CreateModel", _with_duplicate(body, "__dup__", twice)), 400, "InvalidParameter"
    )
    assert message == f"{expected}: {DUPLICATED}", message
    assert admin.ok("ListModels", {})["Total"] == 0


def test_a_duplicated_key_is_refused_on_the_inner_door(admin: Api, version: str) -> None:
    token = admin.token_for(admin.account_id)
    response = admin.http.post(
        f"/ml-platform/{REGION}/api/InnerGetModelVersion",
        params={"Token": token},
        content=b'{"ModelVersionID": "' + version.encode() + b'", "ModelVersionID": "other"}',
    )
    assert refused(response, 400, "InvalidParameter") == f"ModelVersionID: {DUPLICATED}"


def test_the_same_key_in_different_objects_is_not_a_duplicate(admin: Api, server: LiveServer) -> None:
    path = server.upload(admin.account_id, "policy/same")
    tags = [{"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    body = {"ModelName": "same", "VersionInfo": version_info(path, ModelTags=tags)}
    assert raw_call(admin, "CreateModel", json.dumps(body).encode()).status_code == 200


@pytest.mark.parametrize(
    "content", [b'{"ModelName": "\xff"}', b'{"ModelName": "\xed\xa0\x80"}', '{"A": "é"}'.encode("utf-16")]
)
def test_bodies_that_are_not_utf8_are_refused(admin: Api, content: bytes) -> None:
    assert "UTF-8" in refused(raw_call(admin, "ListModels", content), 400, "InvalidParameter")


@pytest.mark.sqlite_storage
def test_a_stored_unserialisable_value_is_answered_as_an_envelope(
    admin: Api, server: LiveServer, version: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Data stored before the policy (or by another tool) that JSON cannot carry: still an envelope."""
    with server.platform.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE model_versions SET tensor_config = :v WHERE id = :id"),
            {"v": '{"Inputs": [], "x": NaN}', "id": version},
        )
    with caplog.at_level(logging.ERROR, logger="mlp_server"):
        response = admin.call("GetModelVersion", {"ModelVersionID": version})
    message = refused(response, 500, "InternalError")
    request_id = response.json()["ResponseMetadata"]["RequestId"]
    assert request_id in message
    assert any(request_id in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------------------------------
# Tokens and credential scope


@pytest.mark.parametrize(
    "token",
    ["v1.é.x", "v1.abc", "v1.a.b.c", "v2.a.b", "v1.a.b!", "v1..", "\u2603", "v1.%%%.abc"],
    ids=["non-ascii", "two-parts", "four-parts", "version", "bad-char", "empty-parts", "snowman", "not-b64"],
)
def test_malformed_tokens_are_invalid_secret_token(admin: Api, token: str) -> None:
    response = admin.inner("InnerGetModelVersion", {"ModelVersionID": "m-20210812150750-w54j6-1"}, token)
    refused(response, 401, "InvalidSecretToken")


@pytest.mark.parametrize("region", ["zz", "us-east-1", "cn-shanghai"])
def test_a_credential_scope_for_another_region_names_the_served_one(server: LiveServer, region: str) -> None:
    keys = server.default_keys()
    with Api(server.url, keys) as api:
        api.auth = VolcSignerAuth(Credentials(keys.ak, keys.sk), region=region)
        message = refused(api.call("ListModels", {}), 401, "SignatureDoesNotMatch")
    assert repr(region) in message and "'cn-beijing'" in message


def test_a_platform_serving_another_region_accepts_that_region(tmp_path: Any) -> None:
    with LiveServer(tmp_path / "p", region="cn-shanghai") as live, Api(live.url, live.default_keys()) as api:
        refused(api.call("ListModels", {}), 401, "SignatureDoesNotMatch")  # signed for cn-beijing
        keys = live.default_keys()
        api.auth = VolcSignerAuth(Credentials(keys.ak, keys.sk), region="cn-shanghai")
        assert api.ok("ListModels", {})["Total"] == 0


# ---------------------------------------------------------------------------------------------------
# Storage failures: SQLite's own limits give the same errors a full disk or a read-only one does


@contextmanager
def connections_with(server: LiveServer, *pragmas: str) -> Iterator[None]:
    """Every new database connection of the server runs ``pragmas`` (old ones are dropped first)."""
    engine = server.platform.store.engine

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        for pragma in pragmas:
            dbapi_connection.execute(pragma)

    event.listen(engine, "connect", on_connect)
    engine.dispose()
    try:
        yield
    finally:
        event.remove(engine, "connect", on_connect)
        engine.dispose()


def big_model(path: str, name: str) -> dict[str, Any]:
    """A registration whose rows need new database pages (about 10 KB of text)."""
    info = version_info(path, Description="d" * 2048, TensorConfig={"Inputs": [], "Note": "n" * 8000})
    return {"ModelName": name, "VersionInfo": info}


def _register(admin: Api, server: LiveServer, name: str) -> httpx.Response:
    path = server.upload(admin.account_id, f"storage/{name}")
    return admin.call("CreateModel", big_model(path, name))


@pytest.mark.sqlite_storage
def test_a_full_disk_is_storage_unavailable_and_nothing_is_half_written(
    admin: Api, server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    pages = server.platform.store.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()
    with connections_with(server, f"PRAGMA max_page_count = {pages}"), caplog.at_level(logging.ERROR):
        response = _register(admin, server, "full")
        message = refused(response, 503, "StorageUnavailable")
        assert "disk is full" in message
        assert admin.ok("ListModels", {})["Total"] == 0  # reads still work
    assert any("StorageUnavailable" in r.getMessage() for r in caplog.records)
    assert admin.ok("ListModels", {})["Total"] == 0
    assert _register(admin, server, "after").status_code == 200


@pytest.mark.sqlite_storage
def test_a_read_only_database_is_storage_unavailable(admin: Api, server: LiveServer) -> None:
    with connections_with(server, "PRAGMA query_only = ON"):
        assert "read-only" in refused(_register(admin, server, "ro"), 503, "StorageUnavailable")
    assert _register(admin, server, "rw").status_code == 200


@pytest.mark.sqlite_storage
def test_a_database_locked_past_its_timeout_is_temporary(admin: Api, server: LiveServer) -> None:
    blocker = sqlite3.connect(server.data_dir / "mlp.sqlite3", isolation_level=None)
    try:
        with connections_with(server, "PRAGMA busy_timeout = 100"):
            blocker.execute("BEGIN EXCLUSIVE")
            assert "locked" in refused(_register(admin, server, "locked"), 503, "ServiceUnavailableTemp")
            blocker.execute("ROLLBACK")
            assert _register(admin, server, "unlocked").status_code == 200
    finally:
        blocker.close()


class CountingTransport(httpx.HTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return super().handle_request(request)


@pytest.mark.sqlite_storage
def test_the_client_does_not_retry_a_full_disk(server: LiveServer, tmp_path: Any) -> None:
    keys = server.default_keys()
    settings = resolve_settings(
        endpoint=server.url, access_key=keys.ak, secret_key=keys.sk, region=REGION,
        config_file=tmp_path / "no-config", environ={},
    )  # fmt: skip
    transport = CountingTransport()
    session = Session(settings, retry=RetryPolicy(max_attempts=5, base_delay=0.01), transport=transport)
    path = server.upload(keys.account_id, "retry/full")
    body = big_model(path, "retry")
    pages = server.platform.store.engine.connect().exec_driver_sql("PRAGMA page_count").scalar()
    try:
        with (
            connections_with(server, f"PRAGMA max_page_count = {pages}"),
            pytest.raises(ServerError) as caught,
        ):
            session.call(create_model, CreateModelRequest, body)
        assert caught.value.code == "StorageUnavailable" and caught.value.status_code == 503
        assert transport.requests == 1
    finally:
        session.close()


def test_a_locked_database_reaches_the_client_as_the_retried_503_before_its_read_timeout(
    tmp_path: Path,
) -> None:
    """The platform's lock wait (MLP_SQLITE_BUSY_TIMEOUT, default 10 s) is below the client's read
    timeout (30 s): scaled down here to 1 s and 5 s. The client sees the documented 503, retries it
    (nothing was written) and reports ServiceUnavailableTemp, never a timeout of unknown outcome."""
    with LiveServer(tmp_path / "platform", sqlite_busy_timeout=1.0) as server:
        keys = server.default_keys()
        settings = resolve_settings(
            endpoint=server.url, access_key=keys.ak, secret_key=keys.sk, region=REGION,
            config_file=tmp_path / "no-config", environ={},
        )  # fmt: skip
        transport = CountingTransport()
        retry = RetryPolicy(max_attempts=2, base_delay=0.01)
        session = Session(settings, retry=retry, transport=transport, timeout=5.0)
        path = server.upload(keys.account_id, "locked/m")
        blocker = sqlite3.connect(server.data_dir / "mlp.sqlite3", isolation_level=None)
        try:
            blocker.execute("BEGIN IMMEDIATE")  # an operator's `sqlite3 mlp.sqlite3`, a backup tool ...
            with pytest.raises(ServerError) as caught:
                session.call(create_model, CreateModelRequest, big_model(path, "locked"))
            assert caught.value.code == "ServiceUnavailableTemp" and caught.value.status_code == 503
            assert "locked" in caught.value.message
            assert transport.requests == 2  # retried: the platform says nothing was written
            blocker.execute("ROLLBACK")
            created = session.call(create_model, CreateModelRequest, big_model(path, "locked"))
            assert created.result.version_info.model_version == 1
        finally:
            blocker.close()
            session.close()


# ---------------------------------------------------------------------------------------------------
# mlp account add --admin on an existing account


def _mlp_account(server: LiveServer, *args: str) -> subprocess.CompletedProcess[str]:
    argv = [mlp_script(), "account", *args, "--data-dir", str(server.data_dir)]
    env = clean_env()
    if server.platform.settings.database_url:  # team mode: the operator points it at the database
        env["MLP_DATABASE_URL"] = server.platform.settings.database_url
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=True)


def _added(server: LiveServer, *args: str) -> dict[str, Any]:
    """``mlp account add -o json``: what it printed, with the key pair from the file it names."""
    printed = json.loads(_mlp_account(server, "add", "-o", "json", *args).stdout)
    pair = json.loads(Path(printed["CredentialsFile"]).read_text(encoding="utf-8"))
    return {"admin": printed["Admin"], **pair}


def test_account_add_admin_promotes_an_existing_account_and_its_keys(server: LiveServer) -> None:
    first = _added(server, "--account-id", "2100000077")
    assert first["admin"] is False
    old = Keys(first["ak"], first["sk"], 2100000077)
    with Api(server.url, old) as api:
        assert refused(api.call("AdminGetSecureToken", {"TimeToLive": 60, "AccountId": 1, "UserId": 1}),
                       403, "AccessDenied")  # fmt: skip
    second = _added(server, "--account-id", "2100000077", "--admin")
    assert second["admin"] is True
    listing = json.loads(_mlp_account(server, "list", "-o", "json").stdout)
    assert {"AccountID": 2100000077, "UserID": 1, "Admin": True, "Name": ""} in listing, listing
    for keys in (old, Keys(second["ak"], second["sk"], 2100000077)):
        with Api(server.url, keys) as api:
            assert api.token_for(2100000077)  # both keys can do what the listing says
    # a later key without --admin on an admin account is an admin key too: the account is admin
    third = _added(server, "--account-id", "2100000077")
    assert third["admin"] is True


# ---------------------------------------------------------------------------------------------------
# The catch-all: whatever escapes is an envelope with a RequestId in the log


def test_an_exception_anywhere_is_an_envelope_500(caplog: pytest.LogCaptureFixture) -> None:
    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("boom " + new_request_id())

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(EnvelopeGuard(broken, region=REGION), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            threading.Event().wait(0.01)
        with caplog.at_level(logging.ERROR, logger="mlp_server"):
            url = f"http://127.0.0.1:{sock.getsockname()[1]}/?Action=ListModels&Version={API_VERSION}"
            response = httpx.post(url, content=b"{}")
        status, code, message = error_of(response)
        assert (status, code) == (500, "InternalError")
        request_id = response.json()["ResponseMetadata"]["RequestId"]
        assert request_id in message and "boom" not in message
        assert any(request_id in r.getMessage() and r.exc_info for r in caplog.records)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()

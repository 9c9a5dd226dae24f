"""Authentication, tenancy and error handling of the local server, over real HTTP (uvicorn on 127.0.0.1).

Clients sign with the project's ``VolcSignerAuth``; the server's clock is injected (``server_clock``) and
so is the client's (``VolcSignerAuth(clock=...)``), so that time-dependent checks are exact.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from mlp_testing import REGION, Keys, bucket_for

from .helpers import (
    API_VERSION,
    Api,
    LiveServer,
    MovableClock,
    add_account,
    error_of,
    perf_job_body,
    service_body,
    version_info,
)

ACCOUNT_B = 2100000002
ACCOUNT_C = 2100000003


def envelope_error(response: httpx.Response, status: int, code: str) -> str:
    """Assert an error envelope with this status and code; return its message."""
    got_status, got_code, message = error_of(response)
    assert (got_status, got_code) == (status, code), response.text
    assert response.headers["content-type"].startswith("application/json")
    return message


def post(server: LiveServer, url: str, content: bytes = b"{}", **kwargs: Any) -> httpx.Response:
    """An unsigned POST."""
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return httpx.post(server.url + url, content=content, headers=headers, timeout=30, **kwargs)


# ---------------------------------------------------------------------------------------------------
# Request signatures


def test_a_signed_request_is_accepted(admin: Api) -> None:
    assert admin.ok("ListModels", {}) == {"Total": 0, "List": []}


def test_wrong_secret_key_is_signature_does_not_match(server: LiveServer) -> None:
    keys = server.default_keys()
    with Api(server.url, Keys(keys.ak, keys.sk + "x", keys.account_id)) as api:
        response = api.call("ListModels", {})
    envelope_error(response, 401, "SignatureDoesNotMatch")
    assert error_of(response)[1] == "SignatureDoesNotMatch"
    assert response.json()["ResponseMetadata"]["Error"]["CodeN"] == 100010


@pytest.mark.parametrize("skew", [timedelta(minutes=-16), timedelta(minutes=16)])
def test_stale_or_future_x_date_is_invalid_timestamp(server: LiveServer, skew: timedelta) -> None:
    with Api(server.url, server.default_keys(), clock=lambda: datetime.now(UTC) + skew) as api:
        response = api.call("ListModels", {})
    envelope_error(response, 403, "InvalidTimestamp")


def test_x_date_within_the_allowed_skew_is_accepted(server: LiveServer) -> None:
    with Api(
        server.url, server.default_keys(), clock=lambda: datetime.now(UTC) - timedelta(minutes=14)
    ) as api:
        assert api.ok("ListModels", {})["Total"] == 0


def test_missing_authorization_is_refused(server: LiveServer) -> None:
    response = post(server, f"/?Action=ListModels&Version={API_VERSION}")
    envelope_error(response, 401, "MissingAuthenticationToken")


def test_unknown_access_key_is_invalid_access_key(server: LiveServer) -> None:
    with Api(server.url, Keys("AKLTnobodyhasthiskey0000000", "secret", 0)) as api:
        response = api.call("ListModels", {})
    envelope_error(response, 401, "InvalidAccessKey")


def test_body_tampered_after_signing_is_refused(admin: Api, server: LiveServer) -> None:
    original = json.dumps({"ModelName": "mine"}).encode()
    request = admin.http.build_request(
        "POST",
        f"/?Action=ListModels&Version={API_VERSION}",
        content=original,
        headers={"Content-Type": "application/json"},
    )
    admin.auth.sign(request)
    # Same headers (signature, X-Content-Sha256), another body.
    tampered = admin.http.build_request(
        "POST",
        request.url,
        content=json.dumps({"ModelName": "theirs"}).encode(),
        headers={k: v for k, v in request.headers.items() if k.lower() != "content-length"},
    )
    envelope_error(admin.http.send(tampered), 401, "SignatureDoesNotMatch")
    assert admin.http.send(request).status_code == 200  # the untouched request passes


def test_signature_of_another_action_does_not_carry_over(admin: Api) -> None:
    request = admin.http.build_request(
        "POST", f"/?Action=ListModels&Version={API_VERSION}", content=b"{}",
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    admin.auth.sign(request)
    moved = admin.http.build_request(
        "POST",
        f"/?Action=ListServices&Version={API_VERSION}",
        content=b"{}",
        headers=dict(request.headers),
    )
    envelope_error(admin.http.send(moved), 401, "SignatureDoesNotMatch")


# ---------------------------------------------------------------------------------------------------
# Tenancy


def mlp_account_add(server: LiveServer, account_id: int, *extra: str) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLC_", "VOLCENGINE_", "MLP_"))}
    if server.platform.settings.database_url:  # team mode: the operator points the command at the database
        env["MLP_DATABASE_URL"] = server.platform.settings.database_url
    out = subprocess.run(
        [sys.executable, "-m", "volcengine_ml_platform.cli", "account", "add",
         "--account-id", str(account_id), "--data-dir", str(server.data_dir), "-o", "json", *extra],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    printed: dict[str, Any] = json.loads(out)
    # The secret is printed masked; the key pair is in the 0600 credentials file it names.
    pair = json.loads(Path(printed["CredentialsFile"]).read_text(encoding="utf-8"))
    assert pair["sk"] not in out and pair["ak"] == printed["AccessKey"]
    return {"account_id": printed["AccountID"], "admin": printed["Admin"], **pair}


@pytest.fixture
def account_b(server: LiveServer) -> Keys:
    return add_account(server, ACCOUNT_B)


def test_keys_from_mlp_account_add_work_against_the_running_server(server: LiveServer) -> None:
    keys = mlp_account_add(server, ACCOUNT_B)
    assert keys["account_id"] == ACCOUNT_B and keys["admin"] is False
    with Api(server.url, Keys(keys["ak"], keys["sk"], ACCOUNT_B)) as api:
        assert api.ok("ListModels", {}) == {"Total": 0, "List": []}
        body = {"TimeToLive": 600, "AccountId": ACCOUNT_B, "UserId": 1}
        envelope_error(api.call("AdminGetSecureToken", body), 403, "AccessDenied")
    admin = mlp_account_add(server, ACCOUNT_C, "--admin")
    with Api(server.url, Keys(admin["ak"], admin["sk"], ACCOUNT_C)) as api:
        assert api.token_for(ACCOUNT_B)


@pytest.fixture
def b(server: LiveServer, account_b: Keys) -> Any:
    with Api(server.url, account_b) as api:
        yield api


@pytest.fixture
def a_objects(server: LiveServer, admin: Api) -> dict[str, str]:
    """Account A's model (two versions), perf job and service."""
    path = server.upload(admin.account_id, "modelrepo/a/1")
    created = admin.register(path, name="a-model")
    model_id, version_id = created["ModelID"], created["VersionInfo"]["ModelVersionID"]
    admin.register(server.upload(admin.account_id, "modelrepo/a/2"), model_id=model_id)
    job = admin.ok("CreatePerfJob", perf_job_body(version_id))
    task = admin.list_all("ListPerfTasks", JobID=job["JobID"])[0]["TaskID"]
    service = admin.ok("CreateService", service_body(model_id, version_id, name="a-service"))["ServiceID"]
    return {"model": model_id, "version": version_id, "job": job["JobID"], "task": task, "service": service}


def test_another_account_cannot_reach_a_models(admin: Api, b: Api, a_objects: dict[str, str]) -> None:
    model, version = a_objects["model"], a_objects["version"]
    path = f"tos://{bucket_for(b.account_id)}/nothing/"
    for action, body in [
        ("GetModel", {"ModelID": model}),
        ("UpdateModel", {"ModelID": model, "ModelName": "stolen"}),
        ("DeleteModel", {"ModelID": model}),
        ("GetModelNextVersion", {"ModelID": model}),
        ("ListModelVersions", {"ModelID": model}),
        ("GetModelVersion", {"ModelVersionID": version}),
        ("UpdateModelVersion", {"ModelVersionID": version, "Description": "stolen"}),
        ("DeleteModelVersion", {"ModelVersionID": version}),
        ("CreatePerfJob", perf_job_body(version)),
        ("CreateService", service_body(model, version, name="b-service")),
    ]:
        envelope_error(b.call(action, body), 404, "NotFound")
    # Adding a version to A's model is refused too (the Path check or the model lookup, never a success).
    status, _, _ = b.fails("CreateModel", {"ModelID": model, "VersionInfo": version_info(path)})
    assert status in (400, 404)
    # A's objects are untouched.
    got = admin.ok("GetModel", {"ModelID": model})
    assert (got["ModelName"], got["ModelVersionsCount"], got["LatestVersion"]) == ("a-model", 2, "2")
    assert admin.ok("GetModelVersion", {"ModelVersionID": version})["Description"] == ""


def test_another_account_cannot_reach_a_perf_jobs_and_services(b: Api, a_objects: dict[str, str]) -> None:
    for action, body in [
        ("CancelPerfJob", {"JobID": a_objects["job"]}),
        ("UpdatePerfTask", {"TaskID": a_objects["task"], "Status": "Queued"}),
        ("CancelPerfTask", {"TaskID": a_objects["task"]}),
        ("GetService", {"ServiceID": a_objects["service"]}),
        ("StartService", {"ServiceID": a_objects["service"]}),
        ("StopService", {"ServiceID": a_objects["service"]}),
        ("UpdateService", {"ServiceID": a_objects["service"], "Replicas": 3, "ChangeType": "ScalingService"}),
        ("DeleteService", {"ServiceID": a_objects["service"]}),
    ]:
        envelope_error(b.call(action, body), 404, "NotFound")


def test_another_accounts_lists_do_not_show_a_objects(admin: Api, b: Api, a_objects: dict[str, str]) -> None:
    for action, filters in [
        ("ListModels", {}),
        ("ListModels", {"ModelName": "a-model"}),
        ("ListModels", {"IdContains": a_objects["model"]}),
        ("ListPerfJobs", {}),
        ("ListPerfJobs", {"JobID": a_objects["job"]}),
        ("ListPerfJobs", {"ModelVersionID": a_objects["version"]}),
        ("ListPerfTasks", {}),
        ("ListPerfTasks", {"JobID": a_objects["job"]}),
        ("ListServices", {}),
        ("ListServices", {"ServiceNameContains": "a-"}),
    ]:
        assert b.ok(action, filters) == {"Total": 0, "List": []}, (action, filters)
    # ... while A sees them.
    assert [m["ModelID"] for m in admin.list_all("ListModels")] == [a_objects["model"]]
    assert [j["JobID"] for j in admin.list_all("ListPerfJobs")] == [a_objects["job"]]
    assert [s["ServiceID"] for s in admin.list_all("ListServices")] == [a_objects["service"]]


def test_same_names_in_two_accounts_do_not_collide(server: LiveServer, admin: Api, b: Api) -> None:
    a_path = server.upload(admin.account_id, "modelrepo/same/1")
    b_path = server.upload(b.account_id, "modelrepo/same/1")
    a_model = admin.register(a_path, name="same")
    b_model = b.register(b_path, name="same")
    assert a_model["ModelID"] != b_model["ModelID"]
    assert [m["ModelID"] for m in admin.list_all("ListModels", ModelName="same")] == [a_model["ModelID"]]
    assert [m["ModelID"] for m in b.list_all("ListModels", ModelName="same")] == [b_model["ModelID"]]
    for api, model in ((admin, a_model), (b, b_model)):
        version = model["VersionInfo"]["ModelVersionID"]
        api.ok("CreateService", service_body(model["ModelID"], version, name="same-service"))


def test_create_model_with_a_path_in_another_accounts_bucket_is_refused(
    server: LiveServer, admin: Api, b: Api
) -> None:
    a_path = server.upload(admin.account_id, "modelrepo/private/1")
    response = b.call("CreateModel", {"ModelName": "steal", "VersionInfo": version_info(a_path)})
    message = envelope_error(response, 404, "NotFound")  # nothing of b's is there
    assert "VersionInfo.Path" in message
    assert b.ok("ListModels", {})["Total"] == 0


def test_create_model_with_a_path_without_objects_is_refused(admin: Api) -> None:
    empty = f"tos://{bucket_for(admin.account_id)}/modelrepo/never-uploaded/"
    response = admin.call("CreateModel", {"ModelName": "m", "VersionInfo": version_info(empty)})
    message = envelope_error(response, 404, "NotFound")
    assert "VersionInfo.Path" in message


@pytest.mark.parametrize(
    "prefix", ["..", ".", "modelrepo/..", "a/../../x", "/abs", "modelrepo\\..\\x", "../", "%2e%2e/"]
)
def test_create_model_with_a_path_out_of_the_key_space_is_not_found(
    server: LiveServer, admin: Api, b: Api, prefix: str
) -> None:
    """A Path leaving its bucket's keys ('..', a backslash, absolute) names no objects of the caller:
    404 NotFound as any Path without objects, never another bucket's files nor a 500."""
    server.upload(b.account_id, "modelrepo/secret/1")
    path = f"tos://{bucket_for(admin.account_id)}/{prefix}"
    response = admin.call("CreateModel", {"ModelName": "m", "VersionInfo": version_info(path)})
    assert "VersionInfo.Path" in envelope_error(response, 404, "NotFound")
    assert admin.ok("ListModels", {})["Total"] == 0


def test_create_model_through_a_symlink_into_another_bucket_is_not_found(
    server: LiveServer, admin: Api, b: Api
) -> None:
    """The folder store: a symlinked folder planted in A's bucket, leading to B's files, is no Path of
    A's. Registered, A could have downloaded B's files through it, and its delete would have removed
    them. (SQLite platform only: S3 keys have no symlinks.)"""
    b_path = server.upload(b.account_id, "modelrepo/secret/1", {"weights.bin": b"B's model"})
    objects = server.platform.settings.objects_dir
    own = objects / bucket_for(admin.account_id) / "modelrepo"
    own.mkdir(parents=True)
    (own / "link").symlink_to(objects / bucket_for(b.account_id) / "modelrepo" / "secret")
    for key in ("modelrepo/link/1/", "modelrepo/link/1", "modelrepo/link/1/weights.bin"):
        path = f"tos://{bucket_for(admin.account_id)}/{key}"
        response = admin.call("CreateModel", {"ModelName": "m", "VersionInfo": version_info(path)})
        assert "VersionInfo.Path" in envelope_error(response, 404, "NotFound"), key
    assert admin.ok("ListModels", {})["Total"] == 0
    registered = b.register(b_path)  # B's files are as they were
    got = b.ok("GetModelVersion", {"ModelVersionID": registered["VersionInfo"]["ModelVersionID"]})
    assert got["Path"] == b_path


def test_upload_path_is_in_the_callers_bucket(admin: Api, b: Api) -> None:
    for api in (admin, b):
        result = api.ok("GetTOSUploadPath", {"ServiceName": "modelrepo", "Path": ["from-sdk-repo"]})
        assert result["Bucket"] == bucket_for(api.account_id)
        assert result["KeyPrefix"].startswith("modelrepo/from-sdk-repo/")


# ---------------------------------------------------------------------------------------------------
# Secure tokens and the inner door


def inner(
    server: LiveServer, action: str, body: Any, token: str | None, region: str = REGION
) -> httpx.Response:
    params = {} if token is None else {"Token": token}
    return post(server, f"/ml-platform/{region}/api/{action}", json.dumps(body).encode(), params=params)


def test_admin_get_secure_token_needs_an_admin_key(server: LiveServer, b: Api) -> None:
    body = {"TimeToLive": 600, "AccountId": b.account_id, "UserId": 1}
    message = envelope_error(b.call("AdminGetSecureToken", body), 403, "AccessDenied")
    assert "administrator" in message


@pytest.mark.parametrize("ttl", [0, -1, 43201, 10**12, "600", 600.5, None])
def test_a_secure_tokens_time_to_live_is_bounded(admin: Api, b: Api, ttl: Any) -> None:
    body = {"TimeToLive": ttl, "AccountId": b.account_id, "UserId": 1}
    status, _, message = error_of(admin.call("AdminGetSecureToken", body))
    assert status == 400 and "TimeToLive" in message, message


def test_a_secure_token_lives_at_most_twelve_hours(admin: Api, b: Api) -> None:
    result = admin.ok("AdminGetSecureToken", {"TimeToLive": 43200, "AccountId": b.account_id, "UserId": 1})
    left = datetime.fromisoformat(result["ExpiredTime"]) - datetime.now(UTC)
    assert timedelta(hours=12) - timedelta(seconds=30) < left <= timedelta(hours=12)


def test_admin_get_secure_token_for_an_unknown_account_is_not_found(admin: Api) -> None:
    body = {"TimeToLive": 600, "AccountId": 2199999999, "UserId": 1}
    envelope_error(admin.call("AdminGetSecureToken", body), 404, "NotFound")


def test_a_token_acts_as_its_target_account(
    server: LiveServer, admin: Api, b: Api, new_account: Callable[..., Api]
) -> None:
    c = new_account(ACCOUNT_C)
    token = admin.token_for(b.account_id)
    b_path = server.upload(b.account_id, "modelrepo/inner/1")

    response = inner(
        server, "InnerCreateModel", {"ModelName": "via-token", "VersionInfo": version_info(b_path)}, token
    )
    assert response.status_code == 200, response.text
    assert response.json()["ResponseMetadata"]["Action"] == "InnerCreateModel"
    created = response.json()["Result"]
    model_id, version_id = created["ModelID"], created["VersionInfo"]["ModelVersionID"]

    # It landed in B: visible to B's keys, invisible to the admin's own account and to C.
    assert b.ok("GetModel", {"ModelID": model_id})["ModelName"] == "via-token"
    assert [m["ModelID"] for m in b.list_all("ListModels")] == [model_id]
    for other in (admin, c):
        envelope_error(other.call("GetModel", {"ModelID": model_id}), 404, "NotFound")
        assert other.ok("ListModels", {})["Total"] == 0

    # The other inner actions act in B as well.
    got = inner(server, "InnerGetModelVersion", {"ModelVersionID": version_id}, token)
    assert got.status_code == 200 and got.json()["Result"]["Path"] == b_path
    updated = inner(
        server, "InnerUpdateModelVersion", {"ModelVersionID": version_id, "Description": "x"}, token
    )
    assert updated.status_code == 200
    assert b.ok("GetModelVersion", {"ModelVersionID": version_id})["Description"] == "x"
    upload = inner(server, "InnerGetTOSUploadPath", {"ServiceName": "modelrepo"}, token).json()["Result"]
    assert upload["Bucket"] == bucket_for(b.account_id)
    assert inner(server, "GetSTSToken", {}, token).status_code == 200

    # A token for B reaches nothing of the admin's account, and cannot write into another bucket.
    admin_path = server.upload(admin.account_id, "modelrepo/admin/1")
    admin_version = admin.register(admin_path)["VersionInfo"]["ModelVersionID"]
    envelope_error(
        inner(server, "InnerGetModelVersion", {"ModelVersionID": admin_version}, token), 404, "NotFound"
    )
    refused = inner(
        server, "InnerCreateModel", {"ModelName": "x", "VersionInfo": version_info(admin_path)}, token
    )
    assert "VersionInfo.Path" in envelope_error(refused, 404, "NotFound")


@pytest.mark.parametrize("region", ["CN-BEIJING", "beijing", "cn-" + "x" * 40, "cn_beijing"])
def test_inner_door_with_a_malformed_region_is_400(server: LiveServer, admin: Api, region: str) -> None:
    token = admin.token_for(admin.account_id)
    message = envelope_error(inner(server, "GetSTSToken", {}, token, region=region), 400, "InvalidParameter")
    assert message.startswith("region")
    assert inner(server, "GetSTSToken", {}, token, region=REGION).status_code == 200


def test_inner_door_without_token_is_refused(server: LiveServer) -> None:
    envelope_error(inner(server, "GetSTSToken", {}, None), 401, "MissingAuthenticationToken")


def test_expired_token_is_invalid_secret_token(
    server: LiveServer, admin: Api, server_clock: MovableClock
) -> None:
    token = admin.token_for(admin.account_id, ttl=60)
    assert inner(server, "GetSTSToken", {}, token).status_code == 200
    server_clock.advance(61)
    message = envelope_error(inner(server, "GetSTSToken", {}, token), 401, "InvalidSecretToken")
    assert "expired" in message


def test_an_sts_session_token_is_no_secure_token(
    server: LiveServer, admin: Api, server_clock: MovableClock
) -> None:
    """GetSTSToken's SessionToken cannot stand in for the secure token it was asked with: a 60 s
    token would otherwise become 12 h of inner access, renewable by asking again. (The folder store's
    SessionToken is the platform's own; team mode's is the S3 store's, and this runs without it.)"""
    token = admin.token_for(admin.account_id, ttl=60)
    sts = inner(server, "GetSTSToken", {"Duration": 43200}, token)
    assert sts.status_code == 200, sts.text
    session = sts.json()["Result"]["SessionToken"]
    assert session.startswith("v1.")  # same format and secret as a secure token: only the kind differs
    for action, body in [("InnerGetTOSUploadPath", {"ServiceName": "modelrepo"}), ("GetSTSToken", {})]:
        message = envelope_error(inner(server, action, body, session), 401, "InvalidSecretToken")
        assert "session token" in message and "AdminGetSecureToken" in message
    server_clock.advance(3600)
    envelope_error(inner(server, "GetSTSToken", {}, token), 401, "InvalidSecretToken")
    envelope_error(inner(server, "GetSTSToken", {}, session), 401, "InvalidSecretToken")


def test_a_plain_keys_sts_session_token_opens_no_inner_door(server: LiveServer, b: Api) -> None:
    """GetSTSToken on the open door (the local platform's addition) is any key's: its SessionToken
    must not give that key the inner door that AdminGetSecureToken keeps for administrators."""
    sts = b.call("GetSTSToken", {"Duration": 43200})
    assert sts.status_code == 200, sts.text
    session = sts.json()["Result"]["SessionToken"]
    envelope_error(
        inner(server, "InnerGetTOSUploadPath", {"ServiceName": "modelrepo"}, session),
        401,
        "InvalidSecretToken",
    )
    server.platform.store.revoke_access_key(b.keys.ak)
    envelope_error(inner(server, "GetSTSToken", {"Duration": 43200}, session), 401, "InvalidSecretToken")


def test_revoking_or_demoting_the_issuing_key_ends_its_secure_tokens(
    server: LiveServer, b: Api, new_account: Callable[..., Api]
) -> None:
    operator = new_account(ACCOUNT_C, admin=True)
    token = operator.token_for(b.account_id)
    assert inner(server, "GetSTSToken", {}, token).status_code == 200
    # Demoted: the store overwrites the key pair with the flags given.
    server.platform.store.add_access_key_explicit(
        operator.keys.ak, operator.keys.sk, ACCOUNT_C, 1, is_admin=False
    )
    message = envelope_error(inner(server, "GetSTSToken", {}, token), 401, "InvalidSecretToken")
    assert "revoked or is no longer an administrator" in message
    server.platform.store.add_access_key_explicit(
        operator.keys.ak, operator.keys.sk, ACCOUNT_C, 1, is_admin=True
    )
    assert inner(server, "GetSTSToken", {}, token).status_code == 200
    server.platform.store.revoke_access_key(operator.keys.ak)
    message = envelope_error(
        inner(server, "InnerGetModelVersion", {"ModelVersionID": "m-1-1"}, token), 401, "InvalidSecretToken"
    )
    assert "revoked" in message


def test_a_token_of_an_earlier_release_is_refused(server: LiveServer, admin: Api) -> None:
    """Tokens of releases before 0.8.0 name no kind: they are refused (the client asks for a new one)."""
    claims = {"a": admin.account_id, "u": 1, "exp": int(datetime.now(UTC).timestamp()) + 600, "n": "00"}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(server.platform.settings.token_secret(), payload.encode(), hashlib.sha256).digest()
    message = envelope_error(
        inner(server, "GetSTSToken", {}, f"v1.{payload}.{_b64(mac)}"), 401, "InvalidSecretToken"
    )
    assert "earlier release" in message and "AdminGetSecureToken" in message


def test_inner_door_refuses_a_region_it_does_not_serve(server: LiveServer, admin: Api) -> None:
    token = admin.token_for(admin.account_id)
    served = server.platform.settings.region
    for region in ("ap-southeast-1", "cn-north-4"):
        response = inner(server, "InnerGetTOSUploadPath", {"ServiceName": "modelrepo"}, token, region=region)
        message = envelope_error(response, 400, "InvalidParameter")
        assert message.startswith(f"region: {region!r} is not served here") and repr(served) in message
    assert (
        inner(server, "InnerGetTOSUploadPath", {"ServiceName": "modelrepo"}, token, region=served).status_code
        == 200
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_forged_token_is_invalid_secret_token(server: LiveServer, admin: Api, b: Api) -> None:
    token = admin.token_for(b.account_id)
    prefix, payload, mac = token.split(".")
    claims = json.loads(_unb64(payload))
    assert claims["a"] == b.account_id
    for forged in [
        # The payload altered to another account, the MAC kept.
        f"{prefix}.{_b64(json.dumps({**claims, 'a': admin.account_id}).encode())}.{mac}",
        # A longer life, the MAC kept.
        f"{prefix}.{_b64(json.dumps({**claims, 'exp': claims['exp'] + 86400}).encode())}.{mac}",
        # The MAC altered.
        f"{prefix}.{payload}.{mac[:-2]}{'AA' if not mac.endswith('AA') else 'BB'}",
        "v1.garbage",
        "not-a-token",
    ]:
        envelope_error(inner(server, "GetSTSToken", {}, forged), 401, "InvalidSecretToken")


def test_a_token_is_no_signature(server: LiveServer, admin: Api) -> None:
    token = admin.token_for(admin.account_id)
    response = post(server, f"/?Action=ListModels&Version={API_VERSION}&Token={token}")
    envelope_error(response, 401, "MissingAuthenticationToken")


# ---------------------------------------------------------------------------------------------------
# Routing and request errors: always the envelope, never a 500


@pytest.mark.parametrize(
    "url",
    [
        "/?Action=NoSuchAction&Version=2021-07-01",
        "/?Action=ListModels&Version=2020-01-01",
        "/?Action=InnerCreateModel&Version=2021-07-01",  # an inner action on the open door
        f"/ml-platform/{REGION}/api/NoSuchAction",
        f"/ml-platform/{REGION}/api/ListModels",  # an open action on the inner door
        "/no/such/endpoint",
    ],
)
def test_unknown_action_or_version_is_404_envelope(server: LiveServer, admin: Api, url: str) -> None:
    envelope_error(post(server, url), 404, "InvalidActionOrVersion")
    # Signed or not, the same answer.
    signed = admin.http.post(
        url, content=b"{}", headers={"Content-Type": "application/json"}, auth=admin.auth
    )
    envelope_error(signed, 404, "InvalidActionOrVersion")


def test_missing_action_is_missing_parameter(server: LiveServer) -> None:
    envelope_error(post(server, "/?Version=2021-07-01"), 400, "MissingParameter")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
@pytest.mark.parametrize(
    "url", [f"/?Action=ListModels&Version={API_VERSION}", "/", f"/ml-platform/{REGION}/api/GetSTSToken"]
)
def test_other_methods_are_405_envelope(server: LiveServer, method: str, url: str) -> None:
    response = httpx.request(method, server.url + url, timeout=30)
    envelope_error(response, 405, "MethodNotAllowed")
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"not json", "InvalidParameter"),
        (b'{"ModelID": ', "InvalidParameter"),
        (b"[1, 2]", "InvalidParameter"),
        (b'"a string"', "InvalidParameter"),
        (b"\xff\xfe", "InvalidParameter"),
        (b"", "MissingParameter"),
    ],
)
def test_a_body_that_is_no_json_object_is_400(admin: Api, content: bytes, code: str) -> None:
    request = admin.http.build_request(
        "POST", f"/?Action=ListModels&Version={API_VERSION}", content=content,
        headers={"Content-Type": "application/json"},
    )  # fmt: skip
    admin.auth.sign(request)
    message = envelope_error(admin.http.send(request), 400, code)
    assert message.startswith("body")


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        (
            "CreateModel",
            {
                "ModelName": "m",
                "VersionInfo": {
                    "ModelFormat": "Bogus",
                    "ModelType": "TensorFlow:2.4",
                    "Path": "tos://bucket/x/",
                },
            },
            "VersionInfo.ModelFormat",
        ),
        (
            "CreateModel",
            {
                "ModelName": "m",
                "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "Unknown:1", "Path": "tos://bucket/x/"},
            },
            "VersionInfo.ModelType",
        ),
        (
            "CreateModel",
            {
                "ModelName": "m",
                "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1", "Path": "s3://bucket/x/"},
            },
            "VersionInfo.Path",
        ),
        ("GetModel", {"ModelID": "not-a-model-id"}, "ModelID"),
        ("ListModels", {"Limit": 0}, "Limit"),
        ("ListModels", {"SortOrder": "Sideways"}, "SortOrder"),
        (
            "UpdateModelVersion",
            {
                "ModelVersionID": "m-20210812150750-w54j6-1",
                "MetricsList": [{"MetricsType": "Perf", "Params": "{", "MetricsData": "{}"}],
            },
            "MetricsList[0].Params",
        ),
        ("AdminGetSecureToken", {"TimeToLive": "600", "AccountId": 1, "UserId": 1}, "TimeToLive"),
        ("UpdateService", {"ServiceID": "s-1", "Replicas": 1, "ChangeType": "Rebuild"}, "ChangeType"),
    ],
)
def test_schema_violation_is_invalid_parameter_naming_the_field(
    admin: Api, action: str, body: dict[str, Any], field: str
) -> None:
    message = envelope_error(admin.call(action, body), 400, "InvalidParameter")
    assert field in message


@pytest.mark.parametrize(
    ("action", "body", "field"),
    [
        ("GetModel", {}, "ModelID"),
        ("CreateModel", {"ModelName": "m"}, "VersionInfo"),
        ("CreateModel", {"ModelName": "m", "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1"}},
         "VersionInfo.Path"),
        ("CreatePerfJob", {"ModelVersionID": "m-20210812150750-w54j6-1", "JobType": "PERF_ONLY",
                           "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"]}]}, "TensorConfig"),
        ("AdminGetSecureToken", {"TimeToLive": 600, "UserId": 1}, "AccountId"),
    ],
)  # fmt: skip
def test_missing_required_field_is_missing_parameter(
    admin: Api, action: str, body: dict[str, Any], field: str
) -> None:
    message = envelope_error(admin.call(action, body), 400, "MissingParameter")
    assert field in message


def test_new_model_without_name_format_or_type_is_missing_parameter(server: LiveServer, admin: Api) -> None:
    path = server.upload(admin.account_id, "modelrepo/unnamed/1")
    message = envelope_error(
        admin.call("CreateModel", {"VersionInfo": {"Path": path}}), 400, "MissingParameter"
    )
    for field in ("ModelName", "VersionInfo.ModelFormat", "VersionInfo.ModelType"):
        assert field in message


def test_error_envelope_carries_the_request_metadata(admin: Api) -> None:
    response = admin.call("GetModel", {"ModelID": "m-20210812150750-w54j6"})
    envelope_error(response, 404, "NotFound")
    meta = response.json()["ResponseMetadata"]
    assert meta["Action"] == "GetModel" and meta["Version"] == API_VERSION
    assert meta["Service"] == "ml_platform" and meta["Region"] == REGION
    assert len(meta["RequestId"]) > 14 and meta["RequestId"][:14].isdigit()
    assert response.headers["x-tt-logid"] == meta["RequestId"]


def test_inner_create_model_records_only_provenance_that_is_true(
    server: LiveServer, admin: Api, b: Api
) -> None:
    """BaseModelVersionID must be one of the token account's own versions and SourceId a perf task of
    it: a version "converted from" nothing, or from another account's version, is not recorded."""
    theirs = b.register(server.upload(b.account_id, "modelrepo/theirs/1"), name="theirs")
    mine = admin.register(server.upload(admin.account_id, "modelrepo/mine/1"), name="mine")
    base = mine["VersionInfo"]["ModelVersionID"]
    job = admin.ok("CreatePerfJob", perf_job_body(base))["JobID"]
    (task,) = admin.ok("ListPerfTasks", {"JobID": job})["List"]
    other_job = admin.ok(
        "CreatePerfJob",
        perf_job_body(
            admin.register(server.upload(admin.account_id, "modelrepo/mine/2"), name="other")["VersionInfo"][
                "ModelVersionID"
            ]
        ),
    )
    (other_task,) = admin.ok("ListPerfTasks", {"JobID": other_job["JobID"]})["List"]
    token = admin.token_for(admin.account_id)
    cases = [
        ("m-20990101000000-zzzzz-1", task["TaskID"], 404, "VersionInfo.BaseModelVersionID"),
        (theirs["VersionInfo"]["ModelVersionID"], task["TaskID"], 404, "VersionInfo.BaseModelVersionID"),
        (base, "pf-20990101000000-zzzzz", 404, "VersionInfo.SourceId"),
        (base, other_task["TaskID"], 400, "VersionInfo.SourceId"),
    ]
    for n, (base_id, source, status, field) in enumerate(cases):
        info = version_info(
            server.upload(admin.account_id, f"modelrepo/converted/{n}"),
            BaseModelVersionID=base_id,
            SourceId=source,
            SourceType="Perf",
        )
        got_status, _, message = error_of(
            admin.inner("InnerCreateModel", {"ModelName": "c", "VersionInfo": info}, token)
        )
        assert (got_status, message.split(":")[0]) == (status, field), message
    assert admin.list_all("ListModels", ModelName="c") == []
    info = version_info(
        server.upload(admin.account_id, "modelrepo/converted/ok"),
        BaseModelVersionID=base,
        SourceId=task["TaskID"],
        SourceType="Perf",
    )
    created = admin.inner("InnerCreateModel", {"ModelName": "c", "VersionInfo": info}, token).json()["Result"]
    got = admin.ok("GetModelVersion", {"ModelVersionID": created["VersionInfo"]["ModelVersionID"]})
    assert (got["BaseModelVersionID"], got["SourceId"]) == (base, task["TaskID"])


# ---------------------------------------------------------------------------------------------------
# Deployed services: a replica is a process of the platform


IRIS = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"


def code_running_envs(marker: Path) -> list[dict[str, str]]:
    """Envs that make a Python process run a shell command as it starts: the warnings filter imports
    the module it names (antigravity), which opens a "browser": the BROWSER command."""
    return [
        {"Name": "PYTHONWARNINGS", "Value": "ignore::antigravity.x"},
        {"Name": "BROWSER", "Value": f"/bin/sh -c 'touch {marker}' #%s"},
    ]


def wait_deployment(api: Api, service_id: str, *wanted: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        deployment: dict[str, Any] = api.ok("GetService", {"ServiceID": service_id})["ServiceDeployment"]
        if deployment["Status"] in wanted or time.monotonic() > deadline:
            assert deployment["Status"] in wanted, deployment
            return deployment
        time.sleep(0.05)


def test_a_services_envs_cannot_run_code_in_the_platforms_replicas(
    server: LiveServer, b: Api, tmp_path: Path
) -> None:
    """Envs reach the replicas' environment, and a replica is the platform's own interpreter (its
    user, data folder and keys), not the tenant's container: names that change how the interpreter,
    the loader or the C library start are refused, whoever asks."""
    marker = tmp_path / "ran-in-a-replica"
    files = {p.name: p.read_bytes() for p in IRIS.iterdir()}
    path = server.upload(b.account_id, "modelrepo/iris/1", files)
    created = b.register(path, name="iris", ModelFormat="ONNX", ModelType="ONNX:1.23")
    model_id, version_id = created["ModelID"], created["VersionInfo"]["ModelVersionID"]

    def deploy(name: str, envs: list[dict[str, str]]) -> httpx.Response:
        body = service_body(model_id, version_id, name=name, FlavorID="ml.c1i.large", Envs=envs)
        return b.call("CreateService", body)

    message = envelope_error(deploy("evil", code_running_envs(marker)), 400, "InvalidParameter")
    assert message.startswith("ServiceDeployment.Envs[0].Name: 'PYTHONWARNINGS' is reserved"), message
    for n, name in enumerate(
        ["BROWSER", "LD_PRELOAD", "PYTHONPATH", "MLP_DATABASE_URL", "pythonpath", "PATH", "SSLKEYLOGFILE"]
    ):
        envs = [{"Name": "LOG_LEVEL", "Value": "info"}, {"Name": name, "Value": str(tmp_path)}]
        message = envelope_error(deploy(f"evil-{n}", envs), 400, "InvalidParameter")
        assert message.startswith(f"ServiceDeployment.Envs[1].Name: {name!r} is reserved"), message
    assert b.list_all("ListServices") == []

    # Ordinary names still reach the replicas.
    service_id = b.ok("CreateService", service_body(
        model_id, version_id, name="iris-svc", FlavorID="ml.c1i.large",
        Envs=[{"Name": "LOG_LEVEL", "Value": "info"}],
    ))["ServiceID"]  # fmt: skip
    wait_deployment(b, service_id, "Running")

    # A record that holds such names (written before they were refused) starts its replicas without them.
    from mlp_server.store.schema import ServiceRow

    with server.platform.store._write() as session:
        session.get_one(ServiceRow, service_id).envs = code_running_envs(marker)
    b.ok("UpdateService", {"ServiceID": service_id, "Replicas": 2, "ChangeType": "ScalingService"})
    deployment = wait_deployment(b, service_id, "Running")
    assert deployment["Replicas"] == 2
    assert not marker.exists()
    b.ok("DeleteService", {"ServiceID": service_id})


def test_the_database_that_holds_every_secret_key_is_private(tmp_path: Path) -> None:
    """SQLite's file holds each access key's secret (the signature check needs it): readable by the
    platform's user only, as token.key and credentials.json, also when an earlier release left it
    readable by others."""
    data = tmp_path / "platform"
    database = [data / name for name in ("mlp.sqlite3", "mlp.sqlite3-wal", "mlp.sqlite3-shm")]

    def serve_once() -> Keys:
        with LiveServer(data) as live:
            keys = live.default_keys()
            with Api(live.url, keys) as api:
                api.ok("ListModels", {})
            assert all(path.exists() for path in database)
            assert keys.sk.encode() in b"".join(path.read_bytes() for path in database)
            modes = {path.name: oct(path.stat().st_mode & 0o777) for path in [*database, data / "token.key"]}
        assert set(modes.values()) == {"0o600"}, modes
        return keys

    serve_once()
    for path in database:
        if path.exists():
            path.chmod(0o644)
    serve_once()


NOBODY = 65534
# Another local user, waiting for the database to appear and keeping a descriptor on it: a file's mode
# is checked when it is opened, so a descriptor had before the file was narrowed reads it for ever.
WATCHER = """
import os, sys, time
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    try:
        fd = os.open(sys.argv[1], os.O_RDONLY)
    except FileNotFoundError:
        continue
    except PermissionError:
        sys.exit(print("refused"))
    input()  # the platform has written its keys
    sys.exit(print("read", sys.argv[2].encode() in os.read(fd, 1 << 24)))
print("never there")
"""


@pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="runs a command as another user: root only"
)
def test_a_new_database_is_private_from_its_first_moment() -> None:
    """SQLite made the file 0644 (less the umask) and it was narrowed only once open: another user
    spinning on open() got a descriptor in between in about one start in three, and read through it
    every secret written afterwards."""
    from sqlalchemy import text

    from mlp_server.store.engine import create_store_engine, sqlite_url

    for _ in range(12):
        folder = Path(tempfile.mkdtemp(prefix="mlp-private-db-"))
        try:
            folder.chmod(0o755)  # as a data folder made with the usual umask: others may enter it
            database = folder / "mlp.sqlite3"
            watcher = subprocess.Popen(
                ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                 sys.executable, "-c", WATCHER, str(database), "secret-of-a-key"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
            time.sleep(0.3)  # its interpreter is up and spinning
            engine = create_store_engine(sqlite_url(database))
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE keys (secret TEXT)"))
                conn.execute(text("INSERT INTO keys VALUES ('secret-of-a-key')"))
            with engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")  # into the database file
            out, _ = watcher.communicate("\n", timeout=30)
            engine.dispose()
            assert out.strip() == "refused", out
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def test_a_service_named_like_an_option_serves(server: LiveServer, b: Api) -> None:
    """The ServiceName reaches the replica's command line: one starting with '-' (any text without
    control characters is a name) is the name, never an option of the replica."""
    files = {p.name: p.read_bytes() for p in IRIS.iterdir()}
    path = server.upload(b.account_id, "modelrepo/iris/3", files)
    created = b.register(path, name="iris", ModelFormat="ONNX", ModelType="ONNX:1.23")
    model_id, version_id = created["ModelID"], created["VersionInfo"]["ModelVersionID"]
    name = "--gpu"
    body = service_body(model_id, version_id, name=name, FlavorID="ml.c1i.large", Envs=[])
    service_id = b.ok("CreateService", body)["ServiceID"]
    url = wait_deployment(b, service_id, "Running", "Failed")["EndpointURL"]
    assert url, b.ok("GetService", {"ServiceID": service_id})
    meta = httpx.get(f"{url}/v2/models/{quote(name, safe='')}", timeout=10).json()
    assert meta["name"] == name and meta["inputs"][0]["name"] == "features", meta
    b.ok("DeleteService", {"ServiceID": service_id})


def test_replicas_get_none_of_the_platforms_credentials(
    server: LiveServer, b: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica parses an account's uploaded model: the platform's own keys and database URL (in its
    environment, as an operator sets them) stay out of the replica's, the service's Envs go in."""
    from serving.helpers import environ_of, replica_pids

    secrets_ = {"MLP_S3_SECRET_KEY": "store-secret", "VOLC_SECRETKEY": "admin-secret",
                "MLP_DATABASE_URL": "postgresql://mlp:db-secret@db/mlp"}  # fmt: skip
    for name, value in secrets_.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MLP_TEST_SETTING", "kept")  # what is not a credential is inherited as before
    files = {p.name: p.read_bytes() for p in IRIS.iterdir()}
    created = b.register(
        server.upload(b.account_id, "modelrepo/iris/2", files),
        name="iris",
        ModelFormat="ONNX",
        ModelType="ONNX:1.23",
    )
    model_id, version_id = created["ModelID"], created["VersionInfo"]["ModelVersionID"]
    envs = [{"Name": "LOG_LEVEL", "Value": "info"}]
    body = service_body(model_id, version_id, name="iris-env", FlavorID="ml.c1i.large", Envs=envs)
    service_id = b.ok("CreateService", body)["ServiceID"]
    wait_deployment(b, service_id, "Running")
    (pid,) = replica_pids("iris-env", server.data_dir)
    environ = environ_of(pid)
    assert (environ["LOG_LEVEL"], environ["MLP_TEST_SETTING"]) == ("info", "kept")
    assert not set(secrets_) & set(environ), sorted(environ)
    assert not any(value in "\0".join(environ.values()) for value in secrets_.values())
    b.ok("DeleteService", {"ServiceID": service_id})

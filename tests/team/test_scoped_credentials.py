"""GetSTSToken on a team platform: credentials from the store's STS, scoped to one account's bucket,
expiring as asked, checked by an S3 server that enforces IAM (tenant A never reaches tenant B)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from server.helpers import Api, error_of

from iam_s3 import IamS3
from mlp_server.context import Platform
from mlp_server.platform import build_app
from mlp_server.settings import S3Settings, ServerSettings
from mlp_testing import REGION, bucket_for, read_default_keys
from volcengine_ml_platform.embedded import EmbeddedTransport
from volcengine_ml_platform.models import inner_model
from volcengine_ml_platform.models._common import STS_DURATION
from volcengine_ml_platform.models.model import AsyncModel, Model
from volcengine_ml_platform.transfer import credentials
from volcengine_ml_platform.transfer.progress import TransferProgress

from .conftest import Team

_ids = itertools.count(2100000300)
Creds = dict[str, Any]


@pytest.fixture
def tenants(team: Team) -> Iterator[tuple[Api, Api]]:
    """Two fresh accounts (A, B) of the team platform, each with a file in its own bucket."""
    a, b = (Api(team.url, team.add_account(next(_ids))) for _ in range(2))
    try:
        for api in (a, b):
            api.ok("GetTOSUploadPath", {"ServiceName": "modelrepo"})  # makes the account's bucket
        yield a, b
    finally:
        a.close()
        b.close()


def open_door_creds(api: Api, duration: int = 900) -> Creds:
    return api.ok("GetSTSToken", {"Duration": duration})


def inner_door_creds(api: Api, admin: Api, duration: int = 900) -> Creds:
    token = admin.token_for(api.account_id)
    response = api.inner("GetSTSToken", {"Duration": duration}, token)
    assert response.status_code == 200, response.text
    creds: Creds = response.json()["Result"]
    return creds


def s3_with(iam_s3: IamS3, creds: Creds) -> Any:
    return iam_s3.client("s3", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


def refused(call: Callable[[], Any], code: str = "AccessDenied") -> None:
    with pytest.raises(ClientError) as caught:
        call()
    assert caught.value.response["Error"]["Code"] == code, caught.value.response


@pytest.mark.parametrize("door", ["open", "inner"])
def test_tenant_credentials_reach_their_bucket_only(
    team: Team, iam_s3: IamS3, tenants: tuple[Api, Api], door: str
) -> None:
    a, b = tenants
    with Api(team.url, team.default_keys()) as admin:
        creds = open_door_creds(a) if door == "open" else inner_door_creds(a, admin)
    assert creds["AccessKeyId"] != iam_s3.access_key and creds["SessionToken"]
    s3 = s3_with(iam_s3, creds)
    own, other = bucket_for(a.account_id), bucket_for(b.account_id)
    master = iam_s3.client("s3", iam_s3.access_key, iam_s3.secret_key)
    master.put_object(Bucket=other, Key="secret/weights.bin", Body=b"B's model")

    # Their own bucket: everything a client does.
    s3.put_object(Bucket=own, Key="mine/f.bin", Body=b"A's model")
    assert s3.get_object(Bucket=own, Key="mine/f.bin")["Body"].read() == b"A's model"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=own)["Contents"]] == ["mine/f.bin"]
    s3.delete_object(Bucket=own, Key="mine/f.bin")

    # Another tenant's bucket: list, get, put and delete are all refused by the store.
    refused(lambda: s3.list_objects_v2(Bucket=other))
    refused(lambda: s3.get_object(Bucket=other, Key="secret/weights.bin"))
    refused(lambda: s3.put_object(Bucket=other, Key="secret/weights.bin", Body=b"overwritten"))
    refused(lambda: s3.delete_object(Bucket=other, Key="secret/weights.bin"))
    assert master.get_object(Bucket=other, Key="secret/weights.bin")["Body"].read() == b"B's model"


@pytest.mark.parametrize("door", ["open", "inner"])
def test_tenant_credentials_cannot_change_their_bucket(
    team: Team, iam_s3: IamS3, tenants: tuple[Api, Api], door: str
) -> None:
    """The platform owns the account's bucket, the tenant its objects: versioning (whose old versions a
    delete or the sweep never frees), ACLs and policies (a public bucket, or one that shuts the
    platform out), lifecycle rules and the bucket itself stay out of the credentials' reach."""
    a, _ = tenants
    with Api(team.url, team.default_keys()) as admin:
        creds = open_door_creds(a) if door == "open" else inner_door_creds(a, admin)
    s3 = s3_with(iam_s3, creds)
    own = bucket_for(a.account_id)
    master = iam_s3.client("s3", iam_s3.access_key, iam_s3.secret_key)
    deny_all = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{own}", f"arn:aws:s3:::{own}/*"]}]}  # fmt: skip
    expire = {
        "Rules": [{"ID": "r", "Status": "Enabled", "Filter": {"Prefix": ""}, "Expiration": {"Days": 1}}]
    }
    refused(lambda: s3.put_bucket_versioning(Bucket=own, VersioningConfiguration={"Status": "Enabled"}))
    refused(lambda: s3.put_bucket_acl(Bucket=own, ACL="public-read"))
    refused(lambda: s3.put_bucket_policy(Bucket=own, Policy=json.dumps(deny_all)))
    refused(lambda: s3.put_bucket_lifecycle_configuration(Bucket=own, LifecycleConfiguration=expire))
    refused(lambda: s3.delete_bucket(Bucket=own))
    assert "Status" not in master.get_bucket_versioning(Bucket=own)
    # What a client does still works: objects written in parts, listed, read and deleted.
    upload = s3.create_multipart_upload(Bucket=own, Key="mine/big.bin")["UploadId"]
    part = s3.upload_part(Bucket=own, Key="mine/big.bin", UploadId=upload, PartNumber=1, Body=b"x" * 10)
    assert [u["UploadId"] for u in s3.list_multipart_uploads(Bucket=own).get("Uploads", [])] == [upload]
    assert len(s3.list_parts(Bucket=own, Key="mine/big.bin", UploadId=upload)["Parts"]) == 1
    parts = {"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]}
    s3.complete_multipart_upload(Bucket=own, Key="mine/big.bin", UploadId=upload, MultipartUpload=parts)
    assert s3.head_object(Bucket=own, Key="mine/big.bin")["ContentLength"] == 10
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=own)["Contents"]] == ["mine/big.bin"]
    s3.put_object(Bucket=own, Key="mine/small.bin", Body=b"y")
    master.put_object(Bucket=own, Key="mine/platform.json", Body=b"{}")  # as the platform's manifests
    keys = [{"Key": k} for k in ("mine/big.bin", "mine/small.bin", "mine/platform.json")]
    assert "Errors" not in s3.delete_objects(Bucket=own, Delete={"Objects": keys, "Quiet": True})
    assert "Contents" not in s3.list_objects_v2(Bucket=own)
    other = s3.create_multipart_upload(Bucket=own, Key="mine/gone.bin")["UploadId"]
    s3.abort_multipart_upload(Bucket=own, Key="mine/gone.bin", UploadId=other)


def test_duration_is_honoured_and_expired_credentials_are_refused(
    iam_s3: IamS3, tenants: tuple[Api, Api]
) -> None:
    a, _ = tenants
    short, long = open_door_creds(a, 900), open_door_creds(a, 7200)
    now = datetime.now(UTC)
    for creds, duration in ((short, 900), (long, 7200)):
        left = (datetime.fromisoformat(creds["ExpiredTime"]) - now).total_seconds()
        assert duration - 60 < left <= duration + 1, (duration, left)
    own = bucket_for(a.account_id)
    s3_short, s3_long = s3_with(iam_s3, short), s3_with(iam_s3, long)
    s3_short.put_object(Bucket=own, Key="t/x", Body=b"x")

    iam_s3.advance_clock(901)
    try:
        refused(lambda: s3_short.get_object(Bucket=own, Key="t/x"), "ExpiredToken")
        refused(lambda: s3_short.list_objects_v2(Bucket=own), "ExpiredToken")
        assert s3_long.get_object(Bucket=own, Key="t/x")["Body"].read() == b"x"  # not yet expired
    finally:
        iam_s3.advance_clock(-901)


def test_the_store_refuses_what_it_does_not_know(iam_s3: IamS3, tenants: tuple[Api, Api]) -> None:
    a, _ = tenants
    creds = open_door_creds(a)
    forged = {**creds, "SecretAccessKey": "x" + creds["SecretAccessKey"][1:]}
    refused(
        lambda: s3_with(iam_s3, forged).list_objects_v2(Bucket=bucket_for(a.account_id)),
        "SignatureDoesNotMatch",
    )
    ml_keys = iam_s3.client("s3", a.keys.ak, a.keys.sk)  # the ml_platform keys mean nothing to the store
    refused(lambda: ml_keys.list_objects_v2(Bucket=bucket_for(a.account_id)), "InvalidAccessKeyId")


def test_the_public_model_registers_and_downloads_with_scoped_credentials(
    team: Team, iam_s3: IamS3, tenants: tuple[Api, Api], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = tenants
    # The store's region, not the platform's, goes in the S3 signature (README, team mode).
    monkeypatch.setenv("VOLC_TOS_REGION", "us-east-1")
    monkeypatch.setenv("VOLC_CONFIG_FILE", str(tmp_path / "no-config"))
    folder = tmp_path / "resnet"
    (folder / "variables").mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"\x00graph" * 1000)
    (folder / "variables" / "v.index").write_bytes(b"index")
    model = Model(endpoint=team.url, access_key=a.keys.ak, secret_key=a.keys.sk, region=REGION)
    model_id = model.register(str(folder), model_name="scoped", model_format="SavedModel",
                              model_type="TensorFlow:2.4")["Result"]["ModelID"]  # fmt: skip
    # Through the other server of the team: same database, same store.
    again = Model(endpoint=team.servers[1].url, access_key=a.keys.ak, secret_key=a.keys.sk, region=REGION)
    again.download(model_id, "1", str(tmp_path / "copy"))
    assert (tmp_path / "copy" / "saved_model.pb").read_bytes() == b"\x00graph" * 1000
    path = again.get_model_version(model_id, "1")["Result"]["Path"]
    assert path.startswith(f"tos://{bucket_for(a.account_id)}/")
    # B's credentials cannot read what A registered.
    bucket, _, prefix = path.removeprefix("tos://").partition("/")
    refused(lambda: s3_with(iam_s3, open_door_creds(b)).list_objects_v2(Bucket=bucket, Prefix=prefix))


# ---- a store without STS ---------------------------------------------------------------------------


def _platform(tmp_path: Path, iam_s3: IamS3, **s3: Any) -> tuple[Platform, Api]:
    settings = ServerSettings(
        data_dir=tmp_path / "platform",
        s3=S3Settings(iam_s3.endpoint, iam_s3.access_key, iam_s3.secret_key, **s3),
    )
    app = build_app(settings)
    platform: Platform = app.state.platform
    keys = read_default_keys(tmp_path / "platform")
    return platform, Api("http://platform", keys, transport=EmbeddedTransport(app))


# Nothing listens on port 9 of the loopback (discard): an STS that is not there.
NO_STS = "http://127.0.0.1:9"


def test_a_store_without_sts_fails_clearly(tmp_path: Path, iam_s3: IamS3) -> None:
    platform, api = _platform(tmp_path, iam_s3, sts_endpoint_url=NO_STS)
    try:
        status, code, message = error_of(api.call("GetSTSToken", {}))
        assert (status, code) == (501, "ObjectStoreSTSUnavailable")
        assert NO_STS in message and "MLP_S3_UNSAFE_SHARE_STORE_KEYS" in message
        assert iam_s3.secret_key not in api.call("GetSTSToken", {}).text
    finally:
        api.close()
        platform.store.close()


def test_sharing_store_keys_needs_the_unsafe_setting(tmp_path: Path, iam_s3: IamS3) -> None:
    platform, api = _platform(tmp_path, iam_s3, sts_endpoint_url=NO_STS, unsafe_share_store_keys=True)
    try:
        creds = api.ok("GetSTSToken", {})
        assert (creds["AccessKeyId"], creds["SecretAccessKey"]) == (iam_s3.access_key, iam_s3.secret_key)
    finally:
        api.close()
        platform.store.close()


# ---- credentials that expire during a transfer -----------------------------------------------------


@pytest.mark.parametrize("api", ["sync", "async"])
def test_credentials_that_expire_during_a_transfer_are_renewed(
    team: Team,
    iam_s3: IamS3,
    tenants: tuple[Api, Api],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api: str,
) -> None:
    """GetSTSToken's keys last an hour: the store's clock and the client's jump past that between two
    files of an upload, and again before a download; both go on with renewed keys (obstore's PUTs and
    GETs, botocore's listing)."""
    a, _ = tenants
    monkeypatch.setenv("VOLC_TOS_REGION", "us-east-1")
    monkeypatch.setenv("VOLC_CONFIG_FILE", str(tmp_path / "no-config"))
    jumped = [0.0]
    monkeypatch.setattr(credentials, "now", lambda: time.time() + jumped[0])
    hour_and_more = STS_DURATION + 100

    def jump() -> None:
        iam_s3.advance_clock(hour_and_more)
        jumped[0] += hour_and_more

    folder = tmp_path / "model"
    folder.mkdir()
    files = {f"f{i}.bin": os.urandom(1000) for i in range(3)}  # a few small files: one after another
    for name, data in files.items():
        (folder / name).write_bytes(data)

    def progress(p: TransferProgress) -> None:
        if p.files_done == 1 and not jumped[0]:
            jump()  # the first file went with the first keys, which have now expired

    kwargs: dict[str, Any] = {"endpoint": team.url, "access_key": a.keys.ak, "secret_key": a.keys.sk}
    kwargs["region"] = REGION
    register = {"model_name": "renewed", "model_format": "SavedModel", "model_type": "TensorFlow:2.4"}
    try:
        if api == "sync":
            model = Model(**kwargs)
            model_id = model.register(str(folder), **register, progress=progress).result.model_id
            jump()
            model.download(model_id, "1", str(tmp_path / "copy"))
        else:

            async def run() -> None:
                async with AsyncModel(**kwargs) as model:
                    created = await model.register(str(folder), **register, progress=progress)
                    jump()
                    await model.download(created.result.model_id, "1", str(tmp_path / "copy"))

            asyncio.run(run())
    finally:
        iam_s3.advance_clock(-jumped[0])
    assert jumped[0] == 2 * hour_and_more
    assert {p.name: p.read_bytes() for p in (tmp_path / "copy").iterdir()} == files


@pytest.mark.parametrize("api", ["sync", "async"])
def test_the_inner_models_credentials_that_expire_during_a_transfer_are_renewed(
    team: Team,
    iam_s3: IamS3,
    tenants: tuple[Api, Api],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    api: str,
) -> None:
    """As above, for the cross-account ``inner_model``: its GetSTSToken (inner door) keys are renewed
    between two files of an upload, and before a download by the same client an hour later."""
    a, _ = tenants
    monkeypatch.setenv("VOLC_TOS_REGION", "us-east-1")
    monkeypatch.setenv("VOLC_CONFIG_FILE", str(tmp_path / "no-config"))
    jumped = [0.0]
    monkeypatch.setattr(credentials, "now", lambda: time.time() + jumped[0])
    hour_and_more = STS_DURATION + 100

    def jump() -> None:
        iam_s3.advance_clock(hour_and_more)
        jumped[0] += hour_and_more

    def clock() -> float:  # the inner client's own clock (tokens, cached keys) moves with the store's
        return time.time() + jumped[0]

    folder = tmp_path / "model"
    folder.mkdir()
    files = {f"f{i}.bin": os.urandom(1000) for i in range(3)}
    for name, data in files.items():
        (folder / name).write_bytes(data)

    def progress(p: TransferProgress) -> None:
        if p.files_done == 1 and not jumped[0]:
            jump()  # the first file went with the first keys, which have now expired

    admin = team.default_keys()
    kwargs: dict[str, Any] = {"endpoint": team.url, "access_key": admin.ak, "secret_key": admin.sk}
    kwargs.update(region=REGION, clock=clock)
    register = {"model_name": "inner-renewed", "model_format": "SavedModel", "model_type": "TensorFlow:2.4"}
    try:
        if api == "sync":
            model = inner_model.Model(a.account_id, 1, **kwargs)
            model_id = model.register(str(folder), **register, progress=progress).result.model_id
            jump()
            model.download(model_id, "1", str(tmp_path / "copy"))
        else:

            async def run() -> None:
                async with inner_model.AsyncModel(a.account_id, 1, **kwargs) as model:
                    created = await model.register(str(folder), **register, progress=progress)
                    jump()
                    await model.download(created.result.model_id, "1", str(tmp_path / "copy"))

            asyncio.run(run())
    finally:
        iam_s3.advance_clock(-jumped[0])
    assert jumped[0] == 2 * hour_and_more
    assert {p.name: p.read_bytes() for p in (tmp_path / "copy").iterdir()} == files

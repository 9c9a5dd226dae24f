"""The wire forms of the Volcengine ml-platform SDK releases after 2021-08, sent to ``mlp serve`` the way
those SDKs send them: signed by the official ``volcengine`` package's SignerV4 and posted with plain
``requests`` (not our client), over HTTP and, for the inner door, over HTTPS with the certificate of
``mlp serve --tls-self-signed``.

- ``Version=2021-10-01`` on both doors, echoed in ResponseMetadata;
- every optional field present, ``null`` where the caller gave nothing (never accepted where required);
- ``ModelVersion`` as a string of digits in ListModelVersions;
- ListResource ``SortBy: "vCPU"`` (deploy() picks a flavor that way), and Memory / GPUNum;
- the inner door over https; our own client trusting the same CA through REQUESTS_CA_BUNDLE.
"""

from __future__ import annotations

import gc
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from volcengine.auth.SignerV4 import SignerV4
from volcengine.base.Request import Request
from volcengine.Credentials import Credentials as SdkCredentials

from mlp_testing import REGION, Keys, MlpServe, free_port
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.errors import MLPlatformError
from volcengine_ml_platform.models.model import Model

from .helpers import upload_into

NEW = "2021-10-01"
OLD = "2021-07-01"
CA_LINE = re.compile(r"CA certificate for clients: (\S+)")


@dataclass
class Platform:
    serve: MlpServe
    keys: Keys
    https_url: str
    ca: Path
    path: str  # a tos:// model folder in the default account's bucket

    def call(
        self, action: str, body: dict[str, Any], *, version: str = NEW, url: str = ""
    ) -> requests.Response:
        """POST the open door, signed by the official SDK's SignerV4 as its ml_platform client signs."""
        parts = urlsplit(url or self.serve.url)
        request = Request()
        request.set_schema(parts.scheme)
        request.set_method("POST")
        request.set_host(parts.netloc)
        request.set_path("/")
        request.set_query({"Action": action, "Version": version})
        request.set_headers({"Content-Type": "application/json", "Host": parts.netloc})
        request.set_body(json.dumps(body))
        SignerV4.sign(request, SdkCredentials(self.keys.ak, self.keys.sk, "ml_platform", REGION))
        return requests.post(
            request.build(), headers=request.headers, data=request.body, timeout=30, verify=str(self.ca)
        )

    def ok(self, action: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        response = self.call(action, body, **kwargs)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["Result"]
        return result


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    data_dir = tmp_path_factory.mktemp("sdk2021") / "platform"
    tls_port = free_port()
    serve = MlpServe(data_dir, extra_args=("--tls-self-signed", "--tls-port", str(tls_port)))
    with serve:
        found = CA_LINE.search(serve.log())
        assert found, serve.log()
        ca = Path(found.group(1))
        assert ca.is_file() and ca.parent == data_dir / "tls"
        keys = serve.default_keys()
        path = upload_into(data_dir, keys.account_id, "modelrepo/from-sdk-repo/2021/1")
        yield Platform(serve, keys, f"https://127.0.0.1:{tls_port}", ca, path)


def test_both_versions_are_accepted_and_echoed(platform: Platform) -> None:
    for version in (OLD, NEW):
        response = platform.call("ListModels", {}, version=version)
        assert response.status_code == 200, response.text
        assert response.json()["ResponseMetadata"]["Version"] == version
    refused = platform.call("ListModels", {}, version="2022-01-01")
    assert refused.status_code == 404
    assert refused.json()["ResponseMetadata"]["Error"]["Code"] == "InvalidActionOrVersion"


def test_create_model_with_every_optional_field_null(platform: Platform) -> None:
    nulls = {"Description": None, "TensorConfig": None, "MetricsList": None, "ModelTags": None}
    body = {
        "ModelName": "sdk-2021-nulls",
        "ModelID": None,
        "ModelCategory": None,
        "DatasetID": None,
        "VersionInfo": {
            "ModelFormat": "SavedModel",
            "ModelType": "TensorFlow:2.4",
            "Path": platform.path,
            "SourceType": None,
            **nulls,
        },
    }
    created = platform.ok("CreateModel", body)
    model_id = created["ModelID"]
    model = platform.ok("GetModel", {"ModelID": model_id})
    assert model["ModelName"] == "sdk-2021-nulls" and "ModelCategory" not in model
    version = platform.ok("GetModelVersion", {"ModelVersionID": created["VersionInfo"]["ModelVersionID"]})
    assert version["SourceType"] == "TOS" and version["Description"] == ""  # the documented defaults

    # A new version: ModelName, ModelFormat and ModelType null, so inherited from the latest version.
    second = {
        "ModelName": None,
        "ModelID": model_id,
        "ModelCategory": None,
        "DatasetID": None,
        "VersionInfo": {"ModelFormat": None, "ModelType": None, "Path": platform.path, **nulls},
    }
    assert platform.ok("CreateModel", second)["VersionInfo"]["ModelVersion"] == 2
    listed = platform.ok("ListModelVersions", {"ModelID": model_id, "ModelVersion": None, "SortBy": None})
    assert [v["ModelType"] for v in listed["List"]] == ["TensorFlow:2.4", "TensorFlow:2.4"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"ModelName": "x", "VersionInfo": None}, "VersionInfo"),
        (
            {"ModelName": "x", "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.8", "Path": None}},
            "Path",
        ),
    ],
)
def test_null_is_never_accepted_where_a_value_is_required(
    platform: Platform, body: dict[str, Any], field: str
) -> None:
    response = platform.call("CreateModel", body)
    assert response.status_code == 400, response.text
    error = response.json()["ResponseMetadata"]["Error"]
    assert error["Code"] == "InvalidParameter" and field in error["Message"]


def test_model_version_as_a_digit_string(platform: Platform) -> None:
    created = platform.ok("CreateModel", {"ModelName": "sdk-2021-digits", "VersionInfo": _info(platform)})
    model_id = created["ModelID"]
    platform.ok("CreateModel", {"ModelID": model_id, "VersionInfo": {"Path": platform.path}})
    for value in ("1", 1, "2"):
        listed = platform.ok("ListModelVersions", {"ModelID": model_id, "ModelVersion": value})
        assert [v["ModelVersion"] for v in listed["List"]] == [int(value)]
    for bad in ("01", "1.0", "one", ""):
        response = platform.call("ListModelVersions", {"ModelID": model_id, "ModelVersion": bad})
        assert response.status_code == 400, (bad, response.text)
        assert "ModelVersion" in response.json()["ResponseMetadata"]["Error"]["Message"]


@pytest.mark.parametrize(("sort_by", "field"), [("vCPU", "vCPU"), ("Memory", "Memory"), ("GPUNum", "GPUNum")])
def test_list_resource_sorts_flavors(platform: Platform, sort_by: str, field: str) -> None:
    for order, reverse in (("Ascend", False), ("Descend", True)):
        result = platform.ok("ListResource", {"SortBy": sort_by, "SortOrder": order, "Limit": 100})
        values = [flavor[field] for group in result["List"].values() for flavor in group]
        assert len(values) == result.get("Total", len(values)) >= 5
        # Groups list in the order of their first flavor, so concatenating them keeps the order only
        # when no group interleaves; check each group, and the first flavor of each group.
        for group in result["List"].values():
            column = [flavor[field] for flavor in group]
            assert column == sorted(column, reverse=reverse), (sort_by, order, result)
    smallest = platform.ok("ListResource", {"SortBy": "vCPU", "SortOrder": "Ascend", "Limit": 1})
    (flavors,) = smallest["List"].values()
    assert [f["Id"] for f in flavors] == ["ml.c1i.large"]  # 2 vCPUs: the smallest of the catalogue


def test_inner_door_over_https_with_the_self_signed_ca(platform: Platform) -> None:
    # The admin gets a token over HTTPS too (the whole open door is served there as well).
    token = platform.ok(
        "AdminGetSecureToken",
        {"TimeToLive": 600, "AccountId": platform.keys.account_id, "UserId": 1},
        url=platform.https_url,
    )["Token"]
    inner = f"{platform.https_url}/ml-platform/{REGION}/api/InnerCreateModel"
    body = {
        "ModelName": "sdk-2021-inner",
        "ModelID": None,
        "ModelCategory": None,
        "DatasetID": None,
        "VersionInfo": {**_info(platform), "BaseModelVersionID": None, "SourceId": None, "MetricsList": None},
    }
    response = requests.post(
        inner, params={"Token": token, "Version": NEW}, json=body, timeout=30, verify=str(platform.ca)
    )
    assert response.status_code == 200, response.text
    assert response.json()["ResponseMetadata"]["Version"] == NEW
    assert response.json()["Result"]["VersionInfo"]["ModelVersion"] == 1

    assert _certificate_refused(inner)  # without the CA: the platform's certificate is its own
    http_inner = f"{platform.serve.url}/ml-platform/{REGION}/api/InnerGetTOSUploadPath"
    plain = requests.post(http_inner, params={"Token": token}, json={"ServiceName": "modelrepo"}, timeout=30)
    assert plain.status_code == 200 and plain.json()["ResponseMetadata"]["Version"] == OLD


def test_our_client_trusts_the_ca_from_requests_ca_bundle(
    platform: Platform, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "ML_PLATFORM_HOST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VOLC_ML_PLATFORM_ENDPOINT", platform.https_url)
    monkeypatch.setenv("VOLC_ACCESSKEY", platform.keys.ak)
    monkeypatch.setenv("VOLC_SECRETKEY", platform.keys.sk)
    monkeypatch.setenv("VOLC_REGION", REGION)
    assert resolve_settings().mode == "remote"
    with pytest.raises(MLPlatformError) as untrusted:  # not trusted yet: an unknown CA, never retried
        Model().list_models(page_size=1)
    assert "REQUESTS_CA_BUNDLE" in str(untrusted.value) and "not trusted" in str(untrusted.value)
    del untrusted
    gc.collect()  # close the refused connection now (see _certificate_refused)
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"):
        monkeypatch.setenv(name, str(platform.ca))
        listed = Model().list_models(model_name_contains="sdk-2021", page_size=100)
        assert listed["Result"]["Total"] >= 1
        monkeypatch.delenv(name)


def _certificate_refused(url: str) -> bool:
    try:
        requests.post(url, json={}, timeout=30)
    except requests.exceptions.SSLError as exc:
        refused = "CERTIFICATE_VERIFY_FAILED" in str(exc)
    else:
        refused = False
    # The failed handshake's socket lives in the exception's frames until collected; left open, it
    # would keep the server waiting for it at shutdown.
    gc.collect()
    return refused


def _info(platform: Platform) -> dict[str, Any]:
    return {"ModelFormat": "SavedModel", "ModelType": "TensorFlow:2.4", "Path": platform.path}

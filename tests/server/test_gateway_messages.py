"""What the gateway says about a refused request, over real HTTP: a body declared as other than JSON
is UnsupportedMediaType (415, as the document lists), a union field's error names every allowed form,
and an error quotes only the start of an over-long value."""

from __future__ import annotations

import json

import httpx
import pytest

from mlp_server.body import ALLOWED_MEDIA_TYPES
from mlp_testing import REGION

from .helpers import API_VERSION, Api, LiveServer, error_of


def posted(api: Api, content: bytes, content_type: str | None) -> httpx.Response:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return api.http.post(
        f"/?Action=ListModels&Version={API_VERSION}", content=content, headers=headers, auth=api.auth
    )


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "multipart/form-data; boundary=x", "text/json"]
)
def test_a_body_declared_as_other_than_json_is_unsupported_media_type(admin: Api, content_type: str) -> None:
    status, code, message = error_of(posted(admin, b"{}", content_type))
    assert (status, code) == (415, "UnsupportedMediaType")
    assert message.startswith(f"Content-Type: {content_type!r} is not allowed"), message
    assert all(allowed in message for allowed in ALLOWED_MEDIA_TYPES), message


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/merge-patch+json",
        # What Volcengine's signer sets on a POST whose caller set no Content-Type (the body is JSON).
        "application/x-www-form-urlencoded; charset=utf-8",
    ],
)
def test_json_bodies_are_served_whatever_json_type_they_declare(admin: Api, content_type: str | None) -> None:
    response = posted(admin, b'{"Limit": 1}', content_type)
    assert response.status_code == 200, response.text
    assert response.json()["Result"]["Total"] == 0


def test_the_inner_door_refuses_a_body_that_is_not_json_too(admin: Api) -> None:
    response = admin.http.post(
        f"/ml-platform/{REGION}/api/InnerGetTOSUploadPath",
        params={"Token": admin.token_for(admin.account_id)},
        content=b"{}",
        headers={"Content-Type": "text/csv"},
    )
    assert error_of(response)[:2] == (415, "UnsupportedMediaType")


@pytest.mark.parametrize("value", ["abc", -1, 0, "01"])
def test_a_version_filter_error_names_both_allowed_forms(
    admin: Api, server: LiveServer, value: object
) -> None:
    path = server.upload(admin.account_id, "messages/m1")
    model_id = admin.register(path, name="messages")["ModelID"]
    status, code, message = error_of(
        admin.call("ListModelVersions", {"ModelID": model_id, "ModelVersion": value})
    )
    assert (status, code) == (400, "InvalidParameter")
    assert message == (
        f"ModelVersion: {value!r} is not valid; expected an integer from 1 to 2147483647 "
        "or a version number (1 or more) as digits"
    )


@pytest.mark.parametrize(
    ("body", "field", "rule"),
    [
        (
            {"ModelNameContains": "a" * (4 * 1024 * 1024)},
            "ModelNameContains",
            "at most 128 characters allowed",
        ),
        ({"SortBy": "x" * 100_000}, "SortBy", "allowed values: "),
        ({"Limit": "x" * 100_000}, "Limit", "expected integer, got str"),
    ],
)
def test_an_error_quotes_only_the_start_of_an_over_long_value(
    admin: Api, body: dict[str, object], field: str, rule: str
) -> None:
    sent = len(json.dumps(body))
    response = admin.call("ListModels", body)
    status, code, message = error_of(response)
    assert (status, code) == (400, "InvalidParameter")
    assert len(response.content) < 4_000, f"a {sent}-byte request got a {len(response.content)}-byte answer"
    assert message.startswith(f"{field}: "), message
    assert rule in message, message


def test_an_error_about_a_long_list_says_its_size_not_its_items(admin: Api) -> None:
    metrics = [{"MetricsType": "Perf", "Params": "{}", "MetricsData": "{}"}] * 30_000
    body = {"ModelVersionID": "m-20250101000000-abcde-1", "MetricsList": metrics}
    response = admin.call("UpdateModelVersion", body)
    assert error_of(response) == (400, "InvalidParameter", "MetricsList: 30000 items; at most 256 allowed")

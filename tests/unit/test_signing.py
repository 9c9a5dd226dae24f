"""Request signing: the SDK's vectors byte for byte, through the pure signer, httpx, and the verifier."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from volcengine_ml_platform.auth import Credentials, VolcSignerAuth
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.errors import AuthError
from volcengine_ml_platform.signing import (
    SIGNATURE_ERROR_CODES,
    SignatureError,
    VerifiedRequest,
    parse_authorization,
    parse_x_date,
    sign,
    verify,
)

Vector = dict[str, Any]
# Signatures produced by Volcengine's official SDK (copied into the repository: tests need nothing beside it).
VECTORS_PATH = Path(__file__).resolve().parents[1] / "data" / "sign_vectors.json"
VECTORS: list[Vector] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))["vectors"]
SERVICE = "ml_platform"


by_vector = pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])


def fixed_clock(x_date: str) -> Callable[[], datetime]:
    moment = parse_x_date(x_date)
    return lambda: moment


def auth_for(vector: Vector) -> VolcSignerAuth:
    credentials = Credentials(vector["ak"], vector["sk"], vector["token"] or None)
    return VolcSignerAuth(
        credentials, region=vector["region"], service=vector["service"], clock=fixed_clock(vector["xdate"])
    )


def send(request: httpx.Request, auth: httpx.Auth) -> httpx.Request:
    """The request as the transport receives it, after ``auth`` ran."""
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        client.send(request, auth=auth)
    return sent[0]


def vector_request(vector: Vector) -> httpx.Request:
    """The vector's request in httpx; httpx always adds Host, so drop it where the SDK had none."""
    request = httpx.Request(
        vector["method"], vector["url"], headers=vector["headers"], content=vector["body"].encode()
    )
    if not any(name == "Host" for name, _ in vector["headers"]):
        del request.headers["Host"]
    return request


def verify_received(request: httpx.Request, *, now: datetime, secrets: dict[str, str]) -> VerifiedRequest:
    """Verify as the server sees the request: lowercase byte headers, raw path and query (ASGI)."""
    return verify(
        method=request.method,
        path=request.url.raw_path.split(b"?")[0],
        query=request.url.query,
        headers=[(k.lower(), v) for k, v in request.headers.raw],
        body=request.content,
        secret_key_for=secrets.get,
        now=now,
        service=SERVICE,
    )


# --- the vectors, byte for byte ----------------------------------------------------------------------


@by_vector
def test_sign_reproduces_the_sdk(vector: Vector) -> None:
    result = sign(
        vector["method"],
        vector["path"],
        [tuple(kv) for kv in vector["query"]],
        [tuple(kv) for kv in vector["headers"]],
        vector["body"].encode(),
        access_key=vector["ak"],
        secret_key=vector["sk"],
        region=vector["region"],
        service=vector["service"],
        x_date=vector["xdate"],
        session_token=vector["token"] or None,
    )
    assert result.canonical_request == vector["canonical_request"]
    assert result.string_to_sign == vector["string_to_sign"]
    assert result.authorization == vector["expected_authorization"]
    sdk_added = {
        k: v for k, v in vector["sdk_headers_after_sign"].items() if k not in dict(vector["headers"])
    }
    assert dict(result.headers) == sdk_added


@by_vector
def test_httpx_auth_reproduces_the_sdk(vector: Vector) -> None:
    auth = auth_for(vector)
    result = auth.sign(vector_request(vector))
    assert result.canonical_request == vector["canonical_request"]
    assert result.string_to_sign == vector["string_to_sign"]

    sent = send(vector_request(vector), auth)
    assert sent.headers["Authorization"] == vector["expected_authorization"]
    for name, value in vector["sdk_headers_after_sign"].items():
        assert sent.headers[name] == value


def test_httpx_signs_the_host_it_always_sends() -> None:
    # httpx adds Host to every request, so what goes on the wire signs it even where the SDK vector did not.
    vector = next(v for v in VECTORS if not any(k == "Host" for k, _ in v["headers"]))
    request = httpx.Request(vector["method"], vector["url"], headers=vector["headers"], content=b"")
    result = auth_for(vector).sign(request)
    expected = vector["canonical_request"].replace(
        "content-type:application/json\n", f"content-type:application/json\nhost:{vector['host']}\n"
    )
    expected = expected.replace("\ncontent-type;", "\ncontent-type;host;")
    assert result.canonical_request == expected
    now = parse_x_date(vector["xdate"])
    verify_received(request, now=now, secrets={vector["ak"]: vector["sk"]})


# --- what the signer adds and signs ------------------------------------------------------------------

CREDENTIALS = Credentials("AKLTexample", "secret-key-example")
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
SIGN_ARGS: dict[str, Any] = {
    "access_key": "AK",
    "secret_key": "SK",
    "region": "cn-beijing",
    "service": SERVICE,
    "x_date": "20240506T070809Z",
}


def make_auth(credentials: Credentials = CREDENTIALS) -> VolcSignerAuth:
    return VolcSignerAuth(credentials, region="cn-beijing", clock=lambda: NOW)


def test_non_default_port_is_signed_and_default_ports_are_not() -> None:
    local = make_auth().sign(httpx.Request("POST", "http://127.0.0.1:8765/", content=b"{}"))
    assert "\nhost:127.0.0.1:8765\n" in local.canonical_request
    default = sign("GET", "/", [], {"Host": "example.com:443"}, b"", **SIGN_ARGS)
    assert "\nhost:example.com\n" in default.canonical_request


def test_non_get_without_content_type_gets_the_sdk_default() -> None:
    request = httpx.Request("POST", "https://open.volcengineapi.com/", content=b"a=1")
    make_auth().sign(request)
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    get = httpx.Request("GET", "https://open.volcengineapi.com/")
    result = make_auth().sign(get)
    assert "Content-Type" not in get.headers
    assert result.signed_headers == "host;x-content-sha256;x-date"


def test_only_exact_case_names_are_signed() -> None:
    headers = {"Content-Type": "application/json", "x-lower": "no", "X-Upper": " kept ", "Accept": "no"}
    result = sign("POST", "/", [], headers, b"", **SIGN_ARGS)
    assert result.signed_headers == "content-type;x-content-sha256;x-date;x-upper"
    assert "\nx-upper: kept \n" in result.canonical_request  # values are not trimmed


def test_canonical_query_and_path_quoting() -> None:
    query = [("b", "2"), ("a", "x y"), ("a", "é/+*"), ("c", "")]
    result = sign("GET", "/a b/ü", query, {}, b"", **SIGN_ARGS)
    path, canonical_query = result.canonical_request.split("\n")[1:3]
    assert path == "/a%20b/%C3%BC"
    assert canonical_query == "a=x%20y&a=%C3%A9%2F%2B%2A&b=2&c="


def test_session_token_header_is_added_and_signed() -> None:
    request = httpx.Request("POST", "https://open.volcengineapi.com/", json={})
    result = make_auth(Credentials("AK", "SK", "token-123")).sign(request)
    assert request.headers["X-Security-Token"] == "token-123"
    assert "x-security-token" in result.signed_headers.split(";")


def test_x_date_comes_from_the_clock() -> None:
    request = httpx.Request("POST", "https://open.volcengineapi.com/", json={})
    make_auth().sign(request)
    assert request.headers["X-Date"] == "20240506T070809Z"
    assert (
        "Credential=AKLTexample/20240506/cn-beijing/ml_platform/request," in request.headers["Authorization"]
    )


def test_from_settings_without_credentials_is_an_auth_error() -> None:
    settings = resolve_settings(environ={"HOME": "/nonexistent-home"})
    with pytest.raises(AuthError, match="no credentials"):
        VolcSignerAuth.from_settings(settings)


# --- client and verifier agree on the wire -----------------------------------------------------------


def round_trip(**kwargs: Any) -> VerifiedRequest:
    """Send through VolcSignerAuth to a transport that verifies like the server does."""
    verified: list[VerifiedRequest] = []

    def handler(request: httpx.Request) -> httpx.Response:
        verified.append(verify_received(request, now=NOW, secrets={"AKLTexample": "secret-key-example"}))
        return httpx.Response(200)

    with httpx.Client(transport=httpx.MockTransport(handler), auth=make_auth()) as client:
        client.request(**kwargs)
    return verified[0]


def test_round_trip_with_awkward_query_path_and_streamed_body() -> None:
    verified = round_trip(
        method="POST",
        url="http://127.0.0.1:8765/ml-platform/cn-beijing/api/x y?Action=ListModels&Version=2021-07-01",
        params={"Action": "ListModels", "Extra": "a b*~/+ é", "Empty": ""},
        content=iter([b'{"Model', b'Name": "\xe6\xa8\xa1"}']),
        headers={"Content-Type": "application/json", "X-Custom": "v"},
    )
    assert verified.access_key == "AKLTexample"
    assert verified.service == SERVICE


def test_round_trip_async_client() -> None:
    async def main() -> VerifiedRequest:
        verified: list[VerifiedRequest] = []

        def handler(request: httpx.Request) -> httpx.Response:
            verified.append(verify_received(request, now=NOW, secrets={"AKLTexample": "secret-key-example"}))
            return httpx.Response(200)

        async with httpx.AsyncClient(transport=httpx.MockTransport(handler), auth=make_auth()) as client:
            await client.post("https://open.volcengineapi.com/?Action=GetModel&Version=2021-07-01", json={})
        return verified[0]

    assert asyncio.run(main()).region == "cn-beijing"


# --- the verifier ------------------------------------------------------------------------------------


def received(vector: Vector) -> dict[str, Any]:
    """verify() keyword arguments for the vector's request as the server receives it."""
    url = urlsplit(vector["url"])
    return {
        "method": vector["method"],
        "path": url.path.encode(),
        "query": url.query.encode(),
        "headers": [(k.lower().encode(), v.encode()) for k, v in vector["sdk_headers_after_sign"].items()],
        "body": vector["body"].encode(),
        "secret_key_for": {vector["ak"]: vector["sk"]}.get,
        "now": parse_x_date(vector["xdate"]) + timedelta(minutes=3),
        "service": SERVICE,
    }


@by_vector
def test_verifier_accepts_every_vector(vector: Vector) -> None:
    verified = verify(**received(vector))
    assert verified.access_key == vector["ak"]
    assert verified.region == vector["region"]
    assert verified.session_token == (vector["token"] or None)


@by_vector
def test_verifier_accepts_what_httpx_sends(vector: Vector) -> None:
    sent = send(vector_request(vector), auth_for(vector))
    verify_received(sent, now=parse_x_date(vector["xdate"]), secrets={vector["ak"]: vector["sk"]})


def with_header(kwargs: dict[str, Any], name: bytes, value: bytes | None) -> dict[str, Any]:
    headers = [(k, v) for k, v in kwargs["headers"] if k != name]
    return {**kwargs, "headers": headers + ([(name, value)] if value is not None else [])}


BASE = received(VECTORS[0])
AUTHORIZATION = dict(BASE["headers"])[b"authorization"].decode()


X_DATE = parse_x_date(VECTORS[0]["xdate"])
REJECTED: list[tuple[str, dict[str, Any], str]] = [
    ("wrong secret", {**BASE, "secret_key_for": lambda ak: "not-the-secret"}, "SignatureDoesNotMatch"),
    ("tampered body", {**BASE, "body": BASE["body"] + b" "}, "SignatureDoesNotMatch"),
    ("tampered query", {**BASE, "query": b"Action=DeleteModel&Version=2021-07-01"}, "SignatureDoesNotMatch"),
    ("tampered path", {**BASE, "path": b"/other"}, "SignatureDoesNotMatch"),
    ("tampered method", {**BASE, "method": "PUT"}, "SignatureDoesNotMatch"),
    ("tampered signed header", with_header(BASE, b"content-type", b"text/plain"), "SignatureDoesNotMatch"),
    ("signed header missing", with_header(BASE, b"host", None), "SignatureDoesNotMatch"),
    ("wrong service", {**BASE, "service": "other"}, "SignatureDoesNotMatch"),
    ("missing Authorization", with_header(BASE, b"authorization", None), "MissingAuthenticationToken"),
    (
        "malformed Authorization",
        with_header(BASE, b"authorization", b"Bearer abc"),
        "MissingAuthenticationToken",
    ),
    ("unknown access key", {**BASE, "secret_key_for": lambda ak: None}, "InvalidAccessKey"),
    ("stale X-Date", {**BASE, "now": X_DATE + timedelta(minutes=16)}, "InvalidTimestamp"),
    ("future X-Date", {**BASE, "now": X_DATE - timedelta(minutes=16)}, "InvalidTimestamp"),
    ("missing X-Date", with_header(BASE, b"x-date", None), "InvalidTimestamp"),
]


@pytest.mark.parametrize(("case", "kwargs", "code"), REJECTED, ids=[case for case, _, _ in REJECTED])
def test_verifier_rejects(case: str, kwargs: dict[str, Any], code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify(**kwargs)
    error = caught.value
    assert error.code == code
    assert (error.code_n, error.status_code) == SIGNATURE_ERROR_CODES[error.code]
    assert isinstance(error, AuthError)


def test_clock_skew_limit_is_fifteen_minutes() -> None:
    verify(**{**BASE, "now": X_DATE + timedelta(minutes=15)})
    verify(**{**BASE, "now": X_DATE - timedelta(minutes=15)})
    with pytest.raises(SignatureError, match="X-Date") as caught:
        verify(**{**BASE, "now": X_DATE + timedelta(minutes=15, seconds=1)})
    assert (caught.value.code, caught.value.code_n, caught.value.status_code) == (
        "InvalidTimestamp",
        100006,
        403,
    )


def test_mismatch_error_carries_the_servers_strings() -> None:
    with pytest.raises(SignatureError) as caught:
        verify(**{**BASE, "body": b"{}"})
    assert caught.value.canonical_request is not None
    assert caught.value.canonical_request.endswith(
        "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
    )


def test_parse_authorization() -> None:
    parsed = parse_authorization(AUTHORIZATION)
    assert parsed == (
        "AKLTtestAccessKeyExample",
        "20240101",
        "cn-beijing",
        "ml_platform",
        ("content-type", "host", "x-content-sha256", "x-date"),
        "430ebee1ecb2e8e031b9b1dafeb26b957f8d7e5a6c3a9fa2ddcb7a0954a54d49",
    )


CREDENTIAL = "HMAC-SHA256 Credential=AK/20240101/cn-beijing/ml_platform/request"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ("", "MissingAuthenticationToken"),
        ("HMAC-SHA1 Credential=AK/20240101/cn-beijing/ml_platform/request", "MissingAuthenticationToken"),
        ("HMAC-SHA256 garbage", "MissingAuthenticationToken"),
        (f"{CREDENTIAL}, SignedHeaders=x-date", "MissingSignature"),
        (f"{CREDENTIAL}, SignedHeaders=x-date, Signature=", "MissingSignature"),
        (f"{CREDENTIAL}, Signature=ab", "MissingAuthenticationToken"),
        (f"{CREDENTIAL}, SignedHeaders=X-Date, Signature=ab", "MissingAuthenticationToken"),
        (f"{CREDENTIAL}, SignedHeaders=x-date;;host, Signature=ab", "MissingAuthenticationToken"),
        (
            "HMAC-SHA256 Credential=AK/20240101/cn-beijing, SignedHeaders=x-date, Signature=ab",
            "MissingAuthenticationToken",
        ),
        (
            "HMAC-SHA256 Credential=AK/2024-1-1/cn-beijing/s/request, SignedHeaders=x-date, Signature=ab",
            "MissingAuthenticationToken",
        ),
    ],
)
def test_parse_authorization_rejects_malformed(header: str, code: str) -> None:
    with pytest.raises(SignatureError) as caught:
        parse_authorization(header)
    assert caught.value.code == code

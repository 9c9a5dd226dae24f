"""The sessions' httpx clients (sync and asyncio): their short path sends exactly the bytes plain httpx
sends, and gives way to plain httpx for whatever it does not cover (cookies kept, event hooks, other
auths, a closed client)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from ml_platform_client import Client
from ml_platform_client.api.inner import inner_get_tos_upload_path
from ml_platform_client.api.models import create_model, get_model_next_version
from ml_platform_client.models import (
    CreateModelRequest,
    GetModelNextVersionRequest,
    GetTOSUploadPathRequest,
)
from volcengine_ml_platform.auth import Credentials, VolcSignerAuth
from volcengine_ml_platform.http_client import AsyncSessionClient, SessionClient

BASE = "http://127.0.0.1:8765"
ENVELOPE = {
    "ResponseMetadata": {
        "RequestId": "r",
        "Action": "GetModelNextVersion",
        "Version": "2021-07-01",
        "Service": "ml_platform",
        "Region": "cn-beijing",
    },
    "Result": {"ModelVersion": 1},
}


def signer() -> VolcSignerAuth:
    moment = datetime(2026, 11, 30, 12, 0, 0, tzinfo=UTC)
    return VolcSignerAuth(Credentials("AKtest", "SKtest"), region="cn-beijing", clock=lambda: moment)


def wire(request: httpx.Request) -> tuple[str, str, list[tuple[bytes, bytes]], bytes, Any]:
    return (request.method, str(request.url), request.headers.raw, request.content, request.extensions)


def capture(
    kind: type[httpx.Client] | type[httpx.AsyncClient],
    auth: httpx.Auth | None,
    answer: Callable[[httpx.Request], httpx.Response],
    base: str = BASE,
) -> tuple[Client, list[httpx.Request]]:
    """A generated-client ``Client`` on an httpx client of ``kind`` (sync or asyncio), whose transport
    records every request and answers it with ``answer``."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    http = kind(
        base_url=base,
        transport=httpx.MockTransport(handler),
        auth=auth,
        timeout=httpx.Timeout(30.0, connect=5.0),
        headers={"User-Agent": "volcengine-ml-platform-models/test"},
    )
    client = Client(base_url=base)
    if isinstance(http, httpx.AsyncClient):
        client.set_async_httpx_client(http)
    else:
        client.set_httpx_client(http)
    return client, seen


def ok(request: httpx.Request) -> httpx.Response:
    if request.url.params.get("Action") == "GetModelNextVersion":
        return httpx.Response(200, json=ENVELOPE)
    error = {"Code": "NotFound", "CodeN": 100404, "Message": "no objects found under tos://b/p/"}
    return httpx.Response(404, json={"ResponseMetadata": {**ENVELOPE["ResponseMetadata"], "Error": error}})


CALLS: list[tuple[str, Callable[[Client], Any]]] = [
    ("signed, no body fields", lambda c: get_model_next_version.sync_detailed(
        client=c, body=GetModelNextVersionRequest.from_dict({})
    )),
    ("signed, non-ASCII body", lambda c: create_model.sync_detailed(
        client=c,
        body=CreateModelRequest.from_dict(
            {"ModelName": "模型 ü", "VersionInfo": {"Path": "tos://b/p/", "ModelFormat": "ONNX"}}
        ),
    )),
]  # fmt: skip


@pytest.mark.parametrize("call", [c for _, c in CALLS], ids=[name for name, _ in CALLS])
def test_the_short_path_sends_the_bytes_plain_httpx_sends(call: Callable[[Client], Any]) -> None:
    plain, plain_seen = capture(httpx.Client, signer(), ok)
    short, short_seen = capture(SessionClient, signer(), ok)
    for _ in range(2):  # the second call uses the kept URL
        answers = [call(plain), call(short)]
        assert answers[0].parsed == answers[1].parsed
    assert [wire(r) for r in short_seen] == [wire(r) for r in plain_seen]
    assert "Authorization" in short_seen[0].headers and short_seen[0].url.params["Action"]


def test_the_inner_door_unsigned_with_a_token_query_sends_the_same_bytes() -> None:
    plain, plain_seen = capture(httpx.Client, None, ok)
    short, short_seen = capture(SessionClient, None, ok)
    for token in ("t1", "t2", "t1"):
        for client in (plain, short):
            inner_get_tos_upload_path.sync_detailed(
                region="cn-beijing",
                client=client,
                body=GetTOSUploadPathRequest.from_dict({"ServiceName": "modelrepo"}),
                token=token,
            )
    assert [wire(r) for r in short_seen] == [wire(r) for r in plain_seen]
    assert [r.url.params["Token"] for r in short_seen] == ["t1", "t2", "t1"]
    assert "Authorization" not in short_seen[0].headers


def test_an_unsigned_client_with_credentials_in_its_url_sends_httpx_basic_auth() -> None:
    """No auth, but ``user:password@`` in the base URL: httpx sends Basic auth from it, and so does
    the session's client (sync and asyncio), by giving way to plain httpx."""
    base = "http://svc:pw@127.0.0.1:8765"
    call = CALLS[0][1]
    plain, plain_seen = capture(httpx.Client, None, ok, base)
    short, short_seen = capture(SessionClient, None, ok, base)
    call(plain), call(short)
    assert [wire(r) for r in short_seen] == [wire(r) for r in plain_seen]
    assert short_seen[0].headers["Authorization"] == "Basic c3ZjOnB3"  # base64 of svc:pw

    async def both() -> list[httpx.Request]:
        aplain, aplain_seen = capture(httpx.AsyncClient, None, ok, base)
        ashort, ashort_seen = capture(AsyncSessionClient, None, ok, base)
        for client in (aplain, ashort):
            await get_model_next_version.asyncio_detailed(
                client=client, body=GetModelNextVersionRequest.from_dict({})
            )
        assert [wire(r) for r in ashort_seen] == [wire(r) for r in aplain_seen]
        return ashort_seen

    assert "Authorization" in asyncio.run(both())[0].headers


def test_a_cookie_the_platform_sets_is_kept_and_sent_back_as_httpx_would() -> None:
    def sets_cookie(request: httpx.Request) -> httpx.Response:
        cookies = {"Set-Cookie": "lb=node-2; Path=/"} if "cookie" not in request.headers else {}
        return httpx.Response(200, json=ENVELOPE, headers=cookies)

    seen_by: dict[str, list[httpx.Request]] = {}
    for kind in (httpx.Client, SessionClient):
        client, seen_by[kind.__name__] = capture(kind, signer(), sets_cookie)
        for _ in range(2):
            get_model_next_version.sync_detailed(client=client, body=GetModelNextVersionRequest.from_dict({}))
    plain, short = seen_by["Client"], seen_by["SessionClient"]
    assert short[1].headers["cookie"] == "lb=node-2"
    assert [wire(r) for r in short] == [wire(r) for r in plain]


def test_event_hooks_and_other_auths_go_through_plain_httpx() -> None:
    hooked: list[str] = []
    client, seen = capture(SessionClient, signer(), ok)
    http = client.get_httpx_client()
    http.event_hooks = {"request": [lambda r: hooked.append(r.url.params["Action"])], "response": []}
    get_model_next_version.sync_detailed(client=client, body=GetModelNextVersionRequest.from_dict({}))
    assert hooked == ["GetModelNextVersion"]
    client, seen = capture(SessionClient, httpx.BasicAuth("u", "p"), ok)
    get_model_next_version.sync_detailed(client=client, body=GetModelNextVersionRequest.from_dict({}))
    assert seen[0].headers["Authorization"].startswith("Basic ")


def test_a_transport_error_names_its_request() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def refuse_unnamed(_request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("lost")

    for answer in (refuse, refuse_unnamed):
        client, _ = capture(SessionClient, signer(), answer)
        with pytest.raises(httpx.TransportError) as caught:
            get_model_next_version.sync_detailed(client=client, body=GetModelNextVersionRequest.from_dict({}))
        assert caught.value.request.url.params["Action"] == "GetModelNextVersion"


def test_a_closed_client_refuses_as_httpx_does() -> None:
    for kind in (httpx.Client, SessionClient):
        client, seen = capture(kind, signer(), ok)
        client.get_httpx_client().close()
        with pytest.raises(RuntimeError, match="client has been closed"):
            get_model_next_version.sync_detailed(client=client, body=GetModelNextVersionRequest.from_dict({}))
        assert seen == []


# -- the asyncio twin: AsyncSessionClient against plain httpx.AsyncClient ---------------------------


ASYNC_CALLS: list[tuple[str, Callable[[Client], Coroutine[Any, Any, Any]]]] = [
    ("signed, no body fields", lambda c: get_model_next_version.asyncio_detailed(
        client=c, body=GetModelNextVersionRequest.from_dict({})
    )),
    ("signed, non-ASCII body", lambda c: create_model.asyncio_detailed(
        client=c,
        body=CreateModelRequest.from_dict(
            {"ModelName": "模型 ü", "VersionInfo": {"Path": "tos://b/p/", "ModelFormat": "ONNX"}}
        ),
    )),
]  # fmt: skip


def next_version(client: Client) -> Coroutine[Any, Any, Any]:
    return get_model_next_version.asyncio_detailed(
        client=client, body=GetModelNextVersionRequest.from_dict({})
    )


@pytest.mark.parametrize("call", [c for _, c in ASYNC_CALLS], ids=[name for name, _ in ASYNC_CALLS])
def test_the_async_short_path_sends_the_bytes_plain_httpx_sends(
    call: Callable[[Client], Coroutine[Any, Any, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    plain, plain_seen = capture(httpx.AsyncClient, signer(), ok)
    short, short_seen = capture(AsyncSessionClient, signer(), ok)

    async def run(client: Client) -> list[Any]:
        return [await call(client) for _ in range(2)]  # the second call uses the kept URL

    plain_answers = asyncio.run(run(plain))

    async def refused(*_args: object, **_kwargs: object) -> httpx.Response:
        raise AssertionError("the short path went through httpx's send")

    monkeypatch.setattr(httpx.AsyncClient, "send", refused)
    short_answers = asyncio.run(run(short))
    assert [(a.status_code, a.parsed) for a in short_answers] == [
        (a.status_code, a.parsed) for a in plain_answers
    ]
    assert [wire(r) for r in short_seen] == [wire(r) for r in plain_seen]
    assert "Authorization" in short_seen[0].headers and short_seen[0].url.params["Action"]


def test_the_async_inner_door_unsigned_with_a_token_query_sends_the_same_bytes() -> None:
    plain, plain_seen = capture(httpx.AsyncClient, None, ok)
    short, short_seen = capture(AsyncSessionClient, None, ok)

    async def run() -> None:
        for token in ("t1", "t2", "t1"):
            for client in (plain, short):
                await inner_get_tos_upload_path.asyncio_detailed(
                    region="cn-beijing",
                    client=client,
                    body=GetTOSUploadPathRequest.from_dict({"ServiceName": "modelrepo"}),
                    token=token,
                )

    asyncio.run(run())
    assert [wire(r) for r in short_seen] == [wire(r) for r in plain_seen]
    assert [r.url.params["Token"] for r in short_seen] == ["t1", "t2", "t1"]
    assert "Authorization" not in short_seen[0].headers


def test_the_async_client_keeps_a_cookie_the_platform_sets_as_httpx_would() -> None:
    def sets_cookie(request: httpx.Request) -> httpx.Response:
        cookies = {"Set-Cookie": "lb=node-2; Path=/"} if "cookie" not in request.headers else {}
        return httpx.Response(200, json=ENVELOPE, headers=cookies)

    seen_by: dict[str, list[httpx.Request]] = {}

    async def run() -> None:
        for kind in (httpx.AsyncClient, AsyncSessionClient):
            client, seen_by[kind.__name__] = capture(kind, signer(), sets_cookie)
            for _ in range(2):
                await next_version(client)

    asyncio.run(run())
    plain, short = seen_by["AsyncClient"], seen_by["AsyncSessionClient"]
    assert short[1].headers["cookie"] == "lb=node-2"
    assert [wire(r) for r in short] == [wire(r) for r in plain]


def test_async_event_hooks_and_other_auths_go_through_plain_httpx() -> None:
    hooked: list[str] = []

    async def hook(request: httpx.Request) -> None:
        hooked.append(request.url.params["Action"])

    async def run() -> None:
        client, _ = capture(AsyncSessionClient, signer(), ok)
        client.get_async_httpx_client().event_hooks = {"request": [hook], "response": []}
        await next_version(client)
        assert hooked == ["GetModelNextVersion"]
        client, seen = capture(AsyncSessionClient, httpx.BasicAuth("u", "p"), ok)
        await next_version(client)
        assert seen[0].headers["Authorization"].startswith("Basic ")

    asyncio.run(run())


def test_an_async_transport_error_names_its_request() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    def refuse_unnamed(_request: httpx.Request) -> httpx.Response:
        raise httpx.ReadError("lost")

    for answer in (refuse, refuse_unnamed):
        client, _ = capture(AsyncSessionClient, signer(), answer)
        with pytest.raises(httpx.TransportError) as caught:
            asyncio.run(next_version(client))
        assert caught.value.request.url.params["Action"] == "GetModelNextVersion"


def test_a_closed_async_client_refuses_as_httpx_does() -> None:
    async def run(client: Client) -> None:
        await client.get_async_httpx_client().aclose()
        await next_version(client)

    for kind in (httpx.AsyncClient, AsyncSessionClient):
        client, seen = capture(kind, signer(), ok)
        with pytest.raises(RuntimeError, match="client has been closed"):
            asyncio.run(run(client))
        assert seen == []


def test_httpcore_finds_sniffio_rather_than_searching_for_it_on_every_async_request() -> None:
    """sniffio is a pinned dependency: without it httpcore's ``import sniffio`` fails, searching
    sys.path again, several times per asyncio request (~50 us each; bench/async_client.py)."""
    import sys

    from httpcore._synchronization import current_async_library

    async def library() -> str:
        return current_async_library()

    assert asyncio.run(library()) == "asyncio"
    assert "sniffio" in sys.modules

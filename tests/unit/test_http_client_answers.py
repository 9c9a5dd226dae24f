"""The sessions' httpx clients (sync and asyncio) handle what a real server, proxy or load balancer may
answer exactly as plain httpx does: each answer below is written byte by byte by a server on a loopback
socket, and the four clients (``httpx.Client``, ``SessionClient``, ``httpx.AsyncClient``,
``AsyncSessionClient``) must see the same answer, raise the same error and send the same next request.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import logging
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from ml_platform_client import Client
from ml_platform_client.api.models import get_model_next_version
from ml_platform_client.models import GetModelNextVersionRequest
from volcengine_ml_platform.auth import VolcSignerAuth
from volcengine_ml_platform.http_client import AsyncSessionClient, SessionClient

from .scripted_server import ScriptedServer, Seen
from .test_http_client import ENVELOPE, signer

KINDS: list[type[httpx.Client] | type[httpx.AsyncClient]] = [
    httpx.Client,
    SessionClient,
    httpx.AsyncClient,
    AsyncSessionClient,
]
BODY = json.dumps(ENVELOPE).encode()
COOKIE = "lb=node-2"


def answer(head: str, body: bytes = BODY, *, close: bool = False) -> tuple[bytes, bool]:
    return head.replace("\n", "\r\n").encode("latin-1") + b"\r\n" + body, close


def ok(_seen: Seen | None = None) -> tuple[bytes, bool]:
    return answer(f"HTTP/1.1 200 OK\nContent-Type: application/json\nContent-Length: {len(BODY)}\n")


def cookie_then_lost_body(seen: Seen) -> tuple[bytes, bool]:
    """A sticky cookie in the headers, then the connection drops a byte into a 1000-byte body; an answer
    in full once the cookie comes back."""
    if seen.header("cookie") == COOKIE:
        return ok()
    head = f"HTTP/1.1 200 OK\nSet-Cookie: {COOKIE}; Path=/\nContent-Length: 1000\n"
    return answer(head, b"{", close=True)


def clients(server: ScriptedServer, kind: type[httpx.Client] | type[httpx.AsyncClient], **kw: Any) -> Any:
    return kind(base_url=server.url, auth=signer(), timeout=httpx.Timeout(10.0), **kw)


@pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
def test_a_cookie_set_before_the_body_was_lost_is_sent_with_the_next_request(
    kind: type[httpx.Client] | type[httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    """httpx keeps a ``Set-Cookie`` (and logs the request) once the headers came, before reading the
    body: the short path does the same, so a load balancer's sticky cookie survives a lost body."""
    caplog.set_level(logging.INFO, logger="httpx")
    body = GetModelNextVersionRequest.from_dict({})
    with ScriptedServer(cookie_then_lost_body) as server:
        client = Client(base_url=server.url)
        http = clients(server, kind)
        if isinstance(http, httpx.AsyncClient):
            client.set_async_httpx_client(http)

            async def twice() -> Any:
                with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
                    await get_model_next_version.asyncio_detailed(client=client, body=body)
                try:
                    return await get_model_next_version.asyncio_detailed(client=client, body=body)
                finally:
                    await http.aclose()

            second = asyncio.run(twice())
        else:
            client.set_httpx_client(http)
            with pytest.raises(httpx.RemoteProtocolError, match="complete message body"):
                get_model_next_version.sync_detailed(client=client, body=body)
            second = get_model_next_version.sync_detailed(client=client, body=body)
            http.close()
    assert [s.header("cookie") for s in server.seen] == [None, COOKIE]
    assert second.parsed is not None and second.parsed.to_dict()["Result"]["ModelVersion"] == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "httpx"]
    assert len(logged) == 2 and all(m.startswith("HTTP Request: POST ") for m in logged), logged


# -- every kind of answer: what each client saw, compared -------------------------------------------


def gzipped(_seen: Seen) -> tuple[bytes, bool]:
    packed = gzip.compress(BODY)
    return answer(f"HTTP/1.1 200 OK\nContent-Encoding: gzip\nContent-Length: {len(packed)}\n", packed)


def bad_gzip_with_cookie(seen: Seen) -> tuple[bytes, bool]:
    if seen.header("cookie") == COOKIE:
        return ok()
    return answer(
        f"HTTP/1.1 200 OK\nContent-Encoding: gzip\nSet-Cookie: {COOKIE}\nContent-Length: 5\n", b"xxxxx"
    )


def chunked(_seen: Seen) -> tuple[bytes, bool]:
    return answer(
        "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n", b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    )


def until_closed(_seen: Seen) -> tuple[bytes, bool]:
    return answer("HTTP/1.1 200 OK\nConnection: close\n", close=True)  # no Content-Length: read to EOF


def connection_close(_seen: Seen) -> tuple[bytes, bool]:
    return answer(f"HTTP/1.1 200 OK\nConnection: close\nContent-Length: {len(BODY)}\n", close=True)


def informational_first(_seen: Seen) -> tuple[bytes, bool]:
    first = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n"
    raw, close = ok()
    return first + raw, close


def redirect(seen: Seen) -> tuple[bytes, bool]:
    if seen.target.startswith("/elsewhere"):
        return ok()
    return answer("HTTP/1.1 307 Temporary Redirect\nLocation: /elsewhere?x=1\nContent-Length: 0\n", b"")


def no_charset(_seen: Seen) -> tuple[bytes, bool]:
    return answer("HTTP/1.1 200 OK\nContent-Type: text/plain\nContent-Length: 3\n", "é±ü".encode("latin-1"))


def head_sized(seen: Seen) -> tuple[bytes, bool]:
    return answer(f"HTTP/1.1 200 OK\nContent-Length: {len(BODY)}\n", b"" if seen.method == "HEAD" else BODY)


@dataclass
class Case:
    script: Callable[[Seen], tuple[bytes, bool]]
    expect: Callable[[dict[str, Any]], bool]  # what every client must see (the comparison aside)
    method: str = "POST"
    options: dict[str, Any] = field(default_factory=dict)


CASES: dict[str, Case] = {
    "gzip body": Case(gzipped, lambda o: o["content"] == BODY),
    "corrupt gzip, cookie kept": Case(
        bad_gzip_with_cookie, lambda o: o["error"][0] == "DecodingError" and o["next cookie"] == COOKIE
    ),
    "chunked body": Case(chunked, lambda o: o["content"] == BODY),
    "no Content-Length, read to EOF": Case(until_closed, lambda o: o["content"] == BODY),
    "Connection: close": Case(connection_close, lambda o: o["content"] == BODY and o["connections"] == 2),
    "1xx before the answer": Case(informational_first, lambda o: o["status"] == 200 and o["content"] == BODY),
    "redirect not followed": Case(
        redirect, lambda o: o["status"] == 307 and o["next_request"] == ("POST", "/elsewhere?x=1")
    ),
    "redirect followed": Case(
        redirect,
        lambda o: o["status"] == 200 and o["history"] == [307] and o["url"] == "/elsewhere?x=1",
        options={"follow_redirects": True},
    ),
    "no charset: the client's default encoding": Case(
        no_charset, lambda o: o["text"] == "é±ü", options={"default_encoding": "latin-1"}
    ),
    "HEAD": Case(head_sized, lambda o: o["content"] == b"" and o["headers"][0][1] == str(len(BODY)), "HEAD"),
}


def seen_by(response: httpx.Response) -> dict[str, Any]:
    """An answer as a caller sees it."""
    following = response.next_request
    return {
        "status": response.status_code,
        "version": response.http_version,
        "reason": response.reason_phrase,
        "headers": response.headers.multi_items(),
        "content": response.content,
        "text": response.text,
        "url": response.url.raw_path.decode(),
        "history": [r.status_code for r in response.history],
        "next_request": following and (following.method, following.url.raw_path.decode()),
        "elapsed": elapsed(response),
        "closed": response.is_closed,
    }


def elapsed(response: httpx.Response) -> str:
    try:
        return type(response.elapsed).__name__
    except RuntimeError as exc:  # httpx: "'.elapsed' may only be accessed after ... read or closed"
        return str(exc)


def outcome(
    server: ScriptedServer, case: Case, kind: type[httpx.Client] | type[httpx.AsyncClient]
) -> dict[str, Any]:
    """Send the case's request, then a second one (which carries whatever cookie the first kept); what
    the client saw, and what the server saw (the signatures too: one server, so one Host)."""
    json_body = None if case.method == "HEAD" else {"ModelName": "m"}
    params = {"Action": "GetModelNextVersion", "Version": "2021-07-01"}
    got: dict[str, Any] = {}
    first, connections = len(server.seen), server.connections
    http = clients(server, kind, **case.options)

    async def both_async() -> None:
        assert isinstance(http, httpx.AsyncClient)
        try:
            got.update(seen_by(await http.request(case.method, "/", params=params, json=json_body)))
        except httpx.HTTPError as exc:
            got["error"] = (type(exc).__name__, str(exc))
        await http.request("POST", "/", params=params, json=json_body)
        await http.aclose()

    if isinstance(http, httpx.AsyncClient):
        asyncio.run(both_async())
    else:
        try:
            got.update(seen_by(http.request(case.method, "/", params=params, json=json_body)))
        except httpx.HTTPError as exc:
            got["error"] = (type(exc).__name__, str(exc))
        http.request("POST", "/", params=params, json=json_body)
        http.close()
    got["requests"] = [(s.method, s.target, s.headers, s.body) for s in server.seen[first:]]
    got["next cookie"] = server.seen[-1].header("cookie")
    got["connections"] = server.connections - connections
    return got


@pytest.mark.parametrize("name", list(CASES))
def test_every_client_sees_the_same_answer_as_plain_httpx(name: str) -> None:
    case = CASES[name]
    with ScriptedServer(case.script) as server:
        plain, short, async_plain, async_short = (outcome(server, case, kind) for kind in KINDS)
    assert case.expect(plain) and plain.get("elapsed", "timedelta") == "timedelta", plain
    assert short == plain
    assert async_short == async_plain
    assert async_plain == plain


@pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
def test_a_base_url_or_params_set_after_a_call_is_used_by_the_next_call(
    kind: type[httpx.Client] | type[httpx.AsyncClient],
) -> None:
    """httpx builds every URL from the client's ``base_url`` and ``params`` of the moment; the short
    path keeps built URLs, and must not keep them past a change of either."""
    params = {"Action": "GetModelNextVersion", "Version": "2021-07-01"}
    with ScriptedServer(ok) as first, ScriptedServer(ok) as second:
        http = clients(first, kind)

        def change(step: int) -> None:
            if step == 1:
                http.base_url = second.url
            elif step == 2:
                http.params = {"Region": "cn-beijing"}

        if isinstance(http, httpx.AsyncClient):

            async def calls() -> None:
                for step in range(3):
                    change(step)
                    await http.request("POST", "/", params=params, json={})
                await http.aclose()

            asyncio.run(calls())
        else:
            for step in range(3):
                change(step)
                http.request("POST", "/", params=params, json={})
            http.close()
    query = "Action=GetModelNextVersion&Version=2021-07-01"
    assert [s.target for s in first.seen] == [f"/?{query}"]
    assert [s.target for s in second.seen] == [f"/?{query}", f"/?Region=cn-beijing&{query}"]


class Traced(VolcSignerAuth):
    """A user's signer whose flow adds a header: httpx runs the flow, so the short path must not."""

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["X-Trace"] = "t-1"
        yield from super().auth_flow(request)


@pytest.mark.parametrize("kind", KINDS, ids=[k.__name__ for k in KINDS])
def test_a_signer_subclass_with_its_own_flow_is_run_as_httpx_runs_it(
    kind: type[httpx.Client] | type[httpx.AsyncClient],
) -> None:
    plain = signer()
    with ScriptedServer(ok) as server:
        http = kind(
            base_url=server.url, auth=Traced(plain.credentials, region=plain.region, clock=plain.clock)
        )
        if isinstance(http, httpx.AsyncClient):

            async def call() -> None:
                await http.request("POST", "/", params={"Action": "GetModelNextVersion"}, json={})
                await http.aclose()

            asyncio.run(call())
        else:
            http.request("POST", "/", params={"Action": "GetModelNextVersion"}, json={})
            http.close()
    assert server.seen[0].header("x-trace") == "t-1"
    assert (server.seen[0].header("authorization") or "").startswith("HMAC-SHA256 ")


def _opened_after(kind: type[httpx.Client] | type[httpx.AsyncClient], url: str, json_body: Any) -> list[str]:
    """One call (its outcome), then ``with client:`` and what it raised: httpx marks a client opened
    as ``send`` begins, so a client that has sent (even a request that then failed) cannot be entered."""
    http = kind(base_url=url, auth=signer(), timeout=httpx.Timeout(10.0))
    params = {"Action": "GetModelNextVersion", "Version": "2021-07-01"}
    got: list[str] = []

    async def in_async() -> None:
        assert isinstance(http, httpx.AsyncClient)
        try:
            got.append(str((await http.request("POST", "/", params=params, json=json_body)).status_code))
        except (httpx.HTTPError, TypeError) as exc:
            got.append(type(exc).__name__)
        try:
            async with http:
                got.append("entered")
        except RuntimeError as exc:
            got.append(str(exc))
        await http.aclose()

    if isinstance(http, httpx.AsyncClient):
        asyncio.run(in_async())
        return got
    try:
        got.append(str(http.request("POST", "/", params=params, json=json_body).status_code))
    except (httpx.HTTPError, TypeError) as exc:
        got.append(type(exc).__name__)
    try:
        with http:
            got.append("entered")
    except RuntimeError as exc:
        got.append(str(exc))
    http.close()
    return got


def test_a_client_that_has_sent_cannot_be_entered_as_with_plain_httpx() -> None:
    again = "Cannot open a client instance more than once."
    with ScriptedServer(ok) as server:
        answered = [_opened_after(kind, server.url, {}) for kind in KINDS]
        # A body httpx cannot encode fails as the request is built, before send: the client stays unopened.
        unbuilt = [_opened_after(kind, server.url, {"x": object()}) for kind in KINDS]
    # Nothing listens there (the discard port): the request fails after send began.
    refused = [_opened_after(kind, "http://127.0.0.1:9", {}) for kind in KINDS]
    assert answered == [["200", again]] * 4, answered
    assert unbuilt == [["TypeError", "entered"]] * 4, unbuilt
    assert refused == [["ConnectError", again]] * 4, refused

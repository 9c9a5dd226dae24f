"""Fixtures of the contract tests: the document, and a client whose transport records the wire."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

import ml_platform_client

from ._support import document

BASE_URL = "https://open.volcengineapi.com"

# The document's own error example (components/responses/Error): any operation parses it.
NOT_FOUND = {
    "ResponseMetadata": {
        "RequestId": "20210914105459010225084217071AB67E",
        "Action": "GetModel",
        "Version": "2021-07-01",
        "Service": "ml_platform",
        "Region": "cn-beijing",
        "Error": {
            "Code": "NotFound",
            "CodeN": 200002,
            "Message": "model m-20210812150750-w54j6 does not exist",
        },
    }
}


class Wire:
    """Records every request a client sends and answers with queued responses (a 404 envelope when the
    queue is empty, which every operation parses as ErrorResponse)."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self._replies: list[httpx.Response | Callable[[httpx.Request], httpx.Response]] = []

    def reply(
        self,
        status: int = 200,
        *,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        if json is not None:
            self._replies.append(httpx.Response(status, json=json, headers=headers))
        else:
            self._replies.append(httpx.Response(status, content=content or b"", headers=headers))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if not self._replies:
            return httpx.Response(404, json=NOT_FOUND)
        reply = self._replies.pop(0)
        return reply(request) if callable(reply) else reply

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def client(self, **httpx_args: Any) -> ml_platform_client.Client:
        """A generated-client Client on this wire; extra httpx_args (e.g. params=) go to httpx.Client."""
        return ml_platform_client.Client(
            base_url=BASE_URL, httpx_args={"transport": self.transport, **httpx_args}
        )

    @property
    def last(self) -> httpx.Request:
        assert self.requests, "no request was sent"
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)


@pytest.fixture
def wire() -> Wire:
    return Wire()


@pytest.fixture
def client(wire: Wire) -> ml_platform_client.Client:
    return wire.client()


@pytest.fixture(scope="session")
def doc() -> dict[str, Any]:
    return document()

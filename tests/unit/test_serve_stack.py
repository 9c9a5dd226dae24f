"""`mlp serve` runs on httptools and uvloop: uvicorn picks them when they are installed, and they are
pinned dependencies because a signed request costs the server ~0.3 ms less CPU on them than on h11
and asyncio's own loop (bench/registrations.py). A dropped dependency fails here, not in a benchmark."""

from __future__ import annotations

import sys

import pytest
import uvicorn


async def app(scope: object, receive: object, send: object) -> None:
    return None


def test_uvicorn_picks_httptools_and_uvloop() -> None:
    config = uvicorn.Config(app, log_level="warning")
    config.load()
    assert config.http_protocol_class.__module__ == "uvicorn.protocols.http.httptools_impl"
    if sys.platform == "win32":
        pytest.skip("uvloop does not run on Windows (not installed there)")
    loop = config.get_loop_factory()
    assert loop is not None and loop.__module__.startswith("uvloop")

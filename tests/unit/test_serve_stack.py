"""`mlp serve` runs on httptools and uvloop: uvicorn picks them when they are installed, and they are
pinned dependencies because a signed request costs the server ~0.3 ms less CPU on them than on h11
and asyncio's own loop (bench/registrations.py). A dropped dependency fails here, not in a benchmark;
and so does a serve path that runs on another stack (TLS beside plain HTTP: ``servers.serve_all``)."""

from __future__ import annotations

import re
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
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


# `mlp serve` with TLS and plain HTTP listeners runs them through servers.serve_all, in one process:
# a child process serves a small app on both, and the app says which loop and parser answered it.
SERVE_BOTH = """
import asyncio, json, sys
from pathlib import Path
import uvicorn
from mlp_server.servers import serve_all
from mlp_server.tls import self_signed

async def app(scope, receive, send):
    frame, parser = sys._getframe(), None
    while frame is not None and parser is None:  # the awaiting coroutines, up to uvicorn's protocol
        if "/uvicorn/protocols/http/" in frame.f_code.co_filename.replace("\\\\", "/"):
            parser = frame.f_globals["__name__"]
        frame = frame.f_back
    body = json.dumps({"loop": type(asyncio.get_running_loop()).__module__, "parser": parser}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})

tls = self_signed(Path(sys.argv[1]), "127.0.0.1")
common = {"host": "127.0.0.1", "port": 0, "lifespan": "off", "log_level": "info"}
serve_all([
    uvicorn.Config(app, **common),
    uvicorn.Config(app, ssl_certfile=tls.cert, ssl_keyfile=tls.key, **common),
])
"""


def test_serve_all_runs_tls_and_plain_listeners_on_httptools_and_uvloop(tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("uvloop does not run on Windows (not installed there)")
    script = tmp_path / "serve_both.py"
    script.write_text(SERVE_BOTH)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        urls: list[str] = []
        deadline = time.monotonic() + 60
        while len(urls) < 2 and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            if found := re.search(r"running on (https?://127\.0\.0\.1:\d+)", line):
                urls.append(found.group(1))
        assert sorted(u.split(":")[0] for u in urls) == ["http", "https"], urls
        for url in urls:
            answer = httpx.get(
                url + "/", verify=ssl.create_default_context(cafile=tmp_path / "tls" / "ca.pem"), timeout=10
            ).json()
            assert answer == {"loop": "uvloop", "parser": "uvicorn.protocols.http.httptools_impl"}, url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)

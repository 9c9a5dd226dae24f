"""One version, said the same everywhere: the package metadata, ``__version__``, ``mlp --version``, the
README's release line and the User-Agent every request carries (sync and async)."""

from __future__ import annotations

import asyncio
import importlib.metadata
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

import volcengine_ml_platform
from volcengine_ml_platform import __version__
from volcengine_ml_platform.errors import MLPlatformError

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_metadata_is_the_package_version() -> None:
    assert importlib.metadata.version("volcengine-ml-platform-models") == __version__
    assert __version__.count(".") == 2 and all(part.isdigit() for part in __version__.split("."))


def test_pyproject_reads_the_version_from_the_package_instead_of_writing_it_again() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'dynamic = ["version"]' in text
    assert 'version = { attr = "volcengine_ml_platform.__version__" }' in text
    assert "\nversion = " not in text.split("[tool.")[0]


def test_mlp_version_and_the_readme_say_the_package_version() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from volcengine_ml_platform.cli import main; main(['--version'])"],
        capture_output=True,
        text=True,
    )
    assert done.stdout.strip() == f"mlp {__version__}"
    assert f"This is release {__version__}:" in (ROOT / "README.md").read_text(encoding="utf-8")


class _Recorder(BaseHTTPRequestHandler):
    agents: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        self.agents.append(self.headers.get("User-Agent", ""))
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    agents: ClassVar[list[str]] = []
    handler = type("Handler", (_Recorder,), {"agents": agents})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", agents
    finally:
        server.shutdown()
        server.server_close()


def test_every_request_carries_the_version_in_its_user_agent(recorder: tuple[str, list[str]]) -> None:
    from volcengine_ml_platform.models.model import AsyncModel, Model

    url, agents = recorder
    with pytest.raises(MLPlatformError):
        Model(endpoint=url, access_key="AK", secret_key="SK").get_model("m-20210812150750-w54j6")

    async def one() -> None:
        model = AsyncModel(endpoint=url, access_key="AK", secret_key="SK")
        try:
            await model.get_model("m-20210812150750-w54j6")
        finally:
            await model.aclose()

    with pytest.raises(MLPlatformError):
        asyncio.run(one())
    assert agents == [f"volcengine-ml-platform-models/{volcengine_ml_platform.__version__}"] * 2

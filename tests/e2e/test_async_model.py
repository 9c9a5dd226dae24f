"""What only the async API has: many requests at once on one event loop, and cancellation.

Everything else ``AsyncModel`` and ``inner_model.AsyncModel`` do is tested by the whole e2e suite,
which runs every test that takes ``peer``/``any_peer``/``s3_peer`` with the async API too
(``conftest.api``)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from volcengine_ml_platform.http_client import AsyncSessionClient
from volcengine_ml_platform.models.model import AsyncModel
from volcengine_ml_platform.transfer.progress import TransferProgress

from .helpers import Peer


def async_model(peer: Peer) -> AsyncModel:
    if peer.endpoint is None:
        return AsyncModel(data_dir=peer.data_dir)
    return AsyncModel(endpoint=peer.endpoint, access_key=peer.keys.ak, secret_key=peer.keys.sk)


@pytest.fixture(params=["embedded", "http"])
def where(request: pytest.FixtureRequest) -> Peer:
    """The two peers, without the sync/async axis: these tests are about the async API alone."""
    peer: Peer = request.getfixturevalue(f"{request.param}_peer")
    return peer


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "model.onnx").write_bytes(b"onnx" * 1000)
    (root / "sub" / "vocab.txt").write_text("a b c")
    return root


def test_many_requests_at_once_on_one_loop(where: Peer, folder: Path) -> None:
    peer = where
    prefix = f"gather-{uuid.uuid4().hex[:8]}"

    async def run() -> None:
        async with async_model(peer) as model:
            created = await asyncio.gather(
                *(
                    model.register(
                        str(folder), model_name=f"{prefix}-{i}", model_format="ONNX", model_type="ONNX:1.23"
                    )
                    for i in range(4)
                )
            )
            ids = {c.result.model_id for c in created}
            pages = await asyncio.gather(
                *(model.list_models(model_name_contains=prefix, offset=i, page_size=1) for i in range(4))
            )
            assert {p.result.list_[0].model_id for p in pages} == ids
            assert {
                m.model_id async for m in model.iter_models(model_name_contains=prefix, page_size=3)
            } == ids

    asyncio.run(run())


def test_cancelling_a_register_stops_the_upload_and_removes_it(where: Peer, tmp_path: Path) -> None:
    """``task.cancel()`` during the upload: the transfer stops (its worker thread is told to), the
    partial upload is removed once the thread ended, nothing is registered, and the task is cancelled."""
    peer = where
    big = tmp_path / "big"
    big.mkdir()
    for i in range(40):
        (big / f"part{i:02d}.bin").write_bytes(bytes([i]) * 256 * 1024)
    name = f"cancel-{uuid.uuid4().hex[:8]}"
    before = peer.object_keys(DEFAULT_ACCOUNT_ID)
    seen: list[int] = []

    async def run() -> None:
        async with async_model(peer) as model:
            started = asyncio.Event()
            loop = asyncio.get_running_loop()

            def progress(snapshot: TransferProgress) -> None:
                seen.append(snapshot.bytes_done)
                if snapshot.bytes_done > 0:
                    loop.call_soon_threadsafe(started.set)

            task = asyncio.create_task(
                model.register(str(big), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
                               progress=progress)
            )  # fmt: skip
            await asyncio.wait_for(started.wait(), timeout=60)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert (await model.list_models(model_name_contains=name)).result.total == 0

    asyncio.run(run())
    assert peer.object_keys(DEFAULT_ACCOUNT_ID) == before  # nothing left behind, nothing half-written
    assert 0 < max(seen) < 40 * 256 * 1024  # the transfer stopped part way


def test_the_async_session_takes_the_short_path_to_the_platform(
    where: Peer, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """AsyncModel's operations reach the real platform (over HTTP and embedded) without httpx's send:
    the session's ``AsyncSessionClient`` short path (bytes compared in tests/unit/test_http_client.py)."""
    peer = where
    name = f"short-{uuid.uuid4().hex[:8]}"

    async def refused(*_args: object, **_kwargs: object) -> httpx.Response:
        raise AssertionError("an operation went through httpx's send")

    async def run() -> None:
        async with async_model(peer) as model:
            assert isinstance(model.session.client.get_async_httpx_client(), AsyncSessionClient)
            monkeypatch.setattr(httpx.AsyncClient, "send", refused)
            done = await model.register(
                str(folder), model_name=name, model_format="ONNX", model_type="ONNX:1.23"
            )
            got = await model.get_model(done.result.model_id)
            assert got.result.model_name == name
            assert got.result.model_versions_count == 1

    asyncio.run(run())


class _SlowCreateModel(httpx.AsyncBaseTransport):
    """Real HTTP, with CreateModel held 0.3 s after it is sent (so a test can cancel meanwhile)."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.sent = asyncio.Event()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.params.get("Action") != "CreateModel":
            return await self.inner.handle_async_request(request)
        answer = asyncio.ensure_future(self.inner.handle_async_request(request))
        self.sent.set()
        await asyncio.sleep(0.3)
        return await answer

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_a_register_cancelled_once_create_model_is_sent_finishes_it_and_says_so(
    http_peer: Peer, folder: Path
) -> None:
    """Cancelling between CreateModel's send and its answer: the caller's task is cancelled at once,
    the request is finished (not torn down mid-flight), and a warning names the ModelID it made."""
    from volcengine_ml_platform.async_session import AsyncSession
    from volcengine_ml_platform.config import resolve_settings
    from volcengine_ml_platform.errors import CancelledRegistrationWarning

    name = f"cancelled-{uuid.uuid4().hex[:8]}"
    keys = http_peer.keys

    async def run() -> str:
        wire = _SlowCreateModel()
        settings = resolve_settings(endpoint=http_peer.endpoint, access_key=keys.ak, secret_key=keys.sk)
        async with AsyncModel(session=AsyncSession(settings, transport=wire)) as model:
            task = asyncio.create_task(
                model.register(str(folder), model_name=name, model_format="ONNX", model_type="ONNX:1.23")
            )
            await asyncio.wait_for(wire.sent.wait(), timeout=60)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await asyncio.sleep(0.6)  # the finished request's answer arrives meanwhile
            listed = (await model.list_models(model_name_contains=name)).result.list_ or []
            assert len(listed) == 1
            return listed[0].model_id

    with pytest.warns(CancelledRegistrationWarning) as said:
        model_id = asyncio.run(run())
    assert f"registered it in ModelID {model_id}" in str(said[0].message)

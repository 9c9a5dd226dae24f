"""``AsyncModel`` against both peers (embedded through httpx's ASGI transport, ``mlp serve`` over HTTP):
the documented flow, the same checks and typed errors as ``Model``, iterators with ``async for``, and
many requests at once on one event loop."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from volcengine_ml_platform.errors import ConflictError, NotFoundError, ValidationError
from volcengine_ml_platform.models.model import AsyncModel

from .helpers import CPU_FLAVORS, METRICS, MISSING_MODEL, PERF_TENSOR_CONFIG, Peer, read_tree


def async_model(peer: Peer) -> AsyncModel:
    if peer.endpoint is None:
        return AsyncModel(data_dir=peer.data_dir)
    return AsyncModel(endpoint=peer.endpoint, access_key=peer.keys.ak, secret_key=peer.keys.sk)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "sub").mkdir(parents=True)
    (root / "model.onnx").write_bytes(b"onnx" * 1000)
    (root / "sub" / "vocab.txt").write_text("a b c")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    return root


def test_the_documented_flow_asynchronously(peer: Peer, folder: Path, tmp_path: Path) -> None:
    name = f"async-{uuid.uuid4().hex[:8]}"

    async def flow() -> None:
        async with async_model(peer) as model:
            created = await model.register(
                str(folder), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
                model_metrics=METRICS,
            )  # fmt: skip
            model_id = created.result.model_id
            second = await model.register(
                str(folder), model_name=name, model_format="ONNX", model_type="ONNX:1.23",
                if_exists="new_version",
            )  # fmt: skip
            assert second.result.model_id == model_id and second.result.version_info.model_version == 2
            assert (await model.get_model_by_name(name)).model_id == model_id
            latest = await model.get_model_version(model_id, "latest")
            assert latest.result.model_version == 2 and latest["Result"]["ModelVersion"] == 2

            files = await model.download(model_id, "latest", str(tmp_path / "copy"))
            assert len(files) == 2 and read_tree(tmp_path / "copy") == {
                "model.onnx": b"onnx" * 1000,
                "sub/vocab.txt": b"a b c",
            }  # .git stayed home
            versions = [v.model_version async for v in model.iter_model_versions(model_id, page_size=1)]
            assert versions == [2, 1]

            await model.update_model_version(model_id, "1", description="first")
            assert (await model.get_model_version(model_id, 1)).result.description == "first"
            job = await model.create_perf_job(
                model_id, "2", PERF_TENSOR_CONFIG, "PERF_ONLY", [{"FlavorIDList": list(CPU_FLAVORS)}]
            )
            tasks = [t async for t in model.iter_perf_tasks(job_id=job.result.job_id, page_size=1)]
            assert len(tasks) == len(CPU_FLAVORS)
            await model.cancel_perf_job(job.result.job_id)
            service = await model.deploy(model_id, "2", f"{name}-svc", flavor="ml.c1i.large")
            listed = [s.service_id async for s in model.iter_services(service_name_contains=name)]
            assert listed == [service.result.service_id]

            await model.unregister(model_id, "1")
            assert (await model.get_model(model_id)).result.model_versions_count == 1

    asyncio.run(flow())


def test_errors_and_checks_match_the_sync_model(peer: Peer, folder: Path) -> None:
    async def check() -> None:
        async with async_model(peer) as model:
            with pytest.raises(NotFoundError) as missing:
                await model.get_model(MISSING_MODEL)
            assert missing.value.status_code == 404 and missing.value.request_id
            with pytest.raises(NotFoundError):  # before any upload
                await model.register(str(folder), model_id=MISSING_MODEL)
            with pytest.raises(ValidationError) as bad:
                await model.list_models(page_size=0)
            assert bad.value.field == "page_size"
            with pytest.raises(ValidationError) as flavor:
                await model.create_perf_job(
                    MISSING_MODEL, "1", PERF_TENSOR_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.nope"]}]
                )
            assert "not offered here" in str(flavor.value)
            name = f"twice-{uuid.uuid4().hex[:8]}"
            for _ in range(2):
                await model.register(
                    str(folder), model_name=name, model_format="ONNX", model_type="ONNX:1.23"
                )
            with pytest.raises(ConflictError):
                await model.get_model_by_name(name)

    asyncio.run(check())


def test_many_requests_at_once_on_one_loop(peer: Peer, folder: Path) -> None:
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

"""Acknowledged means committed: ``mlp serve`` (SQLite, group commit) killed with SIGKILL while several
clients register keeps every CreateModel it answered, with its number, and nothing half-written."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx

from mlp_testing import REGION, MlpServe, bucket_for, clean_env
from volcengine_ml_platform.auth import Credentials, VolcSignerAuth
from volcengine_ml_platform.transfer.folder import FolderStore

CLIENTS = 4
PATHS_PER_CLIENT = 150
MODELS = 2


def signed(server: MlpServe) -> httpx.Client:
    keys = server.default_keys()
    auth = VolcSignerAuth(Credentials(keys.ak, keys.sk), region=REGION)
    return httpx.Client(base_url=server.url, auth=auth, trust_env=False, timeout=10.0)


def call(client: httpx.Client, action: str, body: dict[str, object]) -> dict[str, object]:
    response = client.post("/", params={"Action": action, "Version": "2021-07-01"}, json=body)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()["Result"]
    return result


def place_paths(server: MlpServe, tmp_path: Path, count: int) -> list[str]:
    """Upload-like Paths of two small files each, straight into the platform's folder store."""
    bucket = bucket_for(server.default_keys().account_id)
    store = FolderStore(server.data_dir / "objects")
    source = tmp_path / "weights.bin"
    source.write_bytes(os.urandom(256))
    paths = []
    for k in range(count):
        store.put_file(bucket, f"durable/{k}/model.onnx", source)
        store.put_file(bucket, f"durable/{k}/README", source)
        paths.append(f"tos://{bucket}/durable/{k}/")
    return paths


def test_every_acknowledged_registration_survives_sigkill(tmp_path: Path) -> None:
    server = MlpServe(tmp_path / "platform", env=clean_env(tmp_path / "home", MLP_SQLITE_GROUP_COMMIT="1"))
    server.start()
    try:
        paths = place_paths(server, tmp_path, 2 + CLIENTS * PATHS_PER_CLIENT)
        with signed(server) as client:
            models = [
                str(call(client, "CreateModel", {"ModelName": f"durable-{i}", "VersionInfo": {
                    "Path": paths[i], "ModelFormat": "ONNX", "ModelType": "ONNX:1.10"}})["ModelID"])
                for i in range(MODELS)
            ]  # fmt: skip
        told: list[tuple[str, int, str]] = []  # (model, version, Path) answered 200
        lock, stop = threading.Lock(), threading.Event()

        def client_loop(index: int) -> None:
            mine = paths[2 + index * PATHS_PER_CLIENT : 2 + (index + 1) * PATHS_PER_CLIENT]
            with signed(server) as client:
                for k, path in enumerate(mine):
                    if stop.is_set():
                        return
                    model_id = models[(index + k) % MODELS]
                    body = {"ModelID": model_id, "VersionInfo": {"Path": path}}
                    try:
                        response = client.post("/", params={"Action": "CreateModel", "Version": "2021-07-01"},
                                               json=body)  # fmt: skip
                    except httpx.TransportError:
                        time.sleep(0.05)  # the server is down: this Path's fate is unknown, take the next
                        continue
                    if response.status_code == 200:
                        number = int(response.json()["Result"]["VersionInfo"]["ModelVersion"])
                        with lock:
                            told.append((model_id, number, path))

        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(CLIENTS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(2.0)
            assert server.proc is not None
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait()
            assert server._try_start(), server.log()
        finally:
            time.sleep(1.0)
            stop.set()
            for thread in threads:
                thread.join(60)
        assert len(told) >= CLIENTS, "the clients registered something before the kills"

        with signed(server) as client:
            listed: dict[str, dict[int, str]] = {}
            for model_id in models:
                versions = call(client, "ListModelVersions", {"ModelID": model_id, "Limit": 1})
                total = int(versions["Total"])  # type: ignore[call-overload]
                found: dict[int, str] = {}
                for offset in range(0, total, 100):
                    page = call(
                        client, "ListModelVersions", {"ModelID": model_id, "Limit": 100, "Offset": offset}
                    )
                    found.update({int(v["ModelVersion"]): str(v["Path"]) for v in page["List"]})  # type: ignore[attr-defined]
                listed[model_id] = found
                # Consecutive from 1, no gap and no repeat: a number was never handed out twice or lost
                # to a half-written registration.
                assert sorted(found) == list(range(1, total + 1)), model_id
                following = call(client, "GetModelNextVersion", {"ModelID": model_id})["ModelVersion"]
                assert following == total + 1
            for model_id, number, path in told:
                assert listed[model_id].get(number) == path, f"acknowledged {model_id} v{number} lost"
            all_paths = [p for found in listed.values() for p in found.values()]
            assert len(all_paths) == len(set(all_paths)), "no Path registered twice"
            assert call(client, "ListModels", {})["Total"] == MODELS
    finally:
        server.stop()

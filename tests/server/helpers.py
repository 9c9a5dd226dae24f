"""Helpers shared by the server tests (plain code; the pytest fixtures live in ``conftest.py``).

A :class:`LiveServer` runs the real ASGI app under ``uvicorn.Server`` in a thread on a socket bound to
``127.0.0.1:0``; :class:`MlpServe` runs ``mlp serve`` as a subprocess (for restarts). :class:`Api` is
an httpx client that signs with the project's ``VolcSignerAuth``, so every request goes over a real
socket with real signatures.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Self

import httpx
import uvicorn
from starlette.applications import Starlette

from mlp_server.context import Platform
from mlp_server.platform import build_app
from mlp_server.settings import ServerSettings
from mlp_testing import REGION, Keys, bucket_for, read_default_keys
from volcengine_ml_platform.auth import Credentials, VolcSignerAuth
from volcengine_ml_platform.transfer.base import ObjectStore
from volcengine_ml_platform.transfer.folder import FolderStore

API_VERSION = "2021-07-01"
STARTUP_TIMEOUT = 20.0

# The local catalogue (mlp_server.store.resources.CATALOGUE), as ListResource shows it.
CPU_FLAVORS = ("ml.c1i.large", "ml.c1i.xlarge", "ml.c1i.2xlarge")
GPU_FLAVORS = ("ml.g1e.large", "ml.g1e.xlarge")

PERF_TENSOR_CONFIG: dict[str, Any] = {
    "Inputs": [
        {
            "TensorName": "input:0",
            "DType": "FLOAT",
            "Shape": {"MinShape": [1, 28, 28, 1], "MaxShape": [8, 28, 28, 1]},
        }
    ]
}


class MovableClock:
    """Real UTC time plus an offset that a test can move (the server's clock)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


# ---------------------------------------------------------------------------------------------------
# Servers


class LiveServer:
    """The platform's app under ``uvicorn.Server`` in a thread (one worker, as ``mlp serve`` runs it)."""

    def __init__(
        self, data_dir: Path, *, clock: Callable[[], datetime] | None = None, **settings: Any
    ) -> None:
        self.data_dir = data_dir
        self.app: Starlette = build_app(ServerSettings(data_dir=data_dir, **settings), clock=clock)
        self.platform: Platform = self.app.state.platform
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(self.app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, name="uvicorn", daemon=True
        )

    def start(self) -> Self:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=STARTUP_TIMEOUT)
        self._sock.close()
        self.platform.store.close()
        if self._thread.is_alive():
            raise RuntimeError("uvicorn did not stop")

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def default_keys(self) -> Keys:
        return read_default_keys(self.data_dir)

    def upload(self, account_id: int, prefix: str, files: dict[str, bytes] | None = None) -> str:
        """Put model files into the account's bucket (as a client's upload would); return the tos:// Path."""
        return upload(self.platform, account_id, prefix, files)


def upload(platform: Platform, account_id: int, prefix: str, files: dict[str, bytes] | None = None) -> str:
    """Model files into the account's bucket of a platform in this process; returns the tos:// Path."""
    return put_objects(
        platform.objects, platform.bucket_for(account_id), prefix, platform.settings.data_dir, files
    )


def upload_into(data_dir: Path, account_id: int, prefix: str, files: dict[str, bytes] | None = None) -> str:
    """The same for a server in another process: its folder store, written directly (as the embedded
    client and the folder store's GetSTSToken credentials do)."""
    objects = FolderStore(ServerSettings(data_dir=data_dir).objects_dir)
    return put_objects(objects, bucket_for(account_id), prefix, data_dir, files)


def put_objects(
    objects: ObjectStore, bucket: str, prefix: str, scratch_dir: Path, files: dict[str, bytes] | None
) -> str:
    prefix = prefix.rstrip("/") + "/"
    scratch = scratch_dir / ".test-uploads"
    scratch.mkdir(parents=True, exist_ok=True)
    for name, data in (files or {"saved_model.pb": b"model bytes", "variables/v.index": b"index"}).items():
        local = scratch / f"{os.getpid()}-{threading.get_ident()}-{name.replace('/', '_')}"
        local.write_bytes(data)
        objects.put_file(bucket, prefix + name, local)
        local.unlink()
    return f"tos://{bucket}/{prefix}"


# ---------------------------------------------------------------------------------------------------
# Clients


class ApiError(AssertionError):
    pass


def error_of(response: httpx.Response) -> tuple[int, str, str]:
    """``(HTTP status, Error.Code, Error.Message)`` of an error envelope (asserting its shape)."""
    body = response.json()
    assert "Result" not in body, body
    meta = body["ResponseMetadata"]
    assert {"RequestId", "Action", "Version", "Service", "Region"} <= set(meta), meta
    error = meta["Error"]
    assert set(error) == {"Code", "CodeN", "Message"}, error
    assert isinstance(error["CodeN"], int)
    return response.status_code, error["Code"], error["Message"]


class Api:
    """A signed client of one account on a running server (open door), plus the inner door."""

    def __init__(
        self,
        base_url: str,
        keys: Keys,
        *,
        clock: Callable[[], datetime] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.keys = keys
        kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
        self.auth = VolcSignerAuth(Credentials(keys.ak, keys.sk), region=REGION, **kwargs)
        self.http = httpx.Client(base_url=base_url, timeout=30.0, transport=transport)

    @property
    def account_id(self) -> int:
        return self.keys.account_id

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, action: str, body: Any = None, *, version: str = API_VERSION) -> httpx.Response:
        content = json.dumps({} if body is None else body).encode()
        return self.http.post(
            f"/?Action={action}&Version={version}",
            content=content,
            headers={"Content-Type": "application/json"},
            auth=self.auth,
        )

    def ok(self, action: str, body: Any = None) -> dict[str, Any]:
        response = self.call(action, body)
        if response.status_code != 200:
            raise ApiError(f"{action} -> {response.status_code}: {response.text}")
        envelope = response.json()
        assert envelope["ResponseMetadata"]["Action"] == action
        assert "Error" not in envelope["ResponseMetadata"]
        result: dict[str, Any] = envelope["Result"]
        return result

    def fails(self, action: str, body: Any = None) -> tuple[int, str, str]:
        return error_of(self.call(action, body))

    def inner(self, action: str, body: Any, token: str, *, region: str = REGION) -> httpx.Response:
        return self.http.post(
            f"/ml-platform/{region}/api/{action}",
            params={"Token": token},
            content=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )

    def token_for(self, account_id: int, user_id: int = 1, ttl: int = 600) -> str:
        result = self.ok(
            "AdminGetSecureToken", {"TimeToLive": ttl, "AccountId": account_id, "UserId": user_id}
        )
        token: str = result["Token"]
        return token

    # --- shortcuts ---

    def register(
        self, path: str, *, name: str = "model", model_id: str | None = None, **info: Any
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"ModelName": name, "VersionInfo": version_info(path, **info)}
        if model_id is not None:
            body["ModelID"] = model_id
        return self.ok("CreateModel", body)

    def list_all(self, action: str, **filters: Any) -> list[dict[str, Any]]:
        result = self.ok(action, {"Limit": 100, **filters})
        items: list[dict[str, Any]] = result["List"]
        assert result["Total"] == len(items)
        return items


def add_account(server: LiveServer, account_id: int, *, admin: bool = False, user_id: int = 1) -> Keys:
    store = server.platform.store
    store.create_account(account_id, user_id, f"account {account_id}", is_admin=admin, exist_ok=True)
    ak, sk = store.add_access_key(account_id, user_id, is_admin=admin)
    return Keys(ak, sk, account_id)


def version_info(path: str, **overrides: Any) -> dict[str, Any]:
    info: dict[str, Any] = {"ModelFormat": "SavedModel", "ModelType": "TensorFlow:2.4", "Path": path}
    info.update(overrides)
    return info


def service_body(model_id: str, version_id: str, name: str = "svc", **deployment: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "Replicas": 1,
        "FlavorID": "ml.g1e.large",
        "Model": {"ModelID": model_id, "ModelVersionID": version_id},
        "ImageID": "machinelearning/tfserving:tf-cuda10.1",
        "Envs": [{"Name": "A", "Value": "1"}],
    }
    spec.update(deployment)
    return {"ServiceName": name, "ServiceDeployment": spec}


def perf_job_body(version_id: str, job_type: str = "PERF_ONLY", *params: dict[str, Any]) -> dict[str, Any]:
    return {
        "ModelVersionID": version_id,
        "TensorConfig": PERF_TENSOR_CONFIG,
        "JobType": job_type,
        "JobParamsList": list(params) or [{"FlavorIDList": ["ml.c1i.large"]}],
    }

"""Plain helpers of the end-to-end tests: the two peers (embedded and ``mlp serve``), folder trees,
a transport that records which actions a client sent, and the async clients with the sync call shape
(:class:`Synced`), so that one suite tests both APIs. The pytest fixtures live in ``conftest.py``."""

from __future__ import annotations

import asyncio
import copy
import inspect
import json
import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import boto3
import httpx

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_server.store import Store, sqlite_url
from mlp_testing import Keys, bucket_for, clean_env
from volcengine_ml_platform.async_session import AsyncSession
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.embedded import EmbeddedTransport, embedded_app
from volcengine_ml_platform.models import inner_model
from volcengine_ml_platform.models.inference_service import AsyncInferenceService
from volcengine_ml_platform.models.model import AsyncModel, Model
from volcengine_ml_platform.session import Session

MLP = str(Path(sys.executable).with_name("mlp"))  # the console script, as a user runs it
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"  # a tiny ONNX classifier
STARTUP_TIMEOUT = 30.0
REQUEST_ID = re.compile(r"^\d{14}[0-9A-F]+$")
UPLOAD_PREFIX = re.compile(r"^modelrepo/from-sdk-repo/(\d{13})-[0-9a-f]{8}/$")
MISSING_MODEL = "m-20200101000000-zzzzz"  # well-formed, never allocated (ids carry the current time)

MODEL_TENSOR_CONFIG: dict[str, Any] = {
    "Inputs": [{"TensorName": "serving_default_input:0", "Shape": [-1, 28, 28, 1], "DType": "FLOAT"}],
    "Outputs": [{"TensorName": "StatefulPartitionedCall:0", "Shape": [-1, 10], "DType": "FLOAT"}],
}
PERF_TENSOR_CONFIG: dict[str, Any] = {
    "Inputs": [
        {
            "TensorName": "serving_default_Conv1_input:0",
            "DType": "FLOAT",
            "Shape": {"MinShape": [1, 28, 28, 1], "MaxShape": [8, 28, 28, 1]},
        }
    ]
}
METRICS: list[dict[str, str]] = [
    {"MetricsType": "ImageClassification", "Params": '{"top_k": 1}', "MetricsData": '{"accuracy": 0.91}'}
]
CPU_FLAVORS = ("ml.c1i.large", "ml.c1i.xlarge", "ml.c1i.2xlarge")
Api = Literal["sync", "async"]
T = TypeVar("T")
GPU_FLAVORS = ("ml.g1e.large", "ml.g1e.xlarge")


# ---------------------------------------------------------------------------------------------------
# Folder trees


def make_tree(root: Path, *, small: int = 300, big: int = 0) -> dict[str, bytes]:
    """``small`` binary files in nested folders (three levels), an empty file, a text file and
    optionally one ``big``-byte file; returns {relative POSIX path: bytes}."""
    files: dict[str, bytes] = {}
    for i in range(small):
        files[f"d{i % 3}/sub{i % 5}/deeper{i % 2}/f{i:03d}.bin"] = os.urandom(1 + i * 37 % 3000)
    files["empty.txt"] = b""
    files["saved_model.pb"] = bytes(range(256)) * 4  # every byte value
    files["variables/variables.index"] = b"\x00\xff\x00binary\r\n\x1a"
    if big:
        files["weights/big.bin"] = os.urandom(big)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return files


def read_tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def all_paths(root: Path) -> list[Path]:
    return sorted(root.rglob("*")) if root.exists() else []


# ---------------------------------------------------------------------------------------------------
# Peers: where the platform runs


@dataclass
class Peer:
    """One local platform as a client sees it: embedded (``endpoint`` None) or over HTTP.

    ``data_dir`` is the platform's own folder; tests read its database (``store``) and, with the folder
    store, its objects, to check what the platform really holds.
    """

    name: str
    data_dir: Path
    endpoint: str | None
    keys: Keys
    s3_endpoint: str | None = None
    # Team mode: the platform's PostgreSQL database and the S3 store's own keys (else SQLite in the data
    # folder, and moto's anything-goes "testing" keys)
    database_url: str | None = None
    s3_keys: tuple[str, str] = ("testing", "testing")
    # Which API ``model()``, ``inner()`` and ``recording_model()`` build: the sync classes, or the
    # async ones driven on the session's event loop (see :class:`Synced`)
    api: Api = "sync"
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)  # the store, shared by every view
    _accounts: dict[tuple[int, int, bool], Keys] = field(default_factory=dict, repr=False)

    def using(self, api: Api) -> Peer:
        """This platform, its clients built for ``api`` (the caches are shared)."""
        view = copy.copy(self)
        view.api = api
        view.name = f"{self.name}-{api}"  # tests name their models after the peer: one set per API
        return view

    # -- clients -----------------------------------------------------------------------------------

    def _where(self, keys: Keys | None) -> dict[str, Any]:
        if self.endpoint is None:
            if keys is None:  # the embedded platform's own credentials.json
                return {"data_dir": self.data_dir}
            return {"data_dir": self.data_dir, "access_key": keys.ak, "secret_key": keys.sk}
        keys = keys or self.keys
        return {"endpoint": self.endpoint, "access_key": keys.ak, "secret_key": keys.sk}

    def model(self, keys: Keys | None = None) -> Model:
        """The documented Model as a user would build it for this platform (or an AsyncModel in
        the sync call shape when the test runs for the async API)."""
        if self.api == "async":
            return synced(AsyncModel(**self._where(keys)))
        return Model(**self._where(keys))

    def recording_model(self) -> tuple[Model, RecordingTransport]:
        """The documented Model on a session whose transport records every action sent."""
        if self.endpoint is None:
            settings = resolve_settings(data_dir=self.data_dir)
        else:
            settings = resolve_settings(
                endpoint=self.endpoint, access_key=self.keys.ak, secret_key=self.keys.sk
            )
        if self.api == "async":
            inner: httpx.AsyncBaseTransport = (
                httpx.ASGITransport(app=embedded_app(self.data_dir))
                if self.endpoint is None
                else httpx.AsyncHTTPTransport()
            )
            wire = RecordingTransport(inner)
            return synced(AsyncModel(session=AsyncSession(settings, transport=wire))), wire
        if self.endpoint is None:
            transport = RecordingTransport(EmbeddedTransport(embedded_app(self.data_dir)))
        else:
            transport = RecordingTransport(httpx.HTTPTransport())
        return Model(session=Session(settings, transport=transport)), transport

    def inner(
        self,
        target_account_id: int | str | None = None,
        target_user_id: int | str | None = None,
        *,
        keys: Keys | None = None,
        **kwargs: Any,
    ) -> inner_model.Model:
        where = self._where(keys or self.keys)
        if self.api == "async":
            return synced(inner_model.AsyncModel(target_account_id, target_user_id, **where, **kwargs))
        return inner_model.Model(target_account_id, target_user_id, **where, **kwargs)

    # -- what the platform holds -------------------------------------------------------------------

    @property
    def store(self) -> Store:
        if "store" not in self._shared:
            self._shared["store"] = Store(self.database_url or sqlite_url(self.data_dir / "mlp.sqlite3"))
        store: Store = self._shared["store"]
        return store

    def close(self) -> None:
        if "store" in self._shared:
            self._shared.pop("store").close()

    def add_account(self, account_id: int, user_id: int = 1, *, admin: bool = False) -> Keys:
        """An account (if new) and a key pair for it, made once per peer: through the store for the
        embedded platform, with ``mlp account add`` (as an operator would) for the served one."""
        wanted = (account_id, user_id, admin)
        if wanted not in self._accounts:
            self._accounts[wanted] = self._add_account(account_id, user_id, admin)
        return self._accounts[wanted]

    def _add_account(self, account_id: int, user_id: int, admin: bool) -> Keys:
        if self.endpoint is None:
            self.store.create_account(
                account_id, user_id, f"account {account_id}", is_admin=admin, exist_ok=True
            )
            ak, sk = self.store.add_access_key(account_id, user_id, is_admin=admin)
            return Keys(ak, sk, account_id, user_id)
        cmd = [MLP, "account", "add", "--account-id", str(account_id), "--user-id", str(user_id),
               "--data-dir", str(self.data_dir), "-o", "json"]  # fmt: skip
        if admin:
            cmd.append("--admin")
        env = clean_env(self.data_dir.parent)
        if self.database_url is not None:
            env["MLP_DATABASE_URL"] = self.database_url
        done = subprocess.run(cmd, env=env, capture_output=True, check=True)
        printed = json.loads(done.stdout)
        assert printed["AccountID"] == account_id and printed["Admin"] is admin, printed
        # The secret is printed masked; the key pair is in the credentials file the command names.
        keys = json.loads(Path(printed["CredentialsFile"]).read_text(encoding="utf-8"))
        assert keys["ak"] == printed["AccessKey"] and printed["SecretKey"] == "****" + keys["sk"][-4:]
        return Keys(keys["ak"], keys["sk"], account_id, printed["UserID"])

    @property
    def objects_dir(self) -> Path:
        return self.data_dir / "objects"

    def s3(self) -> Any:
        assert self.s3_endpoint is not None
        return boto3.client(
            "s3",
            endpoint_url=self.s3_endpoint,
            aws_access_key_id=self.s3_keys[0],
            aws_secret_access_key=self.s3_keys[1],
            region_name="us-east-1",
        )

    def object_keys(self, account_id: int = DEFAULT_ACCOUNT_ID, prefix: str = "") -> set[str]:
        """Every object key in the account's bucket (folder store: files; S3: a listing)."""
        bucket = bucket_for(account_id)
        if self.s3_endpoint is not None:
            found: set[str] = set()
            client = self.s3()
            try:
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                    found.update(o["Key"] for o in page.get("Contents", []))
            except client.exceptions.NoSuchBucket:
                pass
            return found
        root = self.objects_dir / bucket
        return {
            key
            for p in all_paths(root)
            if p.is_file() and (key := p.relative_to(root).as_posix()).startswith(prefix)
        }

    def snapshot(self) -> list[str]:
        """Everything the object store holds: every file of the platform's objects folder (sidecars and
        lock files too), or every object of every bucket of the S3 store."""
        if self.s3_endpoint is not None:
            client = self.s3()
            return sorted(
                f"{b['Name']}/{o['Key']}"
                for b in client.list_buckets()["Buckets"]
                for page in client.get_paginator("list_objects_v2").paginate(Bucket=b["Name"])
                for o in page.get("Contents", [])
            )
        root = self.objects_dir
        return [p.relative_to(root).as_posix() for p in all_paths(root) if p.is_file()]

    def read_object(self, account_id: int, key: str) -> bytes:
        if self.s3_endpoint is not None:
            body: bytes = self.s3().get_object(Bucket=bucket_for(account_id), Key=key)["Body"].read()
            return body
        return (self.objects_dir / bucket_for(account_id) / key).read_bytes()

    def object_file(self, account_id: int, key: str) -> Path:
        assert self.s3_endpoint is None, "only the folder store keeps objects as files"
        return self.objects_dir / bucket_for(account_id) / key


def split_tos(path: str) -> tuple[str, str]:
    assert path.startswith("tos://"), path
    bucket, _, prefix = path.removeprefix("tos://").partition("/")
    return bucket, prefix


# ---------------------------------------------------------------------------------------------------
# Observing the wire


class RecordingTransport(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """Passes every request to ``inner`` (sync or async) and records its Action (open door) or
    inner action."""

    def __init__(self, inner: httpx.BaseTransport | httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.actions: list[str] = []
        self._lock = threading.Lock()

    def _record(self, request: httpx.Request) -> None:
        action = request.url.params.get("Action") or request.url.path.rsplit("/", 1)[-1]
        with self._lock:
            self.actions.append(action)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self.inner, httpx.BaseTransport)
        self._record(request)
        return self.inner.handle_request(request)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(self.inner, httpx.AsyncBaseTransport)
        self._record(request)
        return await self.inner.handle_async_request(request)

    def close(self) -> None:
        if isinstance(self.inner, httpx.BaseTransport):
            self.inner.close()


# ---------------------------------------------------------------------------------------------------
# The async API in the sync call shape


class EventLoopThread:
    """One event loop, in a helper thread for the whole test session: every async client of the suite
    lives on it (an httpx.AsyncClient belongs to the loop it first ran on). Each call runs with
    ``run_until_complete``, as ``asyncio.run`` would run it, so whatever escapes the coroutine (a
    KeyboardInterrupt too, which would otherwise end ``run_forever``) reaches the calling test."""

    _instance: EventLoopThread | None = None

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._calls: queue.Queue[tuple[Coroutine[Any, Any, Any], Future[Any]] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._serve, name="e2e-async-api", daemon=True)
        self.thread.start()

    @classmethod
    def get(cls) -> EventLoopThread:
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        while (call := self._calls.get()) is not None:
            coro, done = call
            try:
                done.set_result(self.loop.run_until_complete(coro))
            except BaseException as exc:  # handed to the caller, as asyncio.run raises it
                if not isinstance(exc, Exception):
                    self._settle()
                done.set_exception(exc)

    def _settle(self) -> None:
        """What ``asyncio.run`` does after a KeyboardInterrupt: cancel the tasks it left behind and
        let them finish, so that none of them raises it again in the next test's call."""
        for _ in range(3):
            tasks = asyncio.all_tasks(self.loop)
            if not tasks:
                return
            for task in tasks:
                task.cancel()
            try:
                self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            except BaseException:  # a task that re-raises on its way out; the next round settles it
                continue

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        assert threading.current_thread() is not self.thread, "would wait on itself"
        done: Future[T] = Future()
        self._calls.put((coro, done))
        return done.result()

    def stop(self) -> None:
        self._calls.put(None)
        self.thread.join(timeout=10)
        self.loop.close()
        EventLoopThread._instance = None


class Synced:
    """An async client (``AsyncModel``, ``inner_model.AsyncModel``, ``AsyncInferenceService``) with
    the sync call shape: each coroutine method runs to its end on the session's event loop, each async
    iterator is drained one item at a time (pages are fetched as the test iterates), and an async
    service a method returns is wrapped too. Everything the test calls runs the async code paths."""

    def __init__(self, target: object) -> None:
        assert type(target).__name__.startswith("Async"), target
        self._target = target
        self._loop = EventLoopThread.get()

    def __repr__(self) -> str:
        return f"Synced({self._target!r})"

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return lambda *args, **kwargs: _wrap(self._loop.run(value(*args, **kwargs)))
        if callable(value) and name.startswith("iter_"):
            return lambda *args, **kwargs: self._drain(value(*args, **kwargs))
        return value  # plain methods (target ids), attributes and properties

    def _drain(self, items: AsyncIterator[T]) -> Iterator[T]:
        assert isinstance(items, AsyncIterator), items

        async def step() -> T:
            return await anext(items)

        while True:
            try:
                yield self._loop.run(step())
            except StopAsyncIteration:
                return


def _wrap(value: T) -> T:
    return Synced(value) if isinstance(value, AsyncInferenceService) else value  # type: ignore[return-value]


def synced(target: T) -> Any:
    return Synced(target)


def unwrapped(value: object) -> object:
    """The client or service object itself, behind a :class:`Synced`."""
    return value._target if isinstance(value, Synced) else value


class MovableClock:
    """Real UTC time plus an offset a test moves forward (a server's clock)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


def raising_after(limit: int, error: BaseException) -> Callable[[Any], None]:
    """A progress callback that raises ``error`` once ``limit`` bytes were reported."""

    def progress(snapshot: Any) -> None:
        if snapshot.bytes_done >= limit:
            raise error

    return progress

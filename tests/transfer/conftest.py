"""Fixtures of the transfer tests: a real moto S3 server on loopback, and both stores against it."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from moto.server import ThreadedMotoServer

from volcengine_ml_platform.transfer import FolderStore, ObjectStore, RetryPolicy, S3Store
from volcengine_ml_platform.transfer.base import MiB

FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.001, max_delay=0.01)
PART = 5 * MiB  # the smallest part S3 (and moto) accepts, so a 12 MiB file takes 3 parts


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)  # port 0: a free one
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def moto_store(endpoint: str) -> S3Store:
    """An S3Store with moto's test keys, small parts and fast retries, talking to ``endpoint`` (moto
    itself, or a proxy in front of it)."""
    return S3Store(
        endpoint,
        "testing",
        "testing",
        region="us-east-1",
        addressing_style="path",
        part_size=PART,
        retry=FAST_RETRY,
    )


@pytest.fixture(scope="session")
def s3_store(moto_endpoint: str) -> S3Store:
    return moto_store(moto_endpoint)


@pytest.fixture
def s3_bucket(s3_store: S3Store) -> str:
    bucket = f"test-{uuid.uuid4().hex[:12]}"
    s3_store.client.create_bucket(Bucket=bucket)
    return bucket


@dataclass
class StoreCase:
    """A store, a bucket in it, and a way to change an object behind the client's back."""

    name: str
    store: ObjectStore
    bucket: str
    tamper: Callable[[str, bytes], None]


@pytest.fixture(params=["folder", "folder-sidecar", "s3"])
def case(request: pytest.FixtureRequest, tmp_path: Path) -> StoreCase:
    if request.param.startswith("folder"):
        root = tmp_path / "store"
        # folder-sidecar: the store of a file system without user xattrs, checksums in sidecar files
        store = FolderStore(root, xattrs=False if request.param == "folder-sidecar" else None)
        assert store.xattrs == (request.param == "folder")

        def tamper_file(key: str, data: bytes) -> None:
            (root / "models" / key).write_bytes(data)  # in place: the xattr or sidecar keeps the old checksum

        return StoreCase(request.param, store, "models", tamper_file)

    s3: S3Store = request.getfixturevalue("s3_store")
    bucket: str = request.getfixturevalue("s3_bucket")

    def tamper_object(key: str, data: bytes) -> None:
        old = s3.client.head_object(Bucket=bucket, Key=key)["Metadata"]
        s3.client.put_object(Bucket=bucket, Key=key, Body=data, Metadata=old)

    return StoreCase("s3", s3, bucket, tamper_object)

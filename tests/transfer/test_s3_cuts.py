"""Connections cut in the middle of a multipart upload's part or a ranged GET, by a TCP proxy in front of
the real (moto) S3 server: a cut part is sent again on its own, a part that cannot get through aborts
the upload (the server then lists no multipart upload for it), and a download that cannot finish
leaves nothing at its destination."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import S3Store, download_prefix, upload_path

from .conftest import FAST_RETRY, PART, moto_store
from .helpers import leftovers


class CuttingProxy:
    """Forwards loopback TCP connections to ``target``; a connection whose request matches ``marker``
    is closed after ``keep`` more bytes of it went through, while ``cuts`` lasts (-1: always)."""

    def __init__(self, target: tuple[str, int], marker: bytes, keep: int, cuts: int) -> None:
        self.target, self.marker, self.keep, self.cuts = target, marker, keep, cuts
        self.cut = 0  # connections cut so far
        self.seen = 0  # requests that matched the marker
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pump, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, False), daemon=True).start()

    def _should_cut(self, chunk: bytes) -> bool:
        with self._lock:
            if self.marker not in chunk:
                return False
            self.seen += 1
            if self.cuts == 0:
                return False
            self.cuts -= 1
            self.cut += 1
            return True

    def _pump(self, src: socket.socket, dst: socket.socket, upstream: bool) -> None:
        budget: int | None = None  # bytes still forwarded before the cut
        try:
            while data := src.recv(1 << 16):
                if upstream and budget is None and self._should_cut(data):
                    budget = self.keep
                if not upstream and budget is None and self.marker in data and self._should_cut(data):
                    budget = self.keep
                if budget is not None:
                    data = data[:budget]
                    budget -= len(data)
                dst.sendall(data)
                if budget is not None and budget <= 0:
                    break
        except OSError:
            pass
        for sock in (src, dst):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


MakeProxy = Callable[[bytes, int, int], tuple[CuttingProxy, S3Store]]
"""(marker, keep, cuts) -> a proxy before the moto server and an S3Store that talks through it."""


@pytest.fixture
def proxy_for(moto_endpoint: str) -> Iterator[MakeProxy]:
    host, port = moto_endpoint.removeprefix("http://").split(":")
    made: list[CuttingProxy] = []

    def make(marker: bytes, keep: int, cuts: int) -> tuple[CuttingProxy, S3Store]:
        proxy = CuttingProxy((host, int(port)), marker, keep, cuts)
        made.append(proxy)
        return proxy, moto_store(f"http://127.0.0.1:{proxy.port}")

    yield make
    for proxy in made:
        proxy.close()


def open_uploads(store: S3Store, bucket: str) -> list[str]:
    return [u["Key"] for u in store.client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])]


def test_a_part_cut_off_half_way_is_sent_again_on_its_own(
    proxy_for: MakeProxy, s3_store: S3Store, s3_bucket: str, tmp_path: Path
) -> None:
    proxy, store = proxy_for(b"partNumber=2", PART // 2, 1)
    data = os.urandom(3 * PART)
    (tmp_path / "big.bin").write_bytes(data)

    info = store.put_file(s3_bucket, "k/big.bin", tmp_path / "big.bin")

    assert proxy.cut == 1 and proxy.seen == 2  # part 2 twice (cut, then whole); parts 1 and 3 once
    assert s3_store.client.get_object(Bucket=s3_bucket, Key="k/big.bin")["Body"].read() == data
    assert s3_store.head(s3_bucket, "k/big.bin") == info
    assert open_uploads(s3_store, s3_bucket) == []


def test_a_part_that_never_gets_through_aborts_the_upload(
    proxy_for: MakeProxy, s3_store: S3Store, s3_bucket: str, tmp_path: Path
) -> None:
    proxy, store = proxy_for(b"partNumber=2", PART // 2, -1)
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "big.bin").write_bytes(os.urandom(3 * PART))

    with pytest.raises(TransferError, match=r"part 2 of 3 of tos://.*/p/m/big\.bin failed after 3 attempts"):
        upload_path(store, tmp_path / "m", s3_bucket, "p/", retry=FAST_RETRY)

    assert proxy.cut == FAST_RETRY.max_attempts
    assert open_uploads(s3_store, s3_bucket) == []  # aborted: no parts left behind on the server
    assert s3_store.head(s3_bucket, "p/m/big.bin") is None


@pytest.mark.parametrize("size", [1000, 2 * PART + 5], ids=["whole", "ranged"])
def test_a_download_cut_every_time_fails_with_nothing_at_the_destination(
    proxy_for: MakeProxy, s3_store: S3Store, s3_bucket: str, tmp_path: Path, size: int
) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.bin").write_bytes(os.urandom(size))
    url = upload_path(s3_store, tmp_path / "m", s3_bucket, "p/")
    # Cut every answer that carries the object's bytes (its metadata header) early: each retry of a
    # range resumes where the last stopped, but 3 attempts of a few hundred bytes cannot finish it.
    proxy, store = proxy_for(b"x-amz-meta-blake3", 700, -1)
    out = tmp_path / "out"
    out.mkdir()

    with pytest.raises(TransferError, match=r"p/m/model\.bin.*failed after 3 attempts"):
        download_prefix(store, url, out, retry=FAST_RETRY)

    assert proxy.cut >= FAST_RETRY.max_attempts
    assert list(out.iterdir()) == [] and leftovers(out) == []


def test_a_range_cut_off_half_way_resumes_and_verifies(
    proxy_for: MakeProxy, s3_store: S3Store, s3_bucket: str, tmp_path: Path
) -> None:
    (tmp_path / "m").mkdir()
    data = os.urandom(3 * PART)  # three whole ranges, each longer than what a cut lets through
    (tmp_path / "m" / "model.bin").write_bytes(data)
    url = upload_path(s3_store, tmp_path / "m", s3_bucket, "p/")
    proxy, store = proxy_for(b"x-amz-meta-blake3", PART // 2, 2)

    [written] = download_prefix(store, url, tmp_path / "out", retry=FAST_RETRY)

    assert proxy.cut == 2 and proxy.seen == 5  # 3 ranges, two of them asked for again once
    assert written.read_bytes() == data and leftovers(tmp_path / "out") == []

"""What the S3 store's whole-object requests (obstore) put on the wire, seen by a plain HTTP server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from blake3 import blake3

from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import ObjectInfo, S3Store, upload_path

from .conftest import FAST_RETRY


class Recorder(ThreadingHTTPServer):
    def __init__(self, answer: bool) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.answer = answer  # False: close the connection without an answer (a transient failure)
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.object = b""
        self.cut_once = False


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_PUT(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.command, self.path, dict(self.headers), body))
        if not self.server.answer:
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        # Serves the server's one object, honouring Range; cuts the first answer off half way.
        self.server.requests.append((self.command, self.path, dict(self.headers), b""))
        data = self.server.object
        first, _, last = self.headers["Range"].removeprefix("bytes=").partition("-")
        start, end = int(first), int(last) + 1
        body = data[start:end]
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{end - 1}/{len(data)}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"obj-etag"')
        self.send_header("x-amz-meta-blake3", blake3(data).hexdigest())
        self.end_headers()
        if self.server.cut_once:
            self.server.cut_once = False
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder(request: pytest.FixtureRequest) -> Iterator[Recorder]:
    server = Recorder(answer=getattr(request, "param", True))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def store_at(server: Recorder, **kwargs: object) -> S3Store:
    return S3Store(
        f"http://127.0.0.1:{server.server_address[1]}",
        "AKTEST",
        "secret",
        region="us-east-1",
        addressing_style="path",
        retry=FAST_RETRY,
        **kwargs,  # type: ignore[arg-type]
    )


def test_a_small_put_carries_the_checksum_the_token_and_no_payload_hash(
    recorder: Recorder, tmp_path: Path
) -> None:
    data = os.urandom(1000)
    (tmp_path / "f.bin").write_bytes(data)
    store = store_at(recorder, session_token="STS-TOKEN")

    info = store.put_file("bucket", "p/f.bin", tmp_path / "f.bin")

    [(method, path, headers, body)] = recorder.requests
    headers = {k.lower(): v for k, v in headers.items()}
    assert (method, path, body) == ("PUT", "/bucket/p/f.bin", data)
    assert headers["x-amz-meta-blake3"] == blake3(data).hexdigest() == info.blake3
    assert headers["x-amz-security-token"] == "STS-TOKEN"  # team mode's scoped credentials
    assert headers["x-amz-content-sha256"] == "UNSIGNED-PAYLOAD"  # our checksum pins the body instead
    assert "Credential=AKTEST/" in headers["authorization"]
    assert info.etag == "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize("recorder", [False], indirect=True)
def test_a_lost_answer_is_retried_exactly_as_the_policy_says(recorder: Recorder, tmp_path: Path) -> None:
    (tmp_path / "f.bin").write_bytes(b"0123456789")
    store = store_at(recorder)

    with pytest.raises(TransferError, match=r"upload of tos://bucket/p/f\.bin failed after 3 attempts"):
        upload_path(store, tmp_path / "f.bin", "bucket", "p/", retry=FAST_RETRY)

    assert len(recorder.requests) == 3  # obstore retries nothing itself, the manager nothing on top


def test_a_range_cut_off_half_way_resumes_where_it_stopped(recorder: Recorder, tmp_path: Path) -> None:
    recorder.object = os.urandom(3 * 1024 * 1024 + 5)
    recorder.cut_once = True
    part = 1024 * 1024 * 5  # the smallest part: a single range, so the cut is in the one request
    store = store_at(recorder, part_size=part, multipart_threshold=1024 * 1024)
    obj = ObjectInfo("p/big.bin", len(recorder.object), etag="obj-etag")

    got = store.get_file("bucket", obj, tmp_path / "big.bin")

    assert (tmp_path / "big.bin").read_bytes() == recorder.object
    assert got.blake3 == blake3(recorder.object).hexdigest()
    sent = [{k.lower(): v for k, v in headers.items()} for _, _, headers, _ in recorder.requests]
    ranges = [headers["range"] for headers in sent]
    assert ranges[0] == f"bytes=0-{len(recorder.object) - 1}"
    resumed = int(ranges[1].removeprefix("bytes=").partition("-")[0])
    assert 0 < resumed <= len(recorder.object) // 2  # only what was not yet written is asked for again
    assert all(headers["if-match"] == '"obj-etag"' for headers in sent)

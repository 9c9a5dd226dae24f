"""A replica keeps answering its readiness probes while it decodes a large JSON request: Python's JSON
parser holds the GIL for the whole parse, so a request of tens of megabytes decoded on the replica's
event loop would leave a probe unanswered for as long (one missed probe takes the replica out of the
rotation). A real replica process, real HTTP; the probes come from a process of their own, as the
supervisor's do (so that nothing in the test's own process delays them).

The body goes to the helper process, and the decoded arrays come back, in shared memory: the answers
are the bytes a replica decoding on its loop gives, and no block is left in /dev/shm, whatever the
request's fate (answered, refused, cancelled) and after the replica stops."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

from mlp_server.serving.proxy import MAX_BODY, PROBE_TIMEOUT
from mlp_server.serving.replica import (
    BLOCK_PREFIX,
    OFF_LOOP_BYTES,
    SHM_DIR,
    BadRequest,
    BlockResponse,
    Blocks,
    Decoded,
    OffLoop,
    Signature,
    encode,
    new_block,
)
from mlp_server.serving.tensors import TensorSpec
from mlp_testing import clean_env, stop_process

from . import models as built
from .helpers import wait_until

ROWS = 600_000
JSON = {"content-type": "application/json"}  # a and b: 1.8M values each, ~18 MB of JSON

# Probes the URL every 20 ms until stdin closes; prints one JSON line per probe: [sent, latency].
PROBER = """
import json, sys, threading, time, httpx
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
with httpx.Client(timeout=60) as client:
    while not done.is_set():
        sent = time.monotonic()
        assert client.get(sys.argv[1]).status_code == 200
        print(json.dumps([sent, time.monotonic() - sent]), flush=True)
        time.sleep(0.02)
"""


class Replica:
    def __init__(self, url: str, pid: int) -> None:
        self.url, self.pid = url, pid

    def blocks(self) -> list[str]:
        """Its shared memory blocks in /dev/shm (named for its pid)."""
        return sorted(p.name for p in SHM_DIR.glob(f"{BLOCK_PREFIX}{self.pid}-*"))


@contextmanager
def running(tmp_path: Path, name: str, helper: bool = True, **env: str) -> Iterator[Replica]:
    """``python -m mlp_server.serving`` serving the two-input model. Once it is stopped (SIGTERM): its
    helper process (it has one, unless not ``helper``) and multiprocessing's resource tracker are
    gone, and so are its blocks."""
    hello = tmp_path / f"{name}.json"
    argv = [sys.executable, "-m", "mlp_server.serving", "--model-dir", str(built.two_inputs(tmp_path / name))]
    argv += ["--name", "big", "--hello-file", str(hello)]
    with (tmp_path / f"{name}.log").open("wb") as log:
        proc = subprocess.Popen(
            argv, env=clean_env(tmp_path / "home", **env), stdout=log, stderr=subprocess.STDOUT
        )
    children: list[int] = []
    replica = Replica("", proc.pid)
    try:
        wait_until(hello.exists, 60, "the replica to listen")
        replica.url = f"http://127.0.0.1:{json.loads(hello.read_text())['port']}"
        yield replica
        # Per thread: the helper is started from a worker thread.
        threads = Path(f"/proc/{proc.pid}/task").glob("*/children")
        children = [int(pid) for t in threads for pid in t.read_text().split()]
    finally:
        stop_process(proc, 30)
    assert bool(children) == helper, "the large request started no helper process" if helper else children
    wait_until(lambda: not any(Path(f"/proc/{c}").exists() for c in children), 10, "the helpers to exit")
    assert replica.blocks() == []
    # ... unlinked by the replica, not by multiprocessing's resource tracker after it: the tracker says
    # what it had to clean up ("leaked shared_memory objects", or the helper's queues' semaphores).
    assert "resource_tracker" not in (tmp_path / f"{name}.log").read_text(errors="replace")


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[str]:
    """A replica's base URL."""
    with running(tmp_path, "m") as started:
        yield started.url


def big_request() -> bytes:
    data = {n: [v] * (ROWS * 3) for n, v in (("a", 0.5), ("b", 2.0))}
    inputs = [{"name": n, "datatype": "FP32", "shape": [ROWS, 3], "data": data[n]} for n in "ab"]
    body = json.dumps({"id": "big", "inputs": inputs, "parameters": {"binary_data_output": True}})
    return body.encode()


def test_health_probes_are_answered_while_a_large_request_is_decoded(replica: str) -> None:
    body = big_request()
    assert len(body) > 8 * OFF_LOOP_BYTES
    prober = subprocess.Popen(
        [sys.executable, "-c", PROBER, f"{replica}/v2/health/ready"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert prober.stdout is not None and prober.stdin is not None
    try:
        assert json.loads(prober.stdout.readline())[1] < 60  # probing
        with httpx.Client(timeout=300) as client:
            start = time.monotonic()
            resp = client.post(
                f"{replica}/v2/models/big/infer", content=body, headers={"content-type": "application/json"}
            )
            end = time.monotonic()
    finally:
        prober.stdin.close()  # it stops
        out = prober.stdout.read()
        prober.wait(60)
    assert prober.returncode == 0

    assert resp.status_code == 200, resp.text[:300]
    split = int(resp.headers["inference-header-content-length"])
    head = json.loads(resp.content[:split])
    assert head["id"] == "big" and head["outputs"][0]["shape"] == [ROWS, 3]
    y = np.frombuffer(resp.content[split:], dtype=np.float32)
    assert y.size == ROWS * 3 and np.all(y == 1.5)  # y = a * b + a

    # CLOCK_MONOTONIC is one clock for every process of the machine.
    during = [latency for sent, latency in map(json.loads, out.splitlines()) if start <= sent <= end]
    assert len(during) >= 5, (during, end - start)
    # Decoding is most of the request's time: on the loop, a probe sent as it starts waits that long.
    assert max(during) < min(PROBE_TIMEOUT, (end - start) / 4), (sorted(during)[-3:], end - start)


def test_a_bool_among_the_numbers_of_a_large_request_is_refused_by_position(replica: str) -> None:
    """The helper process decodes with the same checks: numpy would have made ``true`` a 1.0."""
    rows = 100_000
    data = [0.5] * (rows * 3)
    data[-1] = True  # type: ignore[call-overload]
    inputs = [{"name": n, "datatype": "FP32", "shape": [rows, 3], "data": data} for n in "ab"]
    body = json.dumps({"inputs": inputs}).encode()
    assert len(body) > OFF_LOOP_BYTES
    resp = httpx.post(
        f"{replica}/v2/models/big/infer",
        content=body,
        headers={"content-type": "application/json"},
        timeout=120,
    )
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json() == {"error": f"input 'a': data[{rows * 3 - 1}] is true, not a number (FP32)"}


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32-le"])
def test_a_bool_among_numbers_in_utf16_or_utf32_json_is_refused(tmp_path: Path, encoding: str) -> None:
    """JSON's parser reads UTF-16 and UTF-32 bodies too, where ``true`` is not the bytes ``true``: the
    look for those bytes (which spares requests without bools a check of every value) must not let
    numpy make ``true`` a 1.0 for them."""
    inputs = [
        {"name": "a", "datatype": "FP32", "shape": [1, 3], "data": [[0.5, True, 2.0]]},
        {"name": "b", "datatype": "FP32", "shape": [1, 3], "data": [[1.0, 1.0, 1.0]]},
    ]
    body = json.dumps({"inputs": inputs}).encode(encoding)
    assert b"true" not in body
    with running(tmp_path, "m", helper=False) as started:
        resp = httpx.post(f"{started.url}/v2/models/big/infer", content=body, headers=JSON, timeout=60)
    assert resp.status_code == 400, resp.text[:300]
    assert resp.json() == {"error": "input 'a': data[0][1] is true, not a number (FP32)"}


def json_request(value: object, rows: int = ROWS, datatype: str = "FP32") -> bytes:
    inputs = [
        {"name": n, "datatype": datatype, "shape": [rows, 3], "data": [value] * (rows * 3)} for n in "ab"
    ]
    return json.dumps({"id": 7, "inputs": inputs}).encode()


def binary_request(rows: int, request_id: str | None = None) -> tuple[bytes, dict[str, str]]:
    """A request whose inputs a and b (``rows`` x 3 FP32, all 0.5) are binary tensor data: its JSON part
    is small (decoded on the loop), and its JSON answer large; and its headers."""
    inputs = [
        {"name": n, "datatype": "FP32", "shape": [rows, 3], "parameters": {"binary_data_size": rows * 12}}
        for n in "ab"
    ]
    head = json.dumps({"inputs": inputs} if request_id is None else {"id": request_id, "inputs": inputs})
    body = head.encode() + np.full(rows * 3, 0.5, dtype=np.float32).tobytes() * 2
    return body, {**JSON, "inference-header-content-length": str(len(head.encode()))}


def test_large_requests_answer_as_on_the_loop_through_shared_memory(tmp_path: Path) -> None:
    """The same answers, byte for byte, as a replica decoding everything on its loop: feeds that fit the
    lent block (0.5: 5 bytes of JSON a value), feeds that need a block of their own (1: 3 bytes a value,
    4 as FP32), JSON answers, a JSON part beside binary tensor data, sent whole or in chunks (no
    Content-Length), refusals (a wrong datatype, a body that is not JSON, a key twice)."""
    rows = 400_000
    head = json.dumps(
        {
            "inputs": [
                {"name": "a", "datatype": "FP32", "shape": [rows, 3], "data": [0.25] * (rows * 3)},
                {
                    "name": "b",
                    "datatype": "FP32",
                    "shape": [rows, 3],
                    "parameters": {"binary_data_size": rows * 12},
                },
            ]
        }
    ).encode()
    binary = head + np.full(rows * 3, 4.0, dtype=np.float32).tobytes()
    bodies = {
        "fits": json_request(0.5, rows),
        "own block": json_request(1, rows),
        "binary answer": big_request(),
        "wrong datatype": json_request(0.5, rows, "FP64"),
        "not JSON": json_request(0.5, rows)[:-1],
        "key twice": json_request(0.5, rows)[:-1] + b', "id": 8}',
    }
    assert all(len(body) > 4 * OFF_LOOP_BYTES for body in bodies.values())
    with (
        running(tmp_path, "shm") as shm,
        running(tmp_path, "loop", helper=False, MLP_SERVING_OFF_LOOP_BYTES=str(1 << 40)) as loop,
        httpx.Client(timeout=300) as client,
    ):
        sent = [(what, body, JSON) for what, body in bodies.items()]
        sent.append(("binary input", binary, {**JSON, "inference-header-content-length": str(len(head))}))
        sent.append(("chunked", [bodies["fits"][:999_999], bodies["fits"][999_999:]], JSON))
        for what, body, headers in sent:
            answers = [
                client.post(
                    f"{r.url}/v2/models/big/infer",
                    content=body,  # a list of chunks: no Content-Length, sent chunked
                    headers=headers,
                )
                for r in (shm, loop)
            ]
            assert answers[0].status_code == answers[1].status_code, what
            assert answers[0].headers.get("content-type") == answers[1].headers.get("content-type"), what
            assert answers[0].content == answers[1].content, what
            expected = (
                200 if what in ("fits", "own block", "binary answer", "binary input", "chunked") else 400
            )
            assert answers[0].status_code == expected, (what, answers[0].text[:300])
            # The replica keeps the one block it lends (the largest body's), and only it.
            assert len(shm.blocks()) == 1, (what, shm.blocks())
        assert loop.blocks() == []
        refused = client.post(f"{shm.url}/v2/models/big/infer", content=bodies["wrong datatype"]).json()
        assert refused == {"error": "input 'a': datatype 'FP64' does not match the model's FP32"}
        fitted = client.post(f"{shm.url}/v2/models/big/infer", content=bodies["own block"]).json()
        assert fitted["outputs"][0]["data"][:3] == [2.0, 2.0, 2.0]  # y = a * b + a


def test_a_cancelled_decode_leaves_no_block(tmp_path: Path) -> None:
    """A request cancelled while the helper decodes it (the client gone, the replica stopping): its
    block goes back once the helper is done with it, and the feeds' own block is unlinked."""
    spec = TensorSpec("a", "FP32", (-1, 3))
    model = Signature("big", "1", {"a": spec, "b": TensorSpec("b", "FP32", (-1, 3))}, {"y": spec})
    body = json_request(1, 200_000)  # the feeds need a block of their own
    mine = f"{BLOCK_PREFIX}{os.getpid()}-*"

    async def cancelled() -> None:
        off_loop = OffLoop()
        try:
            await off_loop.call(int)  # started
            async with AsyncExitStack() as lent:
                task = asyncio.ensure_future(off_loop.decode(model, body, len(body), None, lent))
                await asyncio.sleep(0.05)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
            await off_loop.call(int)  # after the decode: its result was handled
            assert len(list(SHM_DIR.glob(mine))) == 1  # the lent block, kept for the next
            async with AsyncExitStack() as lent:  # and it serves the next
                decoded, feeds = await off_loop.decode(model, body, len(body), None, lent)
                assert decoded.request_id == 7 and decoded.feeds == {}
                assert feeds["a"].shape == (200_000, 3) and float(feeds["a"].sum()) == 600_000.0
        finally:
            off_loop.close()

    asyncio.run(cancelled())
    assert list(SHM_DIR.glob(mine)) == []


def test_a_block_shared_memory_has_no_room_for_is_refused_before_anything_is_written() -> None:
    """A block is reserved whole when it is made: one larger than shared memory's free room is an
    ENOSPC at once (the replica then answers or takes the pipe), never a sparse block whose first write
    past the room would kill the replica with SIGBUS. Nothing is left behind."""
    mine = f"{BLOCK_PREFIX}{os.getpid()}-*"
    too_big = shutil.disk_usage(SHM_DIR).free + (1 << 30)
    try:
        with pytest.raises(OSError) as refused:
            new_block(too_big, os.getpid())
        assert refused.value.errno == errno.ENOSPC
    finally:
        left = list(SHM_DIR.glob(mine))
        for path in left:
            path.unlink()
    assert left == []
    block = new_block(1 << 20, os.getpid())  # one that fits: all its room taken at once
    try:
        assert os.stat(SHM_DIR / block.name).st_blocks * 512 >= 1 << 20
    finally:
        block.close()
        block.unlink()
    assert list(SHM_DIR.glob(mine)) == []


def test_a_body_that_is_not_its_content_length_is_refused() -> None:
    """Read from the socket into the lent block: a body longer or shorter than the Content-Length it
    announced is a 400 (uvicorn cuts the longer, but the check does not rely on it), and the block
    goes back."""
    spec = TensorSpec("a", "FP32", (-1, 3))
    model = Signature("big", "1", {"a": spec, "b": TensorSpec("b", "FP32", (-1, 3))}, {"y": spec})
    body = json_request(0.5, 100_000)
    mine = f"{BLOCK_PREFIX}{os.getpid()}-*"

    async def chunks(data: bytes) -> AsyncIterator[bytes]:
        for at in range(0, len(data), 65536):
            yield data[at : at + 65536]

    async def refused() -> list[str]:
        off_loop = OffLoop()
        errors = []
        try:
            for size in (len(body) + 1, len(body) - 1):
                async with AsyncExitStack() as lent:
                    with pytest.raises(BadRequest) as exc:
                        await off_loop.decode(model, chunks(body), size, None, lent)
                    errors.append(str(exc.value))
            assert len(list(SHM_DIR.glob(mine))) == 1  # the block went back, kept
        finally:
            off_loop.close()
        return errors

    assert asyncio.run(refused()) == [
        f"the body is {len(body)} bytes, shorter than its Content-Length ({len(body) + 1})",
        f"the body is longer than its Content-Length ({len(body) - 1})",
    ]
    assert list(SHM_DIR.glob(mine)) == []


def test_a_helper_killed_between_requests_is_replaced(tmp_path: Path) -> None:
    """The helper process dies between two large requests (SIGKILL, as the out-of-memory killer does
    to an idle process): the replica starts a new one for the next request, which is answered (it got
    a 500 naming the helper's death, though nothing of it had reached the helper), whether the helper
    was to decode its body or to encode its answer."""
    body = json_request(0.5, 200_000)
    sent = {"decode": (body, JSON), "encode": binary_request(400_000)}  # encode: only the answer is large
    with running(tmp_path, "m") as replica, httpx.Client(timeout=300) as client:
        url = f"{replica.url}/v2/models/big/infer"
        assert client.post(url, content=body, headers=JSON).status_code == 200
        for what, (content, headers) in sent.items():
            helper = helper_of(replica)
            os.kill(helper, signal.SIGKILL)
            wait_until(lambda: not Path(f"/proc/{helper}").exists(), 10, "the helper to be gone")  # noqa: B023
            first = client.post(url, content=content, headers=headers)
            assert first.status_code == 200, (what, first.text[:300])
            assert first.json()["outputs"][0]["data"][:3] == [0.75, 0.75, 0.75]  # y = a * b + a
            assert helper_of(replica) != helper
    assert "died" not in (tmp_path / "m.log").read_text(errors="replace")


def test_a_client_gone_mid_body_is_no_server_error(tmp_path: Path) -> None:
    """A client that closes its connection halfway through a body (a large one read into shared
    memory, a large one sent chunked, a small one) is not the replica's error: no traceback in its
    log (uvicorn's "Exception in ASGI application", a 500), the block lent for the body given back
    (the next large request is answered in the same, kept block) and the replica serving on."""
    large = json_request(0.5, 400_000)
    small = json_request(0.5, 1_000)
    assert len(small) < OFF_LOOP_BYTES < len(large) // 2
    head = b"POST /v2/models/big/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    half = len(large) // 2
    chunked = b"%x\r\n%s\r\n" % (half, large[:half])
    sent = {
        "large, into shared memory": head + b"content-length: %d\r\n\r\n%s" % (len(large), large[:half]),
        "large, chunked": head + b"transfer-encoding: chunked\r\n\r\n" + chunked,
        "small": head + b"content-length: %d\r\n\r\n%s" % (len(small), small[: len(small) // 2]),
    }
    with running(tmp_path, "m") as replica, httpx.Client(timeout=300) as client:
        port = int(replica.url.rsplit(":", 1)[1])
        url = f"{replica.url}/v2/models/big/infer"
        kept: list[str] = []
        for what, partial in sent.items():
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(partial)
                time.sleep(0.3)  # the replica reads what came (into the block it lent)
            time.sleep(1)  # ... and sees the connection closed
            answer = client.post(url, content=large, headers=JSON)
            assert answer.status_code == 200, (what, answer.text[:300])
            assert answer.json()["outputs"][0]["data"][:3] == [0.75, 0.75, 0.75]  # y = a * b + a
            kept = kept or replica.blocks()
            assert replica.blocks() == kept and len(kept) == 1, (what, kept, replica.blocks())
    log = (tmp_path / "m.log").read_text(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]


def helper_of(replica: Replica) -> int:
    """The replica's helper process (its other child is multiprocessing's resource tracker)."""
    threads = Path(f"/proc/{replica.pid}/task").glob("*/children")
    children = [int(pid) for t in threads for pid in t.read_text().split()]
    helpers = [c for c in children if b"resource_tracker" not in Path(f"/proc/{c}/cmdline").read_bytes()]
    assert len(helpers) == 1, children
    return helpers[0]


def piped(pid: int) -> tuple[int, int]:
    """Bytes process ``pid`` has read and written through system calls (its pipes; not what it reads
    or writes in shared memory)."""
    io = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(io["rchar"]), int(io["wchar"])


def test_a_large_json_answer_comes_back_through_shared_memory(tmp_path: Path) -> None:
    """A large JSON answer is encoded in the helper process: the model's outputs go to it, and the
    answer comes back, in the block the replica lends (not pickled through the pool's pipe: ~15-25 ms
    of an 18 MB answer); the answer is sent from the block, byte for byte what a replica encoding on
    its loop sends, and the block goes back once sent, or once the client is gone halfway through."""
    body, headers = binary_request(400_000, "out")
    with (
        running(tmp_path, "shm") as shm,
        running(tmp_path, "loop", helper=False, MLP_SERVING_OFF_LOOP_BYTES=str(1 << 40)) as loop,
        httpx.Client(timeout=300) as client,
    ):
        url = f"{shm.url}/v2/models/big/infer"
        assert client.post(url, content=body, headers=headers).status_code == 200  # the helper started
        helper = helper_of(shm)
        before = piped(helper)
        answer = client.post(url, content=body, headers=headers)
        after = piped(helper)
        expected = client.post(f"{loop.url}/v2/models/big/infer", content=body, headers=headers)
        assert answer.status_code == 200, answer.text[:300]
        assert answer.headers["content-type"] == "application/json"
        assert answer.content == expected.content and len(answer.content) > 4 * OFF_LOOP_BYTES
        assert answer.json()["outputs"][0]["data"][:3] == [0.75, 0.75, 0.75]  # y = a * b + a
        # the outputs (4.8 MB) to the helper, the answer (6 MB) back: neither through the pipe
        assert after[0] - before[0] < 64 * 1024 and after[1] - before[1] < 64 * 1024, (before, after)
        kept = shm.blocks()
        assert len(kept) == 1, kept
        port = int(shm.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(
                b"POST /v2/models/big/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            )
            length = headers["inference-header-content-length"]
            sock.sendall(b"inference-header-content-length: %s\r\n" % length.encode())
            sock.sendall(b"content-length: %d\r\n\r\n%s" % (len(body), body))
            assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")  # and gone, the answer half sent
        time.sleep(1)
        again = client.post(url, content=body, headers=headers)
        assert again.content == expected.content
        assert shm.blocks() == kept  # it went back, and was lent again


def test_a_cancelled_encode_gives_its_block_back() -> None:
    """An answer's encoding cancelled while the helper runs it (the replica stopping): the block goes
    back once the helper is done with it, and serves the next answer, sent from it whole."""
    spec = TensorSpec("y", "FP32", (-1, 3))
    model = Signature("big", "1", {"a": spec}, {"y": spec})
    decoded = Decoded(5, True, {}, [("y", False)])
    y = np.full((300_000, 3), 0.25, dtype=np.float32)
    mine = f"{BLOCK_PREFIX}{os.getpid()}-*"

    async def cancelled() -> bytes:
        off_loop = OffLoop()
        sent: list[bytes] = []

        async def send(message: dict[str, object]) -> None:
            body = message.get("body")
            if isinstance(body, bytes):
                sent.append(body)

        try:
            await off_loop.call(int)  # started
            task = asyncio.ensure_future(off_loop.encode(model, decoded, [y]))
            await asyncio.sleep(0.05)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            await off_loop.call(int)  # after the encode: its block went back
            kept = list(SHM_DIR.glob(mine))
            assert len(kept) == 1, kept
            response = await off_loop.encode(model, decoded, [y])
            assert isinstance(response, BlockResponse)
            assert list(SHM_DIR.glob(mine)) == kept  # lent again
            await response({"type": "http"}, None, send)  # type: ignore[arg-type]
            assert response.headers["content-length"] == str(len(b"".join(sent)))
            # BYTES outputs (no flat layout) come back through the pipe
            words = Signature("w", "1", {}, {"s": TensorSpec("s", "BYTES", (-1,))})
            strings = np.array([b"abc"] * 1000, dtype=np.object_)
            piped = await off_loop.encode(words, Decoded(None, False, {}, [("s", False)]), [strings])
            assert not isinstance(piped, BlockResponse) and piped.status_code == 200
            assert piped.body == encode(words, Decoded(None, False, {}, [("s", False)]), [strings])[0]
        finally:
            off_loop.close()
        return b"".join(sent)

    assert asyncio.run(cancelled()) == encode(model, decoded, [y])[0]
    assert list(SHM_DIR.glob(mine)) == []


def test_an_answer_too_large_for_a_kept_block_leaves_the_kept_one(tmp_path: Path) -> None:
    """A JSON answer whose block is larger than a replica keeps (room for 3M values: ~76 MB) is sent
    from a block of its own, unlinked once sent; the block kept for the next large request (a body's,
    18 MB) stays: it was unlinked to make room, and every large request after faulted a new one in."""
    rows = 1_000_000
    body, headers = binary_request(rows)
    large = json_request(0.5, 400_000)
    assert len(large) > 4 * OFF_LOOP_BYTES
    with running(tmp_path, "m") as replica, httpx.Client(timeout=300) as client:
        url = f"{replica.url}/v2/models/big/infer"
        assert client.post(url, content=large, headers=JSON).status_code == 200
        kept = replica.blocks()
        assert len(kept) == 1, kept
        answer = client.post(url, content=body, headers=headers)
        assert answer.status_code == 200, answer.text[:300]
        data = answer.json()["outputs"][0]["data"]
        assert len(data) == rows * 3 and data[:3] == [0.75, 0.75, 0.75]  # y = a * b + a
        assert replica.blocks() == kept
        assert client.post(url, content=large, headers=JSON).status_code == 200
        assert replica.blocks() == kept  # lent again


def test_a_body_larger_than_an_endpoint_takes_reserves_no_block(tmp_path: Path) -> None:
    """A request whose Content-Length is more than a service endpoint passes on (256 MiB) is refused
    at once, 413, before any room is reserved for it: the replica's port is open to every local user
    (127.0.0.1, no credentials), and a head claiming 1 GiB, with no byte of body after it, made the
    replica reserve a 1 GiB block in /dev/shm (memory) and hold it while the connection stayed open."""
    claimed = 4 * MAX_BODY
    head = b"POST /v2/models/big/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    with running(tmp_path, "m") as replica, httpx.Client(timeout=300) as client:
        port = int(replica.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(head + b"content-length: %d\r\n\r\n{" % claimed)
            sock.settimeout(30)
            time.sleep(1)
            assert replica.blocks() == [], [(SHM_DIR / b).stat().st_size for b in replica.blocks()]
            answer = sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]
        assert b"larger than 268435456 bytes" in answer, answer[:300]
        url = f"{replica.url}/v2/models/big/infer"
        served = client.post(url, content=json_request(0.5, 200_000), headers=JSON)
        assert served.status_code == 200, served.text[:300]


def test_bodies_claimed_but_not_sent_reserve_a_bounded_room(tmp_path: Path) -> None:
    """Heads that claim the largest body an endpoint passes on (256 MiB), on several connections, with
    no byte of body after them: the replica lends at most LEND_BYTES (512 MiB) of shared memory at
    once, the other bodies are read as they come (through the pipe). Each head made a block of its
    own, reserved (memory) while its connection stayed open: any local user could pin half of
    /dev/shm with a few connections."""
    head = b"POST /v2/models/big/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
    with running(tmp_path, "m") as replica, httpx.Client(timeout=300) as client:
        port = int(replica.url.rsplit(":", 1)[1])
        with contextlib.ExitStack() as stack:
            for _ in range(3):
                sock = stack.enter_context(socket.create_connection(("127.0.0.1", port)))
                sock.sendall(head + b"content-length: %d\r\n\r\n{" % MAX_BODY)
            time.sleep(1.5)
            sizes = [(SHM_DIR / b).stat().st_size for b in replica.blocks()]
            assert sizes and sum(sizes) <= Blocks.LEND_BYTES, sizes
        time.sleep(1)  # the connections closed: the blocks went back
        url = f"{replica.url}/v2/models/big/infer"
        served = client.post(url, content=json_request(0.5, 200_000), headers=JSON)
        assert served.status_code == 200, served.text[:300]
        assert len(replica.blocks()) == 1, replica.blocks()
    log = (tmp_path / "m.log").read_text(errors="replace")
    assert "lends at most" in log, log[-2000:]

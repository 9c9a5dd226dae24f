"""A replica keeps answering its readiness probes while it decodes a large JSON request: Python's JSON
parser holds the GIL for the whole parse, so a request of tens of megabytes decoded on the replica's
event loop would leave a probe unanswered for as long (one missed probe takes the replica out of the
rotation). A real replica process, real HTTP; the probes come from a process of their own, as the
supervisor's do (so that nothing in the test's own process delays them)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest

from mlp_server.serving.proxy import PROBE_TIMEOUT
from mlp_server.serving.replica import OFF_LOOP_BYTES
from mlp_testing import clean_env

from . import models as built
from .helpers import wait_until

ROWS = 600_000  # a and b: 1.8M values each, ~18 MB of JSON

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


@pytest.fixture
def replica(tmp_path: Path) -> Iterator[str]:
    """``python -m mlp_server.serving`` serving the two-input model; its base URL."""
    hello = tmp_path / "hello.json"
    argv = [sys.executable, "-m", "mlp_server.serving", "--model-dir", str(built.two_inputs(tmp_path / "m"))]
    argv += ["--name", "big", "--hello-file", str(hello)]
    with (tmp_path / "replica.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=clean_env(tmp_path / "home"), stdout=log, stderr=subprocess.STDOUT)
    children: list[int] = []
    try:
        wait_until(hello.exists, 60, "the replica to listen")
        yield f"http://127.0.0.1:{json.loads(hello.read_text())['port']}"
        # Per thread: the helper is started from a worker thread.
        threads = Path(f"/proc/{proc.pid}/task").glob("*/children")
        children = [int(pid) for t in threads for pid in t.read_text().split()]
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    # Its helper process (and multiprocessing's resource tracker) go with it.
    assert children, "the large request started no helper process"
    wait_until(lambda: not any(Path(f"/proc/{c}").exists() for c in children), 10, "the helpers to exit")


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

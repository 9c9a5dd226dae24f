"""A replica answering a large JSON request: its latency, and how long readiness probes wait meanwhile,
with large JSON decoded in the helper process (this build) against everything on the event loop (the
same build with ``MLP_SERVING_OFF_LOOP_BYTES`` set huge, as before).

    python bench/large_requests.py                 # 3 rounds, 600,000 rows (~18 MB of JSON)
    python bench/large_requests.py --rounds 2 --rows 300000

Two replicas of a two-input FP32 model (``python -m mlp_server.serving``), 127.0.0.1, OS-chosen ports.
Rounds interleave them, in alternating order; a prober process asks ``/v2/health/ready`` every 20 ms
throughout. Prints, per target, the request's wall time and the longest probe wait during it
(the supervisor takes a replica out of rotation after one probe unanswered within 1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import onnx
from onnx import TensorProto, helper

PROBER = """
import json, sys, threading, time, httpx
done = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), done.set()), daemon=True).start()
with httpx.Client(timeout=60) as client:
    while not done.is_set():
        sent = time.monotonic()
        client.get(sys.argv[1])
        print(json.dumps([sent, time.monotonic() - sent]), flush=True)
        time.sleep(0.02)
"""


def model(folder: Path) -> Path:
    a, b, y = (helper.make_tensor_value_info(n, TensorProto.FLOAT, ["batch", 3]) for n in "aby")
    nodes = [helper.make_node("Mul", ["a", "b"], ["ab"]), helper.make_node("Add", ["ab", "a"], ["y"])]
    m = helper.make_model(
        helper.make_graph(nodes, "two", [a, b], [y]), opset_imports=[helper.make_opsetid("", 17)]
    )
    m.ir_version = 8
    folder.mkdir(parents=True)
    onnx.save(m, folder / "model.onnx")
    return folder


def start(root: Path, name: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    hello = root / f"{name}.json"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mlp_server.serving",
            "--model-dir",
            str(root / "m"),
            "--name",
            "two",
            "--hello-file",
            str(hello),
        ],
        env=env,
    )
    deadline = time.monotonic() + 60
    while not hello.exists():
        if time.monotonic() > deadline:
            raise SystemExit(f"{name}: the replica did not start")
        time.sleep(0.05)
    return proc, f"http://127.0.0.1:{json.loads(hello.read_text())['port']}"


def one(url: str, body: bytes) -> tuple[float, float]:
    prober = subprocess.Popen(
        [sys.executable, "-c", PROBER, f"{url}/v2/health/ready"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert prober.stdin is not None and prober.stdout is not None
    prober.stdout.readline()
    with httpx.Client(timeout=600) as client:
        began = time.monotonic()
        resp = client.post(
            f"{url}/v2/models/two/infer", content=body, headers={"content-type": "application/json"}
        )
        ended = time.monotonic()
    prober.stdin.close()
    probes = [json.loads(line) for line in prober.stdout.read().splitlines()]
    prober.wait()
    resp.raise_for_status()
    waits = [w for sent, w in probes if began <= sent <= ended]
    return ended - began, max(waits, default=0.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target")
    parser.add_argument("--rows", type=int, default=600_000, help="rows of each [rows, 3] input")
    args = parser.parse_args()
    rows = args.rows
    inputs = [
        {"name": n, "datatype": "FP32", "shape": [rows, 3], "data": [v] * (rows * 3)}
        for n, v in (("a", 0.5), ("b", 2.0))
    ]
    body = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
    del inputs
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}
    targets = {"helper process": env, "on the loop": {**env, "MLP_SERVING_OFF_LOOP_BYTES": str(1 << 40)}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model(root / "m")
        procs = {name: start(root, name.replace(" ", "-"), e) for name, e in targets.items()}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
        try:
            for i in range(args.rounds):
                order = list(targets) if i % 2 == 0 else list(reversed(targets))
                for name in order:
                    results[name].append(one(procs[name][1], body))
        finally:
            for proc, _ in procs.values():
                proc.terminate()
                proc.wait()
    print(f"body {len(body) / 1e6:.1f} MB, {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    for name, runs in results.items():
        walls = [w for w, _ in runs]
        waits = [p for _, p in runs]
        print(
            f"{name:15s} request wall p50 {statistics.median(walls):6.2f} s (all: "
            + ", ".join(f"{w:.2f}" for w in walls)
            + f")  longest probe wait p50 {statistics.median(waits):5.2f} s (all: "
            + ", ".join(f"{p:.2f}" for p in waits)
            + ")"
        )
    loop, helper_ = (statistics.median(w for w, _ in results[n]) for n in ("on the loop", "helper process"))
    print(f"request wall: helper process / on the loop = {helper_ / loop:.2f}")


if __name__ == "__main__":
    main()

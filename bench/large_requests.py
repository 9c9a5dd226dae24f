"""A replica answering a large JSON request, and a large JSON answer: its latency, and how long
readiness probes wait meanwhile, with large JSON decoded and encoded in the helper process (this build)
against everything on the event loop (the same build with ``MLP_SERVING_OFF_LOOP_BYTES`` set huge, as
before).

    python bench/large_requests.py                 # 3 rounds, 600,000 rows (~18 MB of JSON)
    python bench/large_requests.py --case answer   # only the large answer
    python bench/large_requests.py --rounds 2 --rows 300000
    python bench/large_requests.py --rounds 7 --compare main   # also a replica of main's source: before/after

Two replicas of a two-input FP32 model (``python -m mlp_server.serving``), 127.0.0.1, OS-chosen ports.
Rounds interleave them, in alternating order; a prober process asks ``/v2/health/ready`` every 20 ms
throughout. Two cases: "request", the inputs as ~18 MB of JSON, the output as binary tensor data;
"answer", the inputs as binary tensor data (the request's JSON is small), the output as JSON (~34 MB
of random floats). Prints, per case and target, the request's wall time and the longest probe wait
during it (the supervisor takes a replica out of rotation after one probe unanswered within 1 s).
``--compare REF`` adds a third replica running the packages' sources at git REF (exported to a
temporary folder, first on its PYTHONPATH), with its helper process, in the same rounds.
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
import numpy as np
import onnx
from onnx import TensorProto, helper

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ["generated_client", "ergonomic", "server"]

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


def export_tree(ref: str, dest: Path) -> str:
    """The packages' sources at git ``ref`` of this repository in ``dest``; their PYTHONPATH."""
    dest.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, *SOURCES], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return os.pathsep.join(str(dest / name) for name in SOURCES)


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


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of process ``pid`` and its live descendants (the helper process)."""
    total, todo = 0.0, [pid]
    while todo:
        proc = Path(f"/proc/{todo.pop()}")
        try:
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            todo += [int(c) for t in (proc / "task").iterdir() for c in (t / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def one(url: str, pid: int, body: bytes, headers: dict[str, str]) -> tuple[float, float, float]:
    prober = subprocess.Popen(
        [sys.executable, "-c", PROBER, f"{url}/v2/health/ready"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert prober.stdin is not None and prober.stdout is not None
    prober.stdout.readline()
    with httpx.Client(timeout=600) as client:
        cpu = cpu_seconds(pid)
        began = time.monotonic()
        resp = client.post(f"{url}/v2/models/two/infer", content=body, headers=headers)
        ended = time.monotonic()
        cpu = cpu_seconds(pid) - cpu
    prober.stdin.close()
    probes = [json.loads(line) for line in prober.stdout.read().splitlines()]
    prober.wait()
    resp.raise_for_status()
    waits = [w for sent, w in probes if began <= sent <= ended]
    return ended - began, max(waits, default=0.0), cpu


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target")
    parser.add_argument("--rows", type=int, default=600_000, help="rows of each [rows, 3] input")
    parser.add_argument("--compare", metavar="REF", help="also a replica of this git ref's sources")
    parser.add_argument("--case", choices=["request", "answer"], action="append", help="(default: both)")
    args = parser.parse_args()
    rows = args.rows
    cases = {}
    if "request" in (args.case or ["request"]):
        inputs = [
            {"name": n, "datatype": "FP32", "shape": [rows, 3], "data": [v] * (rows * 3)}
            for n, v in (("a", 0.5), ("b", 2.0))
        ]
        body = json.dumps({"inputs": inputs, "parameters": {"binary_data_output": True}}).encode()
        cases["request"] = (body, {"content-type": "application/json"})
        del inputs
    if "answer" in (args.case or ["answer"]):
        size = {"binary_data_size": rows * 12}
        inputs = [{"name": n, "datatype": "FP32", "shape": [rows, 3], "parameters": size} for n in "ab"]
        head = json.dumps({"inputs": inputs}).encode()
        values = np.random.default_rng(0).random((2, rows * 3), dtype=np.float32)  # ~15 characters each
        cases["answer"] = (
            head + values.tobytes(),
            {"content-type": "application/json", "inference-header-content-length": str(len(head))},
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLP_")}
    targets = {"helper process": env, "on the loop": {**env, "MLP_SERVING_OFF_LOOP_BYTES": str(1 << 40)}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model(root / "m")
        if args.compare:
            targets[f"helper [{args.compare}]"] = {
                **env,
                "PYTHONPATH": export_tree(args.compare, root / "ref"),
            }
        procs = {name: start(root, name.replace(" ", "-"), e) for name, e in targets.items()}
        results: dict[str, list[tuple[float, float, float]]] = {
            f"{case}: {name}": [] for case in cases for name in targets
        }
        try:
            for i in range(args.rounds):
                order = list(targets) if i % 2 == 0 else list(reversed(targets))
                for case, (body, headers) in cases.items():
                    for name in order:
                        proc, url = procs[name]
                        results[f"{case}: {name}"].append(one(url, proc.pid, body, headers))
        finally:
            for proc, _ in procs.values():
                proc.terminate()
                proc.wait()
    sizes = ", ".join(f"{case} body {len(body) / 1e6:.1f} MB" for case, (body, _) in cases.items())
    print(f"{sizes}, {args.rounds} rounds, load {os.getloadavg()[0]:.1f}")
    for name, runs in results.items():
        walls, waits, cpus = ([run[k] for run in runs] for k in range(3))
        print(
            f"{name:23s} request wall p50 {statistics.median(walls):6.2f} s (all: "
            + ", ".join(f"{w:.2f}" for w in walls)
            + f")  replica+helper CPU p50 {statistics.median(cpus):5.2f} s"
            + f"  longest probe wait p50 {statistics.median(waits):5.2f} s (all: "
            + ", ".join(f"{p:.2f}" for p in waits)
            + ")"
        )

    def p50(name: str, k: int) -> float:
        return statistics.median(run[k] for run in results[name])

    pairs = [("helper process", "on the loop")]
    if args.compare:
        pairs += [(f"helper [{args.compare}]", "on the loop"), ("helper process", f"helper [{args.compare}]")]
    for a, b in [(f"{case}: {a}", f"{case}: {b}") for case in cases for a, b in pairs]:
        # per round: the two requests of a round ran next to each other, under about the same load
        paired = statistics.median(x[0] / y[0] for x, y in zip(results[a], results[b], strict=True))
        print(
            f"{a} / {b}: request wall {p50(a, 0) / p50(b, 0):.2f} (median of the rounds' ratios "
            f"{paired:.2f}), CPU {p50(a, 2) / p50(b, 2):.2f}"
        )


if __name__ == "__main__":
    main()

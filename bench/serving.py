"""What a deployed service costs per request, side by side in one run.

    python bench/serving.py --quick      # 2 s per measurement
    python bench/serving.py              # 6 s per measurement

The example model (examples/iris-onnx, one row per request) is called:

1. directly with onnxruntime in this process (the floor: no HTTP at all);
2. through a plain Starlette + onnxruntime app, one uvicorn worker (what a user would write);
3. through the service endpoint of ``mlp serve`` (the platform's proxy, then a replica) with 1 replica;
4. the same with 3 replicas.

For each: one client in a loop (p50/p99 latency), then 8 concurrent clients (requests/s, p50/p99).
The per-request overhead is the p50 latency above the floor; the target is endpoint <= 1.3x the plain
app's at one replica. The machine is shared and has 2 cores: only the ratios mean something, and the
3-replica figure shows what 2 cores allow. Talks to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np

HERE = Path(__file__).resolve().parent
EXAMPLE = HERE.parent / "examples" / "iris-onnx"
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"
sys.path.insert(0, str(HERE.parent / "tests"))

from mlp_testing import MlpServe, clean_env, free_port, read_default_keys  # noqa: E402
from volcengine_ml_platform.models.model import Model  # noqa: E402

ROW = [[5.1, 3.5, 1.4, 0.2]]
BODY = {"inputs": [{"name": "features", "datatype": "FP32", "shape": [1, 4], "data": ROW}]}

PLAIN_APP = """
import json, sys
import numpy as np, onnxruntime as ort, uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.routing import Route

options = ort.SessionOptions()
options.intra_op_num_threads = 2
session = ort.InferenceSession(sys.argv[1] + "/model.onnx", options, providers=["CPUExecutionProvider"])

async def infer(request):
    body = json.loads(await request.body())
    feeds = {t["name"]: np.asarray(t["data"], dtype=np.float32).reshape(t["shape"]) for t in body["inputs"]}
    (out,) = await run_in_threadpool(session.run, None, feeds)
    return JSONResponse({"outputs": [{"name": "probabilities", "datatype": "FP32", "shape": list(out.shape),
                                      "data": out.reshape(-1).tolist()}]})

app = Starlette(routes=[Route("/v2/models/iris/infer", infer, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning", access_log=False)
"""


def percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return ordered[len(ordered) // 2] * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


class Tally:
    """Latencies and counts of one target, summed over interleaved rounds."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.elapsed = 0.0
        self.errors = 0

    def figures(self) -> dict[str, float]:
        p50, p99 = percentiles(self.latencies)
        return {"rps": len(self.latencies) / self.elapsed, "p50": p50, "p99": p99, "errors": self.errors}


def run_clients(
    call_factory: Callable[[], Callable[[], None]], clients: int, seconds: float, tally: Tally
) -> None:
    latencies: list[list[float]] = [[] for _ in range(clients)]
    errors: list[str] = []
    start = threading.Barrier(clients + 1)

    def client(n: int) -> None:
        call = call_factory()
        call()  # warm the connection
        start.wait()
        deadline = time.perf_counter() + seconds
        while (now := time.perf_counter()) < deadline:
            try:
                call()
            except Exception as exc:
                errors.append(repr(exc))
            latencies[n].append(time.perf_counter() - now)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    tally.elapsed += time.perf_counter() - began
    tally.latencies.extend(x for per in latencies for x in per)
    tally.errors += len(errors)


def http_caller(url: str) -> Callable[[], Callable[[], None]]:
    def factory() -> Callable[[], None]:
        client = httpx.Client(timeout=30)

        def call() -> None:
            response = client.post(url, json=BODY)
            response.raise_for_status()

        return call

    return factory


def floor_caller() -> Callable[[], Callable[[], None]]:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(EXAMPLE / "model.onnx"), options, providers=["CPUExecutionProvider"])
    feeds = {"features": np.asarray(ROW, dtype=np.float32)}

    def factory() -> Callable[[], None]:
        def call() -> None:
            session.run(None, feeds)

        return call

    return factory


def wait_up(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.post(url, json=BODY, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 6.0
    rounds = 4
    results: dict[str, dict[str, dict[str, float]]] = {}

    def measure(targets: dict[str, Callable[[], Callable[[], None]]]) -> None:
        """Rounds alternate between the targets, so that a busy moment of the machine hits all alike."""
        for load, clients in (("1 client", 1), ("8 clients", 8)):
            tallies = {name: Tally() for name in targets}
            for _ in range(rounds):
                for name, factory in targets.items():
                    run_clients(factory, clients, seconds / rounds, tallies[name])
            for name, tally in tallies.items():
                r = results.setdefault(name, {})[load] = tally.figures()
                print(f"  {name:<28} {load:<10} {r['rps']:8.0f} req/s  p50 {r['p50']:6.2f} ms  "
                      f"p99 {r['p99']:6.2f} ms  errors {r['errors']:.0f}", flush=True)  # fmt: skip

    print(f"serving benchmark, {seconds:.0f} s per figure in {rounds} interleaved rounds, "
          f"{os.cpu_count()} cores (shared: ratios only)")  # fmt: skip
    port = free_port()
    plain = subprocess.Popen([sys.executable, "-c", PLAIN_APP, str(EXAMPLE), str(port)])
    try:
        plain_url = f"http://127.0.0.1:{port}/v2/models/iris/infer"
        wait_up(plain_url)
        with tempfile.TemporaryDirectory(prefix="mlp-bench-serving-") as tmp:
            env = clean_env(Path(tmp) / "home")
            with MlpServe(Path(tmp) / "platform", env=env) as server:
                keys = read_default_keys(server.data_dir)
                model = Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk)
                registered = model.register(
                    str(EXAMPLE), model_name="iris", model_format="ONNX", model_type="ONNX:1.23"
                )
                service = model.deploy(registered["Result"]["ModelID"], "1", "iris", flavor="ml.c1i.large")
                assert service.wait_for("Running", "Failed", timeout=120, interval=0.1) == "Running"
                url = f"{service.last.result.service_deployment.endpoint_url}/v2/models/iris/infer"
                wait_up(url)
                measure({
                    "onnxruntime in-process": floor_caller(),
                    "plain Starlette app": http_caller(plain_url),
                    "endpoint, 1 replica": http_caller(url),
                })  # fmt: skip
                service.scale(3)
                assert service.wait_for("Running", "Failed", timeout=120, interval=0.1) == "Running"
                measure({"plain Starlette app (again)": http_caller(plain_url),
                         "endpoint, 3 replicas": http_caller(url)})  # fmt: skip
                service.delete()
    finally:
        plain.terminate()
        plain.wait()

    floor = results["onnxruntime in-process"]["1 client"]["p50"]
    plain_over = results["plain Starlette app"]["1 client"]["p50"] - floor
    end_over = results["endpoint, 1 replica"]["1 client"]["p50"] - floor
    ratio = end_over / plain_over
    print(
        f"per-request overhead above the floor (p50, 1 client): plain app {plain_over:.3f} ms, "
        f"endpoint {end_over:.3f} ms -> {ratio:.2f}x (target <= 1.3x): {'met' if ratio <= 1.3 else 'NOT met'}"
    )
    one = results["endpoint, 1 replica"]["8 clients"]["rps"]
    three = results["endpoint, 3 replicas"]["8 clients"]["rps"]
    plain_rps = results["plain Starlette app"]["8 clients"]["rps"]
    plain_again = results["plain Starlette app (again)"]["8 clients"]["rps"]
    print(
        f"8 clients: endpoint {one:.0f} req/s at 1 replica ({one / plain_rps:.2f}x the plain app), "
        f"{three:.0f} req/s at 3 replicas ({three / one:.2f}x the 1-replica figure; "
        f"{three / plain_again:.2f}x the plain app measured in the same rounds; "
        f"{os.cpu_count()} cores shared by client, proxy and replicas)"
    )


if __name__ == "__main__":
    main()

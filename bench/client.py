"""What the client costs, side by side in one run.

    python bench/client.py --quick            # small transfer folder (~64 MiB)
    python bench/client.py                    # 1 GiB transfer folder (one large file + 1,000 small ones)

1. Per-call time of ``Model().list_models()`` against ``mlp serve`` on loopback, versus a bare httpx POST
   of the same bytes with the same signer (the floor: HTTP, signing and the server). The difference is
   the ergonomic layer and the generated client: validation, request model, parsing, typed result.
2. Upload and download throughput of the transfer layer versus ``cp -r`` (folder store) and boto3's
   transfer manager (S3 store, same moto server): delegated to ``bench/transfer.py``.

Talks to 127.0.0.1 only and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from volcengine_ml_platform.auth import VolcSignerAuth
from volcengine_ml_platform.config import Credentials
from volcengine_ml_platform.models.model import Model

HERE = Path(__file__).resolve().parent
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLC", "MLP_"))}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "volcengine_ml_platform.cli",
            "serve",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.post(url + "/", timeout=1)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("mlp serve did not start")


def timed(fn: Callable[[], object], n: int, warmup: int) -> list[float]:
    for _ in range(warmup):
        fn()
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def summary(name: str, ms: list[float]) -> tuple[str, float, float, float]:
    ms = sorted(ms)
    return name, statistics.median(ms), ms[int(len(ms) * 0.99) - 1], statistics.fmean(ms)


def bench_list_models(requests: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        data_dir = Path(tmp) / "platform"
        proc, url = start_server(data_dir)
        try:
            keys = json.loads((data_dir / "credentials.json").read_text())
            model = Model(endpoint=url, access_key=keys["ak"], secret_key=keys["sk"])
            folder = Path(tmp) / "m"
            folder.mkdir()
            (folder / "w.bin").write_bytes(b"0" * 1024)
            for i in range(12):  # a full default page of 10
                model.register(
                    str(folder), model_name=f"bench-{i}", model_format="ONNX", model_type="ONNX:1.0"
                )

            # The bytes Model.list_models() sends, sent bare with the same signer.
            body = json.dumps(
                {"Offset": 0, "Limit": 10, "SortBy": "CreateTime", "SortOrder": "Descend"},
                separators=(",", ":"),
            ).encode()
            auth = VolcSignerAuth(Credentials(keys["ak"], keys["sk"]), region="cn-beijing")
            bare = httpx.Client(base_url=url, auth=auth)
            params = {"Action": "ListModels", "Version": "2021-07-01"}
            headers = {"Content-Type": "application/json"}

            def bare_call() -> object:
                r = bare.post("/", params=params, content=body, headers=headers)
                r.raise_for_status()
                return r.json()

            rounds: dict[str, list[float]] = {"Model().list_models()": [], "bare httpx POST": []}
            for _ in range(4):  # alternate, so drift hits both sides alike
                rounds["Model().list_models()"] += timed(model.list_models, requests // 4, 10)
                rounds["bare httpx POST"] += timed(bare_call, requests // 4, 10)
            rows = [summary(name, ms) for name, ms in rounds.items()]
            print(f"\nper-call time over {requests} calls each (mlp serve on loopback, one worker)")
            print(f"{'':26}{'p50 ms':>9}{'p99 ms':>9}{'mean ms':>9}")
            for name, p50, p99, mean in rows:
                print(f"{name:26}{p50:9.2f}{p99:9.2f}{mean:9.2f}")
            print(
                f"ratio Model/bare (p50): {rows[0][1] / rows[1][1]:.2f}x; "
                f"client-side overhead ~{rows[0][1] - rows[1][1]:.2f} ms per call"
            )
        finally:
            proc.terminate()
            proc.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="small transfer folder")
    parser.add_argument("--skip-transfer", action="store_true")
    args, rest = parser.parse_known_args()
    bench_list_models(args.requests)
    if args.skip_transfer:
        return 0
    print("\ntransfer throughput (bench/transfer.py)", flush=True)
    cmd = [sys.executable, str(HERE / "transfer.py"), *(["--quick"] if args.quick else []), *rest]
    return subprocess.call(cmd)


if __name__ == "__main__":
    raise SystemExit(main())

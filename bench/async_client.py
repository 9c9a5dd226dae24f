"""AsyncModel vs Model, side by side in one run, against ``mlp serve`` on loopback.

    python bench/async_client.py            # 200 GetModel calls per side, 4 rounds, alternating
    python bench/async_client.py --calls 80

1. Per-call time of ``await AsyncModel.get_model()`` vs ``Model.get_model()``, one at a time: what the
   asyncio path costs (or saves) per call.
2. Wall time of N calls issued at once with ``asyncio.gather`` on one event loop vs the same N calls
   made one after another with the synchronous ``Model``: what an asyncio app gains without threads.
   The server is one uvicorn worker, so the gain is bounded by how much of a call is waiting.
3. What writing each method once costs: ``Model.get_model()`` / ``AsyncModel.get_model()`` (the shared
   plan, run by its driver) vs the same GetModel sent straight through the session's ``call``.
4. The client's CPU per call (this process's CPU time; the server is another process), sync and async,
   one call at a time: what the sessions' httpx short path (``volcengine_ml_platform.http_client``)
   saves shows here. To compare two checkouts, run this script with each one's venv, alternating.

Talks to 127.0.0.1 only and stops by itself. Figures are noisy on a shared machine: read the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from client import start_server  # bench/client.py: mlp serve on a free port

from ml_platform_client.api.models import get_model
from ml_platform_client.models import ModelIDRequest
from volcengine_ml_platform.models.model import AsyncModel, Model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per side and round")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds of each measurement")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-async-") as tmp:
        data_dir = Path(tmp) / "platform"
        proc, url = start_server(data_dir)
        try:
            keys = json.loads((data_dir / "credentials.json").read_text())
            where = {"endpoint": url, "access_key": keys["ak"], "secret_key": keys["sk"]}
            model = Model(**where)
            folder = Path(tmp) / "m"
            folder.mkdir()
            (folder / "w.bin").write_bytes(b"0" * 1024)
            model_id = model.register(
                str(folder), model_name="bench", model_format="ONNX", model_type="ONNX:1.0"
            ).result.model_id
            asyncio.run(measure(model, AsyncModel(**where), model_id, args.calls, args.rounds))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


async def measure(model: Model, amodel: AsyncModel, model_id: str, calls: int, rounds: int) -> None:
    sync_ms: list[float] = []
    async_ms: list[float] = []
    sequential: list[float] = []
    gathered: list[float] = []
    for _ in range(10):  # warm both connections
        model.get_model(model_id)
        await amodel.get_model(model_id)
    for _ in range(rounds):  # alternate, so drift hits both sides alike
        t0 = time.perf_counter()
        for _ in range(calls):
            t = time.perf_counter()
            model.get_model(model_id)
            sync_ms.append((time.perf_counter() - t) * 1000)
        sequential.append(time.perf_counter() - t0)
        for _ in range(calls):
            t = time.perf_counter()
            await amodel.get_model(model_id)
            async_ms.append((time.perf_counter() - t) * 1000)
        t0 = time.perf_counter()
        await asyncio.gather(*(amodel.get_model(model_id) for _ in range(calls)))
        gathered.append(time.perf_counter() - t0)
    plan_ms: dict[str, list[float]] = {f"{s} {k}": [] for s in ("sync", "async") for k in ("plan", "direct")}
    body = {"ModelID": model_id}
    for _ in range(rounds):  # alternate, so drift hits both sides alike
        for _ in range(calls):
            t = time.perf_counter()
            model.get_model(model_id)
            plan_ms["sync plan"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            model.session.call(get_model, ModelIDRequest, body)
            plan_ms["sync direct"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await amodel.get_model(model_id)
            plan_ms["async plan"].append((time.perf_counter() - t) * 1000)
            t = time.perf_counter()
            await amodel.session.call(get_model, ModelIDRequest, body)
            plan_ms["async direct"].append((time.perf_counter() - t) * 1000)
    cpu_ms: dict[str, list[float]] = {"sync": [], "async": []}
    for _ in range(rounds):  # alternate, so drift hits both sides alike
        t = time.process_time()
        for _ in range(calls):
            model.get_model(model_id)
        cpu_ms["sync"].append((time.process_time() - t) * 1000 / calls)
        t = time.process_time()
        for _ in range(calls):
            await amodel.get_model(model_id)
        cpu_ms["async"].append((time.process_time() - t) * 1000 / calls)
    await amodel.aclose()
    p50 = {name: statistics.median(values) for name, values in plan_ms.items()}
    s50, a50 = statistics.median(sync_ms), statistics.median(async_ms)
    print(f"\nper-call GetModel, one at a time ({rounds * calls} calls each; mlp serve, one worker)")
    print(f"  Model.get_model()             p50 {s50:6.2f} ms")
    print(f"  await AsyncModel.get_model()  p50 {a50:6.2f} ms   ratio async/sync {a50 / s50:.2f}x")
    seq, gat = statistics.median(sequential), statistics.median(gathered)
    print(f"\n{calls} GetModel calls (median of {rounds} rounds)")
    print(f"  Model, one after another      {seq * 1000:8.1f} ms   ({calls / seq:7.0f} calls/s)")
    print(f"  AsyncModel, asyncio.gather    {gat * 1000:8.1f} ms   ({calls / gat:7.0f} calls/s)")
    print(f"  speed-up gather/sequential    {seq / gat:.2f}x")
    print(f"\nthe shared plans vs the session's call directly ({rounds * calls} interleaved calls each)")
    for side in ("sync", "async"):
        plan, direct = p50[f"{side} plan"], p50[f"{side} direct"]
        print(
            f"  {side:5} method p50 {plan:6.2f} ms   direct p50 {direct:6.2f} ms   ratio {plan / direct:.3f}x"
        )
    sync_cpu, async_cpu = statistics.median(cpu_ms["sync"]), statistics.median(cpu_ms["async"])
    print(f"\nclient CPU per GetModel, one at a time (median of {rounds} rounds of {calls})")
    print(f"  Model.get_model()             {sync_cpu:6.3f} ms")
    print(
        f"  await AsyncModel.get_model()  {async_cpu:6.3f} ms   ratio async/sync {async_cpu / sync_cpu:.2f}x"
    )


if __name__ == "__main__":
    main()

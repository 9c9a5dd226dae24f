"""A kept filter's warm ListModels pages in process (SQLite): what a page costs once the filter's first
request has kept its matches (``store/list_cache.py``).

    python bench/warm_pages.py                 # 3,000 models, 1,000 of them match, 1,000 rounds
    python bench/warm_pages.py --models 30000 --rounds 500

One account's models (every third named ``resnet-<k>``) are created through the store, the filter's
first request is made once, then each read is timed alone, alternately, ``--rounds`` times: CPU p50
(this process) with its ratio to the baseline read measured in the same rounds (GetModelNextVersion of
a model: one primary-key read). Made to compare two builds of the store (run it with each build's
interpreter, alternately).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlp_server
from mlp_server.store import Store, sqlite_url

ACCOUNT = 2100000050
NEEDLE = "resnet"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--models", type=int, default=3000, help="models of the account (a third match)")
    parser.add_argument("--rounds", type=int, default=1000, help="timed calls of each read")
    args = parser.parse_args()
    print(f"store: {Path(mlp_server.__file__).parents[2]}; load average {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory(prefix="mlp-bench-warm-") as work:
        store = Store(sqlite_url(Path(work) / "db.sqlite3"))
        try:
            info = {"ModelFormat": "ONNX", "ModelType": "ONNX:1.0"}
            first = ""
            for k in range(args.models):
                name = f"{NEEDLE}-{k}" if k % 3 == 0 else f"bert-{k}"
                body = {"ModelName": name, "VersionInfo": {**info, "Path": f"tos://b/{k}/"}}
                made: str = store.create_model(ACCOUNT, body)["ModelID"]
                first = first or made
            matches = len(range(0, args.models, 3))
            reads: dict[str, Callable[[], Any]] = {
                "baseline: GetModelNextVersion": lambda: store.get_model_next_version(
                    ACCOUNT, {"ModelID": first}
                ),
                "warm page, Offset 0": lambda: store.list_models(ACCOUNT, {"ModelNameContains": NEEDLE}),
                "warm page, the middle": lambda: store.list_models(
                    ACCOUNT, {"ModelNameContains": NEEDLE, "Offset": matches // 2}
                ),
                "warm page, Ascend, a fifth in": lambda: store.list_models(
                    ACCOUNT, {"ModelNameContains": NEEDLE, "Offset": matches // 5, "SortOrder": "Ascend"}
                ),
            }
            total = store.list_models(ACCOUNT, {"ModelNameContains": NEEDLE})["Total"]  # the first request
            print(f"  {args.models:,} models, {total:,} match {NEEDLE!r}", flush=True)
            cpu: dict[str, list[float]] = {name: [] for name in reads}
            for read in reads.values():
                read()
            for _ in range(args.rounds):
                for name, read in reads.items():
                    c0 = time.process_time()
                    read()
                    cpu[name].append(time.process_time() - c0)
            base = statistics.median(cpu["baseline: GetModelNextVersion"])
            for name, times in cpu.items():
                p50 = statistics.median(times)
                print(f"  {name:<32} CPU p50 {p50 * 1e3:6.3f} ms ({p50 / base:4.2f}x baseline)", flush=True)
        finally:
            store.close()


if __name__ == "__main__":
    main()

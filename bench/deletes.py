"""DeleteModelVersion's cost, in process: the store's transaction alone and the whole action (the
transaction, then the removal of the version's 2 small objects from the folder store).

    python bench/deletes.py                                     # this checkout, 2 rounds of 300 deletes
    python bench/deletes.py --baseline /tmp/base/server --rounds 3
    python bench/deletes.py --baseline /tmp/base/server --postgres     # PostgreSQL 15 instead of SQLite

With ``--baseline DIR`` (a ``server/`` folder of another checkout, e.g. ``git archive main server``),
each round runs a fresh process of each, alternating which goes first, and prints the ratio
this/baseline of the medians measured in the same run: the machine is a small shared VM, compare the
ratios, not the absolute figures. Each process registers ``--versions`` versions (4 models) on a fresh
SQLite data folder (group commit, ``synchronous=FULL``: every delete waits for its fsync; or a fresh
database of a throwaway PostgreSQL cluster with ``--postgres``), then deletes
half of them by the store call and half by the action, in random order.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def child(versions: int, database_url: str | None) -> dict[str, Any]:
    from mlp_server.context import Caller
    from mlp_server.handlers.models import create_model, delete_model_version
    from mlp_server.platform import DEFAULT_ACCOUNT_ID, open_platform
    from mlp_server.settings import ServerSettings

    with tempfile.TemporaryDirectory(prefix="bench-deletes-") as tmp:
        platform = open_platform(ServerSettings(data_dir=Path(tmp) / "platform", database_url=database_url))
        caller = Caller(DEFAULT_ACCOUNT_ID, 1, is_admin=True)
        bucket = platform.bucket_for(DEFAULT_ACCOUNT_ID)
        scratch = Path(tmp) / "file"
        scratch.write_bytes(b"x" * 100)
        ids: list[str] = []
        model_ids: list[str] = []
        for i in range(versions):
            prefix = f"mine/v{i:05d}/"
            for name in ("a.bin", "b.bin"):
                platform.objects.put_file(bucket, prefix + name, scratch)
            body: dict[str, Any] = {
                "VersionInfo": {
                    "Path": f"tos://{bucket}/{prefix}",
                    "ModelFormat": "ONNX",
                    "ModelType": "ONNX:1.10",
                }
            }
            if len(model_ids) < 4:
                body["ModelName"] = f"m{i}"
            else:
                body["ModelID"] = model_ids[i % 4]
            created = create_model(platform, caller, body)
            if len(model_ids) < 4:
                model_ids.append(created["ModelID"])
            ids.append(created["VersionInfo"]["ModelVersionID"])
        random.Random(7).shuffle(ids)
        store_ms: list[float] = []
        action_ms: list[float] = []
        for n, version_id in enumerate(ids):
            body = {"ModelVersionID": version_id}
            start = time.perf_counter()
            if n % 2:
                delete_model_version(platform, caller, body)
                action_ms.append((time.perf_counter() - start) * 1000)
            else:
                platform.store.delete_model_version_path(DEFAULT_ACCOUNT_ID, body)
                store_ms.append((time.perf_counter() - start) * 1000)
        platform.store.close()
    import mlp_server

    return {
        "code": str(Path(mlp_server.__file__).parent),
        "store_ms": statistics.median(store_ms),
        "action_ms": statistics.median(action_ms),
    }


def run(baseline: str | None, versions: int, database_url: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if baseline is not None:
        env["PYTHONPATH"] = baseline
    where = [] if database_url is None else ["--database-url", database_url]
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--versions", str(versions), *where],
        env=env, capture_output=True, text=True, check=True, timeout=600,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--versions", type=int, default=300, help="versions registered, then deleted, per run"
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--baseline", help="a server/ folder to compare with (run in alternation)")
    parser.add_argument(
        "--postgres",
        action="store_true",
        help="a throwaway PostgreSQL 15 cluster (tests/pg_testing.py), not SQLite",
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.versions, args.database_url)))
        return
    cluster = None
    if args.postgres:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from pg_testing import PgCluster

        cluster = PgCluster().start()
    try:
        compare(args, cluster)
    finally:
        if cluster is not None:
            cluster.stop()


def compare(args: argparse.Namespace, cluster: Any) -> None:
    sides: list[str | None] = [None] if args.baseline is None else [None, args.baseline]
    results: dict[str | None, list[dict[str, Any]]] = {side: [] for side in sides}
    for round_no in range(args.rounds):
        order = sides if round_no % 2 == 0 else sides[::-1]
        for side in order:
            url = None if cluster is None else cluster.database("deletes")  # a fresh one per run
            result = run(side, args.versions, url)
            results[side].append(result)
            label = "baseline" if side else "this"
            print(
                f"round {round_no + 1} {label:8s}: store transaction {result['store_ms']:.3f} ms, "
                f"whole action {result['action_ms']:.3f} ms (medians; {result['code']})"
            )
    for key, what in (("store_ms", "store transaction"), ("action_ms", "whole action")):
        mine = statistics.median(r[key] for r in results[None])
        line = f"{what}: this {mine:.3f} ms"
        if args.baseline is not None:
            base = statistics.median(r[key] for r in results[args.baseline])
            line += f", baseline {base:.3f} ms, ratio this/baseline {mine / base:.2f}"
        print(line)


if __name__ == "__main__":
    main()

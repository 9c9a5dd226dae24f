"""What creating a new model costs the store, in process: ``Store.create_model`` without ModelID.

    python bench/create_model_cost.py --seconds 4 --threads 1,8
    python bench/create_model_cost.py --postgres    # on a throwaway PostgreSQL 15 cluster
    python bench/create_model_cost.py --postgres --versions   # new versions of one model instead

With ``--versions`` every thread registers new versions of one model they all share (CreateModel with
ModelID: the threads race for the model row's number), and the run also says whether the model kept
its CreateTime order flag (``models.last_version_time``, :mod:`mlp_server.store.version_positions`).

Each run is a fresh store (SQLite file with group commit and ``synchronous=FULL``, or a fresh PostgreSQL
database); prints new models/s and CPU ms per create for 1 and N threads. Made to compare two builds
of the store (run it with each build's interpreter, alternately, and compare the ratios): the figures
alone depend on the machine's load. Talks to no network but the loopback cluster; stops by itself.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

import threaded_writes
from sqlalchemy import text

from mlp_server.store import Store, sqlite_url

ACCOUNT = 2100000050


def rate(
    url: str, threads: int, seconds: float, prefix: str = "m", versions: bool = False
) -> tuple[float, float, str]:
    """(creates/s, CPU ms per create, what became of the order flag) from ``threads`` threads."""
    store = Store(url)
    try:
        info = {"ModelFormat": "ONNX", "ModelType": "ONNX:1.0"}
        shared: dict[str, str] = {}
        if versions:
            first = {"ModelName": prefix, "VersionInfo": {**info, "Path": f"tos://b/{uuid.uuid4().hex}/"}}
            shared["ModelID"] = store.create_model(ACCOUNT, first)["ModelID"]

        def write(index: int, k: int) -> None:
            body = {
                **shared,
                "ModelName": f"{prefix}-{index}-{k}",
                "VersionInfo": {**info, "Path": f"tos://b/{uuid.uuid4().hex}/"},
            }
            store.create_model(ACCOUNT, body)

        got = threaded_writes.run(threads, seconds, write)
        flag = ""
        if versions:
            with store.engine.connect() as conn:
                kept = conn.execute(
                    text("SELECT last_version_time FROM models WHERE id = :m"), {"m": shared["ModelID"]}
                ).scalar_one()
            flag = f"; CreateTime order flag {'kept' if kept is not None else 'lost'}"
    finally:
        store.close()
    return got.per_second, got.cpu_ms, flag


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run")
    parser.add_argument("--threads", default="1,8", help="comma-separated thread counts")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL 15 cluster")
    parser.add_argument(
        "--name-prefix",
        default="m",
        help="each new model's name is PREFIX-thread-n (what a name costs: e.g. search-ctr-resnet50-v12)",
    )
    parser.add_argument(
        "--versions",
        action="store_true",
        help="register new versions of one model all threads share, not new models",
    )
    args = parser.parse_args()
    import mlp_server

    print(f"store: {Path(mlp_server.__file__).parents[2]}; load average {os.getloadavg()}", flush=True)
    cluster = None
    with tempfile.TemporaryDirectory(prefix="mlp-bench-create-") as work:
        try:
            if args.postgres:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
                from pg_testing import PgCluster

                cluster = PgCluster().start()
            for threads in (int(t) for t in args.threads.split(",")):
                if cluster is not None:
                    url = cluster.database(f"bench{uuid.uuid4().hex[:8]}")
                else:
                    url = sqlite_url(Path(work) / f"{uuid.uuid4().hex[:8]}.sqlite3")
                per_second, cpu_ms, flag = rate(url, threads, args.seconds, args.name_prefix, args.versions)
                what = "new versions" if args.versions else "new models"
                print(
                    f"{threads} thread(s): {per_second:,.0f} {what}/s, {cpu_ms:.2f} ms CPU each{flag}",
                    flush=True,
                )
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()

"""What a model's number of versions costs its reads: GetModel, ListModels and ListModelVersions, in process.

    python bench/version_stats.py --versions 3000,100000
    python bench/version_stats.py --versions 100000 --postgres   # on a throwaway PostgreSQL 15 cluster
    python bench/version_stats.py --versions 100000 --times-back # create times not in the numbers' order

Each size is a fresh store holding one model with that many versions (1 number in 50 missing, as a
registry's history has deleted versions: 2,000 gaps at 100,000) beside 9 models of 3 versions each, so
that ListModels' default page shows them all. The versions are bulk-loaded, their create times following
their numbers (``--times-back``: all before version 1's, so that a CreateTime page cannot be found from
the numbers and walks its index), and the store's bookkeeping recounted (``model_index.recount``), as
``bench/server_list.py`` does. The reads: GetModel, GetModelVersion, ListModels' default page, and pages of
ListModelVersions at both ends, the middle (in both sorts) and a third of the way in ascending order.
Then each read is timed alone, alternately, ``--rounds`` times: p50 of the CPU (this process) and of the
wall time per call (on PostgreSQL the database's own work is in the wall time only), each with its
ratio to the baseline read measured in the same rounds (GetModelNextVersion: one primary-key read of
the same model, whose cost does not grow with versions).
Made to compare two builds of the store (run it with each build's interpreter, alternately).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, text

from mlp_server.store import Store, model_index, sqlite_url
from mlp_server.store.schema import VersionRow

ACCOUNT = 2100000050
SMALL_MODELS = 9
BATCH = 10_000


def fill(store: Store, versions: int, vacuum: bool = False, times_back: bool = False) -> str:
    """The big model (its id) with ``versions`` versions, 1 in 50 deleted, and the small models."""
    info = {"ModelFormat": "ONNX", "ModelType": "ONNX:1.0"}
    big = store.create_model(ACCOUNT, {"ModelName": "big", "VersionInfo": {**info, "Path": "tos://b/big/1/"}})
    big_id: str = big["ModelID"]
    # The history's create times follow its numbers, as registrations write them (``--times-back``: the
    # bulk-loaded versions predate version 1, so CreateTime is not the numbers' order).
    start = datetime(2026, 1, 1, tzinfo=UTC) if times_back else datetime.now(UTC) + timedelta(seconds=1)
    table = cast(Table, VersionRow.__table__)
    numbers = [n for n in range(2, versions + versions // 40 + 2) if n % 50]
    numbers = numbers[: versions - 1]
    with store.engine.begin() as conn:
        for i in range(0, len(numbers), BATCH):
            rows: list[dict[str, Any]] = [
                {
                    "id": f"{big_id}-{n}",
                    "model_id": big_id,
                    "account_id": ACCOUNT,
                    "version": n,
                    "model_format": "ONNX",
                    "model_type": "ONNX:1.0",
                    "path": f"tos://b/big/{n}/",
                    "source_type": "TOS",
                    "description": "",
                    "create_time": start + timedelta(seconds=n),
                }
                for n in numbers[i : i + BATCH]
            ]
            conn.execute(table.insert(), rows)
        conn.execute(
            text("UPDATE models SET next_version = :n WHERE id = :m"), {"n": numbers[-1] + 1, "m": big_id}
        )
        model_index.recount(conn)
    for k in range(SMALL_MODELS):
        made = store.create_model(
            ACCOUNT, {"ModelName": f"small-{k}", "VersionInfo": {**info, "Path": f"tos://b/s{k}/1/"}}
        )
        for n in (2, 3):
            body = {"ModelID": made["ModelID"], "VersionInfo": {**info, "Path": f"tos://b/s{k}/{n}/"}}
            store.create_model(ACCOUNT, body)
    if store.engine.dialect.name == "sqlite":
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    elif vacuum:
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) model_versions")
    return big_id


def measure(store: Store, big_id: str, versions: int, rounds: int) -> None:
    reads: dict[str, Callable[[], Any]] = {
        "baseline: GetModelNextVersion": lambda: store.get_model_next_version(ACCOUNT, {"ModelID": big_id}),
        "GetModel": lambda: store.get_model(ACCOUNT, {"ModelID": big_id}),
        "GetModelVersion": lambda: store.get_model_version(ACCOUNT, {"ModelVersionID": f"{big_id}-2"}),
        "ListModels default page": lambda: store.list_models(ACCOUNT, {}),
        "ListModelVersions default page": lambda: store.list_model_versions(ACCOUNT, {"ModelID": big_id}),
        "ListModelVersions Offset n/2": lambda: store.list_model_versions(
            ACCOUNT, {"ModelID": big_id, "Offset": versions // 2}
        ),
        "ListModelVersions by ModelVersion, Offset n/2": lambda: store.list_model_versions(
            ACCOUNT, {"ModelID": big_id, "Offset": versions // 2, "SortBy": "ModelVersion"}
        ),
        "ListModelVersions Ascend, Offset n/3": lambda: store.list_model_versions(
            ACCOUNT, {"ModelID": big_id, "Offset": versions // 3, "SortOrder": "Ascend"}
        ),
        "ListModelVersions last page": lambda: store.list_model_versions(
            ACCOUNT, {"ModelID": big_id, "Offset": versions - 10}
        ),
        "ListModelVersions by ModelVersion, last page": lambda: store.list_model_versions(
            ACCOUNT, {"ModelID": big_id, "Offset": versions - 10, "SortBy": "ModelVersion"}
        ),
    }
    # The answers' sizes once, so that a build that answers differently shows it.
    got = store.get_model(ACCOUNT, {"ModelID": big_id})
    listed = store.list_model_versions(ACCOUNT, {"ModelID": big_id, "Offset": versions - 10})
    last = [v["ModelVersion"] for v in listed["List"]]
    print(
        f"  GetModel: {got['ModelVersionsCount']} versions, latest {got['LatestVersion']}; "
        f"last page Total {listed['Total']}, versions {last[0]}..{last[-1]}",
        flush=True,
    )
    cpu: dict[str, list[float]] = {name: [] for name in reads}
    wall: dict[str, list[float]] = {name: [] for name in reads}
    for read in reads.values():
        read()  # warm: statement caches, pages
    for _ in range(rounds):
        for name, read in reads.items():
            c0, w0 = time.process_time(), time.perf_counter()
            read()
            cpu[name].append(time.process_time() - c0)
            wall[name].append(time.perf_counter() - w0)
    baseline = "baseline: GetModelNextVersion"
    base_cpu, base_wall = statistics.median(cpu[baseline]), statistics.median(wall[baseline])
    for name in reads:
        p50_cpu, p50_wall = statistics.median(cpu[name]), statistics.median(wall[name])
        print(
            f"  {name:<47} CPU {p50_cpu * 1e3:7.3f} ms ({p50_cpu / base_cpu:5.2f}x)"
            f"  wall {p50_wall * 1e3:7.3f} ms ({p50_wall / base_wall:5.2f}x baseline)",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--versions", default="3000,100000", help="comma-separated version counts")
    parser.add_argument("--rounds", type=int, default=200, help="timed calls of each read per size")
    parser.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL 15 cluster")
    parser.add_argument(
        "--vacuum",
        action="store_true",
        help="PostgreSQL: VACUUM (ANALYZE) the versions after the bulk load (sets the visibility map that "
        "index-only scans need; autovacuum does it in time)",
    )
    parser.add_argument(
        "--times-back",
        action="store_true",
        help="the bulk-loaded versions' create times predate version 1's (CreateTime is then not the "
        "numbers' order: the CreateTime pages walk their index, as before version_positions)",
    )
    args = parser.parse_args()
    import mlp_server

    print(f"store: {Path(mlp_server.__file__).parents[2]}; load average {os.getloadavg()}", flush=True)
    cluster = None
    with tempfile.TemporaryDirectory(prefix="mlp-bench-versions-") as work:
        try:
            if args.postgres:
                sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
                from pg_testing import PgCluster

                cluster = PgCluster().start()
            for versions in (int(v) for v in args.versions.split(",")):
                if cluster is not None:
                    url = cluster.database(f"bench{uuid.uuid4().hex[:8]}")
                else:
                    url = sqlite_url(Path(work) / f"{uuid.uuid4().hex[:8]}.sqlite3")
                store = Store(url)
                try:
                    t0 = time.perf_counter()
                    big_id = fill(store, versions, args.vacuum, args.times_back)
                    print(f"{versions:,} versions (filled in {time.perf_counter() - t0:.1f} s):", flush=True)
                    measure(store, big_id, versions, args.rounds)
                finally:
                    store.close()
        finally:
            if cluster is not None:
                cluster.stop()


if __name__ == "__main__":
    main()

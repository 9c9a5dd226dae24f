"""A filter's first-ever ListModels, in process: ``Store.list_models`` with an empty list cache.

Steadier than over HTTP (no client, no event loop): each filtered list is computed afresh, its list
cache emptied before every request, round robin over the cases, beside a baseline measured between
them (the unfiltered default page, which reads counters and 10 rows). Point it at a SQLite data folder
that ``bench/server_list.py --reuse DIR`` filled (it reads ``DIR/fill.json``); run it with another
build's interpreter to compare builds on copies of the same store, alternately:

    python bench/first_ever.py --reuse /tmp/copy-a --rounds 5
    /other/tree/.venv/bin/python bench/first_ever.py --reuse /tmp/copy-b --rounds 5

On PostgreSQL, ``--database-url`` names the filled database (``--reuse`` then only holds its
``fill.json``); copy it per build with ``CREATE DATABASE copy TEMPLATE filled``.

The store is migrated at open (``upgrade=True``): use a copy per build.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_server.store import Store, sqlite_url
from mlp_server.store.list_cache import ListCache


def cases(fill: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    name_part, id_part = fill["name_part"], fill["id_part"]
    half = max(0, int(fill["name_part_models"]) // 2)
    return [
        ("baseline: default page, no filter", {}),
        (f"NameContains {name_part!r}", {"ModelNameContains": name_part}),
        (
            f"NameContains {name_part!r}, ModelName Asc",
            {"ModelNameContains": name_part, "SortBy": "ModelName", "SortOrder": "Ascend"},
        ),
        (f"NameContains {name_part!r}, Offset {half:,}", {"ModelNameContains": name_part, "Offset": half}),
        (
            f"NameContains {name_part!r}, Asc, Offset {half:,}",
            {"ModelNameContains": name_part, "Offset": half, "SortOrder": "Ascend"},
        ),
        (f"IdContains {id_part!r}", {"IdContains": id_part}),
        (f"IdContains {id_part!r}, Offset 20,000", {"IdContains": id_part, "Offset": 20_000}),
        ("NameContains + IdContains", {"ModelNameContains": name_part, "IdContains": id_part}),
        ("NameContains, no match", {"ModelNameContains": "zqxj"}),
        (f"IdContains {fill['sparse_id_part']!r}", {"IdContains": fill["sparse_id_part"]}),
        ("NameContains 'ne'", {"ModelNameContains": "ne"}),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", type=Path, required=True, help="a data folder bench/server_list.py filled")
    parser.add_argument("--rounds", type=int, default=5, help="measured rounds (each case once a round)")
    parser.add_argument("--warmup", type=int, default=1, help="rounds run first and not measured")
    parser.add_argument(
        "--database-url",
        default=None,
        help="SQLAlchemy URL of the filled store (default: the SQLite file in --reuse's data folder)",
    )
    args = parser.parse_args()
    fill = json.loads((args.reuse / "fill.json").read_text())["fill"]
    url = args.database_url or sqlite_url(args.reuse / "data" / "mlp.sqlite3")
    store = Store(url, upgrade=True)
    probes = cases(fill)
    samples: dict[str, list[float]] = {label: [] for label, _ in probes}
    totals: dict[str, int] = {}

    def run(label: str, body: dict[str, Any], record: Callable[[float], None] | None) -> None:
        store.__dict__["_model_lists"] = ListCache()  # the filter's first-ever request
        t0 = time.perf_counter()
        result = store.list_models(DEFAULT_ACCOUNT_ID, body)
        elapsed = time.perf_counter() - t0
        totals[label] = result["Total"]
        if record is not None:
            record(elapsed)

    for round_ in range(args.warmup + args.rounds):
        for label, body in probes:
            run(label, body, samples[label].append if round_ >= args.warmup else None)
    import mlp_server

    database = url.split("://")[0]
    print(f"build: {Path(mlp_server.__file__).parents[2]}; {database}; load average {os.getloadavg()}")
    base = statistics.median(samples[probes[0][0]])
    print(f"{'case':45s} {'Total':>8s} {'p50 ms':>8s} {'min ms':>8s} {'max ms':>8s} {'x base p50':>10s}")
    for label, _ in probes:
        values = samples[label]
        p50 = statistics.median(values)
        print(
            f"{label:45s} {totals[label]:>8,} {p50 * 1e3:8.1f} {min(values) * 1e3:8.1f} "
            f"{max(values) * 1e3:8.1f} {p50 / base:10.1f}"
        )


if __name__ == "__main__":
    main()

"""The cost of PostgreSQL's pool pre-ping (``pool_pre_ping=True`` in ``store/engine.py``), side by side.

    python bench/pool_pre_ping.py        # on a throwaway PostgreSQL 15 cluster (tests/pg_testing.py)
    python bench/pool_pre_ping.py --rounds 6 --requests 500
    python bench/pool_pre_ping.py --database-url postgresql+psycopg://...

Two stores on one database, the same but for the ping (the shipped engine, and the same engine with
its pool's pre-ping turned off). Each round runs ``--requests`` GetModel calls (in process: the read a
request does, one pooled connection checked out per call) on each store, the order alternating round
by round, so that load from other processes falls on both alike. Prints p50/p99 per store over all
rounds, the p50 difference (the ping's cost per checkout), and per-round ratios.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6, help="interleaved rounds per store")
    parser.add_argument("--requests", type=int, default=500, help="GetModel calls per store and round")
    parser.add_argument("--database-url", help="an existing PostgreSQL database (else a throwaway cluster)")
    args = parser.parse_args()

    from server_store.helpers import ACCOUNT, register

    from mlp_server.store import Store

    with ExitStack() as stack:
        url = args.database_url
        if url is None:
            from pg_testing import PgCluster

            url = stack.enter_context(PgCluster()).database("prepring")
        pinged = Store(url)
        stack.callback(pinged.close)
        plain = Store(url)
        stack.callback(plain.close)
        assert pinged.engine.pool._pre_ping, "the shipped engine pre-pings"
        plain.engine.pool._pre_ping = False
        model_id, _ = register(pinged, Path="tos://bucket/bench/prepring/")
        body = {"ModelID": model_id}
        targets = {"pre-ping (shipped)": pinged, "no pre-ping": plain}
        times: dict[str, list[float]] = {name: [] for name in targets}
        per_round: list[float] = []
        for store in targets.values():  # warm-up: pools filled, statements cached
            for _ in range(50):
                store.get_model(ACCOUNT, body)
        for n in range(args.rounds):
            order = list(targets.items()) if n % 2 == 0 else list(reversed(targets.items()))
            medians = {}
            for name, store in order:
                taken = []
                for _ in range(args.requests):
                    start = time.perf_counter()
                    store.get_model(ACCOUNT, body)
                    taken.append(time.perf_counter() - start)
                times[name].extend(taken)
                medians[name] = statistics.median(taken)
            per_round.append(medians["pre-ping (shipped)"] / medians["no pre-ping"])
        print(f"GetModel in process on PostgreSQL, {args.rounds} rounds x {args.requests} per store")
        for name, taken in times.items():
            taken.sort()
            p50, p99 = taken[len(taken) // 2], taken[int(len(taken) * 0.99)]
            print(f"  {name:20s} p50 {p50 * 1e3:.3f} ms  p99 {p99 * 1e3:.3f} ms")
        a, b = (statistics.median(times[k]) for k in targets)
        print(f"  pre-ping costs {(a - b) * 1e6:+.0f} us per checkout at p50 ({a / b:.2f}x)")
        print("  per-round p50 ratios (pre-ping / none): " + ", ".join(f"{r:.2f}" for r in per_round))


if __name__ == "__main__":
    main()

"""What a client for a plain-http platform (``mlp serve``, the embedded one) pays for TLS it never uses.

    python bench/plain_http_trust.py                 # 20 constructions per side, 5 rounds, interleaved
    python bench/plain_http_trust.py --count 50 --rounds 7
    python bench/plain_http_trust.py --compare-python /work/main/.venv/bin/python   # another build too

With ``REQUESTS_CA_BUNDLE`` set (certifi's bundle here, as many environments set it), each side
builds ``Model`` or ``AsyncModel`` for ``http://127.0.0.1:9`` (nothing is sent) in a fresh
interpreter and reports milliseconds per construction; ``Model`` is the baseline, measured in the
same run. A client that loads the trust store for http pays its parsing at every construction.
Figures are noisy on a shared machine: read the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

import certifi

CHILD = """
import sys, time
from volcengine_ml_platform.models.model import {cls}
def make():
    return {cls}(endpoint="http://127.0.0.1:9", access_key="AK", secret_key="SK")
make()  # imports and first-use work out of the timing
count = int(sys.argv[1])
start = time.perf_counter()
for _ in range(count):
    make()
print((time.perf_counter() - start) / count * 1000)
"""


def per_construction(cls: str, count: int, python: str = sys.executable) -> float:
    env = {**os.environ, "REQUESTS_CA_BUNDLE": certifi.where()}
    out = subprocess.run(
        [python, "-c", CHILD.format(cls=cls), str(count)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    ).stdout
    return float(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20, help="constructions per side and round")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument(
        "--compare-python", help="the interpreter of another build (its venv's python), measured interleaved"
    )
    args = parser.parse_args()
    sync: list[float] = []
    asynchronous: list[float] = []
    other: list[float] = []
    for i in range(args.rounds):
        sync.append(per_construction("Model", args.count))
        asynchronous.append(per_construction("AsyncModel", args.count))
        line = f"round {i + 1}: Model {sync[-1]:.2f} ms, AsyncModel {asynchronous[-1]:.2f} ms"
        if args.compare_python:
            other.append(per_construction("AsyncModel", args.count, args.compare_python))
            line += f", the other build's AsyncModel {other[-1]:.2f} ms"
        print(line)
    base, tried = statistics.median(sync), statistics.median(asynchronous)
    print(f"median per construction: Model {base:.2f} ms (baseline), AsyncModel {tried:.2f} ms")
    print(f"AsyncModel / Model: {tried / base:.2f}x (the AsyncModel also builds a Model's session inside)")
    if other:
        theirs = statistics.median(other)
        ratios = f"{theirs / base:.2f}x Model, {theirs / tried:.1f}x ours"
        print(f"the other build's AsyncModel: {theirs:.2f} ms, {ratios}")
    print(f"load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""What refusing duplicated JSON keys costs a request body's parse.

    python bench/json_keys.py                  # 7 interleaved rounds
    python bench/json_keys.py --rounds 3 --quick

The platform parses every request body once with ``mlp_server.json_keys.loads``
(``json.loads`` with an ``object_pairs_hook`` that checks each object's keys are unique). This
compares it, in one process and in interleaved rounds (alternating order), with the plain
``json.loads`` it replaced, on bodies of the API's shapes:

- ``{}`` (most reads), a ListModels filter, a CreateModel with 20 tags and a TensorConfig;
- a 1 MiB CreateModel whose TensorConfig holds 4,000 objects (many small objects: the hook's worst case);
- a KServe v2 predict request of 100,000 numbers (the replica's parse: one object per tensor).

Prints the median per-parse time of each and the ratio new/plain, per body. Also ``parse_body``
(the whole policy: parse, then the walk for NaN, surrogates, NUL and depth) with the new parse, so
that the check's share of a body's whole handling shows. Only ratios within one run mean anything.
"""

from __future__ import annotations

import argparse
import functools
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from mlp_server.json_keys import loads
from mlp_server.json_policy import _NonFinite, parse_body


def bodies() -> dict[str, bytes]:
    tags = [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(20)]
    tensor = {"TensorName": "input", "Shape": [1, 3, 224, 224], "DType": "FLOAT"}
    info = {
        "ModelFormat": "ONNX",
        "ModelType": "ONNX:1.23",
        "Path": "tos://bucket/prefix/",
        "Description": "a model",
        "ModelTags": tags,
        "TensorConfig": {"Inputs": [tensor], "Outputs": [tensor]},
    }
    many = [{**tensor, "TensorName": f"t{i}"} for i in range(4000)]
    big = {**info, "TensorConfig": {"Inputs": many[:2000], "Outputs": many[2000:]}}
    predict = {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 100_000], "data": [0.5] * 100_000}]}
    return {
        "{}": b"{}",
        "ListModels filter": json.dumps(
            {"ModelNameContains": "resnet", "Limit": 20, "SortBy": "CreateTime"}
        ).encode(),
        "CreateModel, 20 tags": json.dumps({"ModelName": "resnet", "VersionInfo": info}).encode(),
        "CreateModel, 4,000 objects": json.dumps({"ModelName": "big", "VersionInfo": big}).encode(),
        "predict, 100,000 numbers": json.dumps(predict).encode(),
    }


def per_call(fn: Callable[[], Any], budget: float) -> float:
    """Seconds per call: calls repeated until ``budget`` seconds have passed."""
    n, start = 0, time.perf_counter()
    while True:
        fn()
        n += 1
        elapsed = time.perf_counter() - start
        if elapsed >= budget:
            return elapsed / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds")
    parser.add_argument("--quick", action="store_true", help="0.05 s per measurement instead of 0.2 s")
    args = parser.parse_args()
    budget = 0.05 if args.quick else 0.2
    print(f"{'body':28} {'bytes':>9} {'json.loads':>12} {'unique keys':>12} {'ratio':>6} {'parse_body':>12}")
    for name, raw in bodies().items():
        text = raw.decode()
        targets: dict[str, Callable[[], Any]] = {
            "plain": functools.partial(json.loads, text, parse_constant=_NonFinite),
            "unique": functools.partial(loads, text, parse_constant=_NonFinite),
            "policy": functools.partial(parse_body, raw),
        }
        times: dict[str, list[float]] = {k: [] for k in targets}
        for r in range(args.rounds):
            order = list(targets) if r % 2 == 0 else list(reversed(targets))
            for key in order:
                times[key].append(per_call(targets[key], budget))
        plain, unique, policy = (statistics.median(times[k]) for k in ("plain", "unique", "policy"))
        print(
            f"{name:28} {len(raw):>9,} {plain * 1e6:>10.2f}us {unique * 1e6:>10.2f}us "
            f"{unique / plain:>6.2f} {policy * 1e6:>10.2f}us"
        )


if __name__ == "__main__":
    main()

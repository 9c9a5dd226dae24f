"""What the range check of request tensors costs a replica: ``decode_input`` of a JSON tensor with the
check (refusing values the datatype cannot hold) beside the same call with the check skipped.

    python bench/tensor_ranges.py                    # 1M values per tensor, 7 rounds
    python bench/tensor_ranges.py --values 100000 --rounds 5

Rounds interleave the two variants (alternating order) per datatype; prints the p50 of each and the
ratio, and the check's own time (best of 5 per round, p50) against an unchecked decode: on a loaded
machine the whole-call ratio is noisy, the check alone is not. The baseline also parses the JSON lists
(``np.asarray``), which is what a request costs anyway.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from mlp_server.serving import tensors

CASES = {"UINT8": 200, "INT32": 2**30, "FP16": 60000.0, "FP32": 1e30}


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--values", type=int, default=1_000_000, help="values per tensor")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per variant")
    args = parser.parse_args()
    checked = tensors._check_range
    rng = np.random.default_rng(1)
    print(f"{args.values} values per tensor, {args.rounds} rounds; ms p50 (checked / unchecked)")
    for datatype, top in CASES.items():
        spec = tensors.TensorSpec("x", datatype, (-1, args.values))
        data = (rng.random(args.values) * top).astype(int if datatype[:2] in ("IN", "UI") else float).tolist()
        body = {"datatype": datatype, "shape": [1, args.values], "data": [data]}
        raw = np.asarray(body["data"])
        array = raw.astype(tensors.numpy_dtype(datatype))
        times: dict[str, list[float]] = {"checked": [], "unchecked": [], "check alone": []}
        for round_ in range(args.rounds):
            order = ["checked", "unchecked"] if round_ % 2 == 0 else ["unchecked", "checked"]
            for variant in order:
                tensors._check_range = checked if variant == "checked" else (lambda *a: None)
                times[variant].append(timed(partial(tensors.decode_input, spec, body, None)))
            tensors._check_range = checked
            times["check alone"].append(min(timed(partial(checked, spec, raw, array)) for _ in range(5)))
        on, off, alone = (statistics.median(times[v]) * 1000 for v in ("checked", "unchecked", "check alone"))
        print(
            f"{datatype:6} {on:8.2f} / {off:8.2f} ms   ratio {on / off:.3f}   "
            f"the check alone {alone:.3f} ms ({alone / off:.1%} of a decode)"
        )


if __name__ == "__main__":
    main()

"""What a new ``Model()`` per call costs on the embedded platform, beside one kept Model, in one run.

    python bench/model_per_call.py                   # 5 interleaved rounds of 40 calls per way
    python bench/model_per_call.py --rounds 3 --calls 20 --call missing

Each call is one request the platform's quick reads leave to the full platform: ``--call perf`` (the
default) is ``list_perf_jobs(model_id, "1")`` (ListPerfJobs: no quick read), ``--call missing`` is
``get_model`` of a model that does not exist (the quick reads decline errors; NotFoundError). Three
ways, interleaved round by round on one data folder:

- ``kept``: one Model made before the round, every call on it (the baseline: what the README advises);
- ``per call, linger``: ``with Model() as m: <call>`` per call, ``MLP_EMBEDDED_LINGER`` at its
  default: the platform the last Model left lingers, and the next Model takes it up;
- ``per call, linger 0``: the same with ``MLP_EMBEDDED_LINGER=0``, i.e. release 0.9's behaviour: the
  platform is closed with each Model and opened again by the next.

Before each way's round every lingering platform is closed (``embedded.close_idle()``), so the first
call of a round pays the open in each way. Printed: the median over the rounds of the mean wall and CPU
(this process: user + system, all its threads) milliseconds per call, and each way's ratio to ``kept``.
Runs in this process; makes and removes one temporary data folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from volcengine_ml_platform import embedded
from volcengine_ml_platform.errors import NotFoundError
from volcengine_ml_platform.models.model import Model

ROOT = Path(__file__).resolve().parent.parent

EXAMPLE = ROOT / "examples" / "iris-onnx"
MISSING = "m-20210812070750-nones"


def _caller(kind: str, model_id: str) -> Callable[[Model], None]:
    def perf(model: Model) -> None:
        model.list_perf_jobs(model_id, "1")

    def missing(model: Model) -> None:
        try:
            model.get_model(MISSING)
        except NotFoundError:
            return
        raise AssertionError(f"{MISSING} was found")

    return perf if kind == "perf" else missing


def _timed(calls: int, one: Callable[[], None]) -> tuple[float, float]:
    """Mean wall and CPU milliseconds of ``calls`` calls of ``one``."""
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        one()
    return (
        (time.perf_counter() - wall) * 1000 / calls,
        (time.process_time() - cpu) * 1000 / calls,
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=40, help="calls per way per round")
    parser.add_argument("--call", choices=["perf", "missing"], default="perf")
    args = parser.parse_args()

    os.environ.pop(embedded.LINGER_ENV, None)
    tmp = Path(tempfile.mkdtemp(prefix="mlp-bench-per-call-"))
    try:
        folder = tmp / "data"
        with Model(data_dir=folder) as model:
            created = model.register(
                str(EXAMPLE), model_name="iris", model_format="ONNX", model_type="ONNX:1.23"
            )
        call = _caller(args.call, created.result.model_id)

        def kept() -> tuple[float, float]:
            with Model(data_dir=folder) as model:
                call(model)  # opened before the round: the baseline pays no open
                return _timed(args.calls, lambda: call(model))

        def per_call(linger: str | None) -> Callable[[], tuple[float, float]]:
            def way() -> tuple[float, float]:
                if linger is None:
                    os.environ.pop(embedded.LINGER_ENV, None)
                else:
                    os.environ[embedded.LINGER_ENV] = linger

                def one() -> None:
                    with Model(data_dir=folder) as model:
                        call(model)

                try:
                    return _timed(args.calls, one)
                finally:
                    os.environ.pop(embedded.LINGER_ENV, None)

            return way

        ways: dict[str, Callable[[], tuple[float, float]]] = {
            "kept (baseline)": kept,
            f"per call, linger {embedded.DEFAULT_LINGER:g} s (default)": per_call(None),
            "per call, linger 0 (0.9)": per_call("0"),
        }
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
        for _ in range(args.rounds):
            for name, way in ways.items():
                embedded.close_idle()
                results[name].append(way())
        embedded.close_idle()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    load = os.getloadavg()
    print(
        f"{args.call}: {args.rounds} rounds x {args.calls} calls per way; "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(f"{'way':<34} {'wall ms/call':>12} {'CPU ms/call':>12} {'x kept (wall)':>14} {'x kept (CPU)':>13}")
    base_wall = statistics.median(w for w, _ in results["kept (baseline)"])
    base_cpu = statistics.median(c for _, c in results["kept (baseline)"])
    for name, figures in results.items():
        wall = statistics.median(w for w, _ in figures)
        cpu = statistics.median(c for _, c in figures)
        print(f"{name:<34} {wall:>12.2f} {cpu:>12.2f} {wall / base_wall:>13.2f}x {cpu / base_cpu:>12.2f}x")


if __name__ == "__main__":
    main()

"""A CONVERT_PERF task's conversion and its check, run in a process of its own
(``python -m mlp_server.workers.conversion REQUEST RESULT``).

Peak memory is read from the runner's own high-water mark (``ru_maxrss``), which nothing lowers: had
the runner loaded the source model and converted it, the converted version's PeakMemoryMiB would
count the source and the conversion too. Here the child loads the source, converts, checks the
converted graph's precision and compares both models' outputs on the task's inputs; the runner then
loads only the converted model, so its figure is the one a PERF_ONLY task of that version records.
The child is in the runner's process group (a cancel's kill reaches it) and exits if the runner dies.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from ..procs import PARENT_PID_ENV, describe_exit, watch_parent
from .errors import TaskError

MODULE = "mlp_server.workers.conversion"


def convert_apart(
    source: Path, target: Path, precision: str, config: Any, threads: int, provider: str, work: Path
) -> dict[str, Any]:
    """Convert ``source`` to ``precision`` at ``target`` and check it, in a child process; returns the
    check (the task Result's ``Check``) or raises the child's TaskError. ``work``: a folder for the
    child's request, answer and log (not ``target``'s, which becomes the registered version)."""
    request, result, log = work / "conversion.json", work / "conversion-result.json", work / "conversion.log"
    request.write_text(
        json.dumps(
            {
                "Source": str(source),
                "Target": str(target),
                "Precision": precision,
                "TensorConfig": config,
                "Threads": threads,
                "Provider": provider,
            }
        ),
        encoding="utf-8",
    )
    env = {**os.environ, PARENT_PID_ENV: str(os.getpid())}
    with log.open("wb") as out:
        code = subprocess.run(
            [sys.executable, "-m", MODULE, str(request), str(result)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
        ).returncode
    if not result.exists():
        tail = " | ".join(line for line in log.read_text(errors="replace").splitlines()[-3:] if line.strip())
        said = f": {tail}" if tail else ""
        raise TaskError(f"the {precision} conversion crashed ({describe_exit(code)}){said}")
    outcome: dict[str, Any] = json.loads(result.read_text(encoding="utf-8"))
    if "Message" in outcome:
        raise TaskError(outcome["Message"])
    check: dict[str, Any] = outcome["Check"]
    return check


def convert_and_check(request: dict[str, Any]) -> dict[str, Any]:
    """Load the source, check the TensorConfig against it, convert, check the converted graph's
    precision and compare the outputs at every measurement point."""
    from . import measure
    from .convert import check_precision, compare, convert

    source, target, precision = Path(request["Source"]), Path(request["Target"]), request["Precision"]
    threads, provider, config = request["Threads"], request["Provider"], request["TensorConfig"]
    session = measure.open_session(source, threads, provider)
    batch = measure.check_config(config, session)
    pts = measure.points(config, batch)
    convert(source, precision, target)
    check_precision(target, precision)
    converted = measure.open_session(target, threads, provider)
    names = [o.name for o in session.get_outputs()]
    return {
        point.shape_key: compare(
            precision, names, measure.run_once(session, point.feeds), measure.run_once(converted, point.feeds)
        )
        for point in pts
    }


def main(argv: list[str] | None = None) -> int:
    args = argv if argv is not None else sys.argv[1:]
    request_path, result_path = Path(args[0]), Path(args[1])
    watch_parent(0.2)
    request = json.loads(request_path.read_text(encoding="utf-8"))
    try:
        outcome: dict[str, Any] = {"Check": convert_and_check(request)}
    except TaskError as exc:
        outcome = {"Message": exc.message}
    tmp = result_path.with_name(result_path.name + ".tmp")
    tmp.write_text(json.dumps(outcome), encoding="utf-8")
    os.replace(tmp, result_path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

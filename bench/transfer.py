"""Throughput of the transfer layer against the obvious baselines, side by side.

    python bench/transfer.py --quick          # ~64 MiB, about a minute and a half
    python bench/transfer.py --size-mib 1024  # the default: 1 GiB, ~15 minutes (moto is slow)

Builds a folder of one large file plus 1,000 small ones in a temporary directory and moves it:

- FolderStore (upload_path / download_prefix) against ``cp -r``;
- S3Store against boto3's managed transfer (``upload_file`` / ``download_file`` semantics through its
  TransferManager, every file submitted at once, TransferConfig with the same concurrency and part
  size, the very same client), both talking to a moto server this script starts on 127.0.0.1.

Runs alternate (project first in even rounds, baseline first in odd ones) because on these VMs the
speed of a write depends on whether its memory was just freed: only the ratios mean something. The
script talks to 127.0.0.1 only, and stops by itself (``--timeout``).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from boto3.s3.transfer import TransferConfig, create_transfer_manager

from volcengine_ml_platform.transfer import FolderStore, S3Store, download_prefix, upload_path
from volcengine_ml_platform.transfer.base import MiB

SMALL_FILES = 1000
SMALL_SIZE = 16 * 1024
PART_SIZE = 8 * MiB

# Never leave loopback: no proxy, no instance-metadata lookups.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

_MOTO = """
import logging, sys
from moto.server import ThreadedMotoServer
logging.disable(logging.CRITICAL)
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the benchmark closes the pipe (or dies)
"""


@dataclass
class Comparison:
    name: str
    baseline: str
    ours: list[float] = field(default_factory=list)
    theirs: list[float] = field(default_factory=list)


def build_source(root: Path, total: int) -> int:
    """One large file and SMALL_FILES small ones in nested folders; returns the byte count."""
    small_total = SMALL_FILES * SMALL_SIZE
    large = max(total - small_total, PART_SIZE + 1)
    (root / "weights").mkdir(parents=True)
    with open(root / "weights" / "model.bin", "wb") as f:
        remaining = large
        while remaining:
            chunk = os.urandom(min(remaining, 16 * MiB))
            f.write(chunk)
            remaining -= len(chunk)
    for i in range(SMALL_FILES):
        folder = root / f"shard{i % 10}" / f"group{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i}.bin").write_bytes(os.urandom(SMALL_SIZE))
    return large + small_total


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def start_moto() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", _MOTO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin:
        proc.stdin.close()  # the server exits when its stdin closes
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def run(args: argparse.Namespace, work: Path) -> list[Comparison]:
    src = work / "src" / "model"
    size = build_source(src, args.size_mib * MiB)
    files = files_of(src)
    large = (size - SMALL_FILES * SMALL_SIZE) / MiB
    print(f"source: {len(files)} files, {size / MiB:.1f} MiB (the large one {large:.1f} MiB)", flush=True)
    c = args.concurrency
    store_root, cp_store = work / "store", work / "cp-store"
    out_ours, out_theirs = work / "out-ours", work / "out-theirs"

    moto, endpoint = start_moto()
    try:
        s3 = S3Store(
            endpoint, "bench", "bench", region="us-east-1", addressing_style="path", max_concurrency=c
        )
        client = s3.client
        client.create_bucket(Bucket="bench")
        config = TransferConfig(
            max_concurrency=c, multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, use_threads=True
        )

        def cp(source: Path, dest: Path) -> None:
            subprocess.run(["cp", "-r", str(source), str(dest)], check=True)

        def folder_cp_up() -> None:
            cp_store.mkdir()
            cp(src, cp_store)

        def boto3_upload() -> None:
            with create_transfer_manager(client, config) as manager:
                futures = [
                    manager.upload(str(p), "bench", f"boto3/{p.relative_to(src.parent)}") for p in files
                ]
                for future in futures:
                    future.result()

        def boto3_download() -> None:
            keys = [o.key for o in s3.list_objects("bench", "boto3/model/")]
            dests = [out_theirs / key.removeprefix("boto3/model/") for key in keys]
            for dest in dests:
                dest.parent.mkdir(parents=True, exist_ok=True)
            with create_transfer_manager(client, config) as manager:
                futures = [manager.download("bench", k, str(d)) for k, d in zip(keys, dests, strict=True)]
                for future in futures:
                    future.result()

        folder = FolderStore(store_root)
        comparisons: list[tuple[Comparison, Callable[[], object], Callable[[], object]]] = [
            (
                Comparison("FolderStore upload", "cp -r"),
                lambda: upload_path(folder, src, "bench", "p/", concurrency=c),
                folder_cp_up,
            ),
            (
                Comparison("FolderStore download", "cp -r"),
                lambda: download_prefix(folder, "tos://bench/p/model/", out_ours, concurrency=c),
                lambda: cp(cp_store / "model", out_theirs),
            ),
            (
                Comparison("S3Store upload", "boto3 upload_file"),
                lambda: upload_path(s3, src, "bench", "ours/", concurrency=c),
                boto3_upload,
            ),
            (
                Comparison("S3Store download", "boto3 download_file"),
                lambda: download_prefix(s3, "tos://bench/ours/model/", out_ours, concurrency=c),
                boto3_download,
            ),
        ]
        for rnd in range(args.rounds):
            for comparison, ours, theirs in comparisons:
                if rnd % 2 == 0:
                    comparison.ours.append(timed(ours))
                    comparison.theirs.append(timed(theirs))
                else:
                    comparison.theirs.append(timed(theirs))
                    comparison.ours.append(timed(ours))
                remove(out_ours)  # fresh destinations for every run
                remove(out_theirs)
            remove(cp_store)
            folder.delete_prefix("bench", "")
            s3.delete_prefix("bench", "")
            print(f"round {rnd + 1}/{args.rounds} done", flush=True)
    finally:
        stop(moto)
    results = [comparison for comparison, _, _ in comparisons]
    for comparison in results:
        comparison.ours = [size / MiB / t for t in comparison.ours]
        comparison.theirs = [size / MiB / t for t in comparison.theirs]
    return results


def report(results: list[Comparison]) -> None:
    print()
    print(f"{'':22} {'ours MiB/s':>11} {'baseline':>20} {'MiB/s':>7} {'ratio':>6}   per round")
    for c in results:
        ratios = [o / t for o, t in zip(c.ours, c.theirs, strict=True)]
        ours, theirs = statistics.median(c.ours), statistics.median(c.theirs)
        ratio, per_round = statistics.median(ratios), " ".join(f"{r:.2f}" for r in ratios)
        print(f"{c.name:22} {ours:11.0f} {c.baseline:>20} {theirs:7.0f} {ratio:6.2f}   {per_round}")
    print("\nratio: ours / baseline, median over the rounds (each round runs both back to back);")
    print("> 1 means the transfer layer is faster. Absolute MiB/s mean little on this machine.")
    print("Ours computes and verifies sha256 on every file (and FolderStore writes a checksum")
    print("sidecar per object); the baselines check nothing.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="total size of the folder (default 1024)")
    parser.add_argument("--quick", action="store_true", help="~64 MiB instead")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--timeout", type=int, default=1800, help="give up after this many seconds")
    args = parser.parse_args()
    if args.quick:
        args.size_mib = 64
    logging.basicConfig(level=logging.WARNING)

    def out_of_time(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"benchmark did not finish within {args.timeout}s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.timeout)
    with tempfile.TemporaryDirectory(prefix="mlp-bench-") as tmp:
        results = run(args, Path(tmp))
    signal.alarm(0)
    report(results)


if __name__ == "__main__":
    main()

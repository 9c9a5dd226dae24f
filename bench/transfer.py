"""Throughput and client CPU of the transfer layer against the obvious baselines, side by side.

    python bench/transfer.py --quick                        # ~64 MiB, a minute or two
    python bench/transfer.py --only folder --rounds 5       # the 1 GiB folder store target
    python bench/transfer.py --only folder --rounds 6 --control   # + cp -r twice: the A/A spread
    python bench/transfer.py --only s3 --s3-server s3rver --s3rver-dir DIR   # see below
    python bench/transfer.py --only s3 --small-files 0 ...  # one large file: multipart and ranges only

Builds a folder of one large file plus 1,000 small ones in a temporary directory and moves it:

- FolderStore (upload_path / download_prefix) against ``cp -r`` (``--only folder``);
- S3Store against boto3's managed transfer (TransferManager, every file submitted at once, the same
  concurrency, part size and connection pool) and, when the ``obstore`` package is installed,
  obstore (Rust; files in parallel on as many threads), all against one S3 server this script starts
  on 127.0.0.1 (``--only s3``): moto's server (the default; it is itself the bottleneck, tens of MiB/s)
  or ``s3rver`` (npm; ``npm install --prefix DIR s3rver@3.7.1`` and pass ``--s3rver-dir DIR``).

For each it prints MiB/s and the client's CPU-seconds per GiB (user + system of this process, or of
``cp``; the S3 server runs in another process and is not counted), as medians, and the ratio to the
baseline measured in the same round. Rounds rotate which side goes first, each side first removes
what it wrote in the round before (so each writes into memory it has just freed: on these VMs that
decides more than the order), every timed step starts after ``sync`` (so one step's writeback is not
charged to the next), and the page cache is warm for
both sides unless ``--cold``, which evicts this benchmark's own files (posix_fadvise DONTNEED after
sync: no root, nothing else on the machine is touched) before each step. Only the ratios mean
something on a shared machine. The script talks to 127.0.0.1 only, and stops by itself (``--timeout``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import logging
import os
import resource
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
from typing import Any

import boto3
from boto3.s3.transfer import TransferConfig, create_transfer_manager

from volcengine_ml_platform.transfer import FolderStore, S3Store, download_prefix, upload_path
from volcengine_ml_platform.transfer.base import MiB

SMALL_FILES = 1000
SMALL_SIZE = 16 * 1024
PART_SIZE = 8 * MiB
CONTROL = "cp -r, again"  # the A/A side of --control

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

_S3RVER = """
const S3rver = require('s3rver');
const server = new S3rver({port: 0, address: '127.0.0.1', directory: process.argv[2], silent: true,
                           configureBuckets: [{name: 'bench'}]});
server.run().then(({port}) => console.log(port));
process.stdin.on('end', () => server.close().catch(() => {}).finally(() => process.exit(0)));
process.stdin.resume();
"""


def _nothing() -> None:
    pass


@dataclass
class Side:
    name: str
    run: Callable[[], object]
    # Untimed, right before each run: removes what this side wrote in the previous round. Every side
    # then writes into memory it has just freed itself (on these VMs a write is much faster into pages
    # just freed than into pages the kernel must reclaim first, which made the order decide the winner).
    before: Callable[[], object] = _nothing
    seconds: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


@dataclass
class Comparison:
    name: str
    sides: list[Side]  # ours first, then the baselines


def build_source(root: Path, total: int, small_files: int = SMALL_FILES) -> int:
    """One large file (``weights/``) and ``small_files`` small ones in nested folders (``small/``);
    returns the byte count."""
    small_total = small_files * SMALL_SIZE
    large = max(total - small_total, PART_SIZE + 1)
    (root / "weights").mkdir(parents=True)
    with open(root / "weights" / "model.bin", "wb") as f:
        remaining = large
        while remaining:
            chunk = os.urandom(min(remaining, 16 * MiB))
            f.write(chunk)
            remaining -= len(chunk)
    for i in range(small_files):
        folder = root / "small" / f"shard{i % 10}" / f"group{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"file{i}.bin").write_bytes(os.urandom(SMALL_SIZE))
    return large + small_total


def files_of(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def evict(root: Path) -> None:
    """Drop this benchmark's own files from the page cache (after writing back what is dirty)."""
    os.sync()
    for dirpath, _, names in os.walk(root):
        for name in names:
            try:
                fd = os.open(os.path.join(dirpath, name), os.O_RDONLY | os.O_NOFOLLOW)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def file_system(path: Path) -> str:
    """Type and mount options of the file system holding ``path`` (findmnt), for the record."""
    try:
        found = subprocess.run(
            ["findmnt", "-n", "-o", "FSTYPE,OPTIONS", "-T", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (no findmnt)"
    return found.stdout.strip()


def cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (cp)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def measure(side: Side, work: Path, cold: bool) -> None:
    side.before()
    if cold:
        evict(work)
    else:
        os.sync()
    cpu, start = cpu_seconds(), time.perf_counter()
    side.run()
    side.seconds.append(time.perf_counter() - start)
    side.cpu.append(cpu_seconds() - cpu)


def fsync_tree(root: Path) -> None:
    """fsync every file below ``root`` (8 at a time, as the platform does when it registers a Path),
    then every folder, deepest first: the same step after either side of a ``--durable`` comparison."""
    files: list[str] = []
    folders: list[str] = []
    for dirpath, _, names in os.walk(root):
        folders.append(dirpath)
        files.extend(os.path.join(dirpath, n) for n in names)

    def sync(path: str) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(sync, files))
    for folder in sorted(folders, key=lambda f: -f.count(os.sep)):
        sync(folder)


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def start_server(kind: str, work: Path, s3rver_dir: str | None) -> tuple[subprocess.Popen[str], str]:
    if kind == "moto":
        cmd = [sys.executable, "-c", _MOTO]
        env = None
    else:
        if not s3rver_dir:
            raise SystemExit("--s3-server s3rver needs --s3rver-dir (npm install --prefix DIR s3rver@3.7.1)")
        script = work / "s3rver.js"
        script.write_text(_S3RVER)
        (work / "s3rver-data").mkdir()
        cmd = ["node", str(script), str(work / "s3rver-data")]
        # s3rver 3.7 makes list continuation tokens with a cipher OpenSSL 3 keeps in its legacy provider.
        env = {
            **os.environ,
            "NODE_PATH": str(Path(s3rver_dir) / "node_modules"),
            "NODE_OPTIONS": "--openssl-legacy-provider",
        }
    proc = subprocess.Popen(
        cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
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


def cp(source: Path, dest: Path) -> None:
    subprocess.run(["cp", "-r", str(source), str(dest)], check=True)


def folder_comparisons(
    work: Path, src: Path, c: int, durable: bool = False, control: bool = False
) -> tuple[list[Comparison], Callable[[], None]]:
    """FolderStore against ``cp -r`` of the same folder ``src``; with ``durable``, each side's timed
    step ends with the same :func:`fsync_tree` of what it wrote (cp has no fsync of its own). With
    ``control``, a second ``cp -r`` side into folders of its own: an A/A comparison in the same
    rounds, whose ratio to the first shows what the machine alone does to a ratio."""
    store_root, cp_store, cp_store2 = work / "store", work / "cp-store", work / "cp-store-again"
    out_ours, out_theirs, out_again = work / "out-ours", work / "out-theirs", work / "out-again"
    folder = FolderStore(store_root)
    where = "user xattrs" if getattr(folder, "xattrs", False) else "sidecar files"
    print(f"folder store checksums in: {where}", flush=True)
    name = src.name
    uploaded = store_root / "bench" / "p" / name

    def then_sync(step: Callable[[], object], written: Path) -> Callable[[], None]:
        def run() -> None:
            step()
            if durable:
                fsync_tree(written)

        return run

    def cp_up(store: Path = cp_store) -> None:
        store.mkdir()
        cp(src, store)

    suffix = ", durable" if durable else ""
    comparisons = [
        Comparison(
            f"FolderStore upload{suffix}",
            [
                Side(
                    "ours",
                    then_sync(lambda: upload_path(folder, src, "bench", "p/", concurrency=c), uploaded),
                    before=lambda: folder.delete_prefix("bench", ""),
                ),
                Side("cp -r", then_sync(cp_up, cp_store / name), before=lambda: remove(cp_store)),
            ],
        ),
        Comparison(
            f"FolderStore download{suffix}",
            [
                Side(
                    "ours",
                    then_sync(
                        lambda: download_prefix(folder, f"tos://bench/p/{name}/", out_ours, concurrency=c),
                        out_ours,
                    ),
                    before=lambda: remove(out_ours),
                ),
                Side(
                    "cp -r",
                    then_sync(lambda: cp(cp_store / name, out_theirs), out_theirs),
                    before=lambda: remove(out_theirs),
                ),
            ],
        ),
    ]

    if control:
        comparisons[0].sides.append(
            Side(
                CONTROL,
                then_sync(lambda: cp_up(cp_store2), cp_store2 / name),
                before=lambda: remove(cp_store2),
            )
        )
        comparisons[1].sides.append(
            Side(
                CONTROL,
                then_sync(lambda: cp(cp_store2 / name, out_again), out_again),
                before=lambda: remove(out_again),
            )
        )

    def reset() -> None:
        for path in (out_ours, out_theirs, out_again, cp_store, cp_store2):
            remove(path)
        folder.delete_prefix("bench", "")

    return comparisons, reset


def s3_comparisons(
    endpoint: str, keys: tuple[str, str], src: Path, files: list[Path], work: Path, c: int
) -> tuple[list[Comparison], Callable[[], None]]:
    out = work / "out"  # one destination: each download side removes it before it runs
    s3 = S3Store(endpoint, *keys, region="us-east-1", addressing_style="path", max_concurrency=c)
    # boto3's own client, as a user would make it: the same pool and checksum settings as ours, but
    # botocore's standard retries (ours retries in the transfer layer; s3rver drops idle keep-alives).
    from botocore.config import Config

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        region_name="us-east-1",
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            max_pool_connections=c,
            retries={"total_max_attempts": 5, "mode": "standard"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
    if not any(b["Name"] == "bench" for b in client.list_buckets().get("Buckets", [])):
        client.create_bucket(Bucket="bench")
    config = TransferConfig(
        max_concurrency=c, multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, use_threads=True
    )

    def boto3_upload() -> None:
        with create_transfer_manager(client, config) as manager:
            futures = [manager.upload(str(p), "bench", f"boto3/{p.relative_to(src.parent)}") for p in files]
            for future in futures:
                future.result()

    def boto3_download() -> None:
        keys_ = [o.key for o in s3.list_objects("bench", "boto3/model/")]
        dests = [out / key.removeprefix("boto3/model/") for key in keys_]
        for dest in dests:
            dest.parent.mkdir(parents=True, exist_ok=True)
        with create_transfer_manager(client, config) as manager:
            futures = [manager.download("bench", k, str(d)) for k, d in zip(keys_, dests, strict=True)]
            for future in futures:
                future.result()

    up: list[Side] = [
        Side("ours", lambda: upload_path(s3, src, "bench", "ours/", concurrency=c)),
        Side("boto3 TransferManager", boto3_upload),
    ]
    down: list[Side] = [
        Side(
            "ours",
            lambda: download_prefix(s3, "tos://bench/ours/model/", out, concurrency=c),
            lambda: remove(out),
        ),
        Side("boto3 TransferManager", boto3_download, lambda: remove(out)),
    ]
    try:
        import obstore
        from obstore.store import S3Store as ObstoreS3
    except ImportError:
        print("obstore is not installed: it is left out (pip install obstore==0.12.1)", flush=True)
    else:
        ob: Any = ObstoreS3(
            "bench",
            endpoint=endpoint,
            access_key_id=keys[0],
            secret_access_key=keys[1],
            region="us-east-1",
            virtual_hosted_style_request=False,
            client_options={"allow_http": True},
        )

        def obstore_upload() -> None:
            def put(p: Path) -> None:
                obstore.put(
                    ob, f"obstore/{p.relative_to(src.parent)}", p, chunk_size=PART_SIZE, max_concurrency=c
                )

            with concurrent.futures.ThreadPoolExecutor(c) as pool:
                list(pool.map(put, files))

        def obstore_download() -> None:
            def get(key: str) -> None:
                dest = out / key.removeprefix("obstore/model/")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(dest, "wb") as f:
                    for chunk in obstore.get(ob, key).stream(min_chunk_size=PART_SIZE):
                        f.write(chunk)

            keys_ = [o.key for o in s3.list_objects("bench", "obstore/model/")]
            with concurrent.futures.ThreadPoolExecutor(c) as pool:
                list(pool.map(get, keys_))

        up.append(Side("obstore", obstore_upload))
        down.append(Side("obstore", obstore_download, lambda: remove(out)))

    def reset() -> None:
        remove(out)
        s3.delete_prefix("bench", "")

    return [Comparison("S3 upload", up), Comparison("S3 download", down)], reset


def run(args: argparse.Namespace, work: Path) -> tuple[int, list[Comparison]]:
    src = work / "src" / "model"
    size = build_source(src, args.size_mib * MiB, args.small_files)
    files = files_of(src)
    large = (size - args.small_files * SMALL_SIZE) / MiB
    print(f"source: {len(files)} files, {size / MiB:.1f} MiB (the large one {large:.1f} MiB)", flush=True)
    cache = "cold" if args.cold else "warm"
    print(f"file system of {work}: {file_system(work)}; page cache {cache}", flush=True)
    c = args.concurrency
    results: list[Comparison] = []
    if args.only in (None, "folder"):
        part = {"all": src, "large": src / "weights", "small": src / "small"}[args.part]
        if args.part != "all":
            print(f"moving only {part.relative_to(src)}/", flush=True)
        comparisons, reset = folder_comparisons(work, part, c, args.durable, args.control)
        rounds(args, work, comparisons, reset, "folder")
        results += comparisons
    if args.only in (None, "s3"):
        server, endpoint = start_server(args.s3_server, work, args.s3rver_dir)
        keys = ("S3RVER", "S3RVER") if args.s3_server == "s3rver" else ("bench", "bench")
        print(f"S3 server: {args.s3_server} at {endpoint}", flush=True)
        try:
            comparisons, reset = s3_comparisons(endpoint, keys, src, files, work, c)
            rounds(args, work, comparisons, reset, "S3")
            results += comparisons
        finally:
            stop(server)
    return size, results


def rounds(
    args: argparse.Namespace, work: Path, comparisons: list[Comparison], reset: Callable[[], None], what: str
) -> None:
    # Uploads run before downloads (a download reads what the upload of its round wrote); within each
    # comparison the order of the sides rotates from round to round.
    for rnd in range(args.rounds):
        for comparison in comparisons:
            order = (
                comparison.sides[rnd % len(comparison.sides) :]
                + comparison.sides[: rnd % len(comparison.sides)]
            )
            for side in order:
                measure(side, work, args.cold)
        print(f"{what} round {rnd + 1}/{args.rounds} done", flush=True)
    reset()


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile); with fewer than 4 values, (min, median, max)."""
    if len(values) < 4:
        return min(values), statistics.median(values), max(values)
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def spread(values: list[float]) -> str:
    """``median [q1-q3]`` of per-round values (min-max with fewer than 4 rounds)."""
    q1, q2, q3 = quartiles(values)
    return f"{q2:.2f} [{q1:.2f}-{q3:.2f}]"


def report(size: int, results: list[Comparison]) -> None:
    gib = size / (1024 * MiB)
    print()
    print(f"{'':28} {'side':>22} {'MiB/s':>6} {'s: median [IQR]':>20} {'CPU s/GiB':>10}")
    for c in results:
        for side in c.sides:
            speed = statistics.median(size / MiB / t for t in side.seconds)
            cpu = statistics.median(s / gib for s in side.cpu)
            first = c.name if side is c.sides[0] else ""
            print(f"{first:28} {side.name:>22} {speed:6.0f} {spread(side.seconds):>20} {cpu:10.2f}")
    print("\nRatios of ours to each baseline, per round (each round runs every side back to back):")
    print(f"{'':28} {'baseline':>22} {'speed: median [IQR]':>22} {'CPU: median [IQR]':>22}   speed per round")
    for c in results:
        ours = c.sides[0]
        for side in c.sides[1:]:
            ratios = [t / o for o, t in zip(ours.seconds, side.seconds, strict=True)]  # ours speed / theirs
            cpu_ratios = [o / t if t else float("nan") for o, t in zip(ours.cpu, side.cpu, strict=True)]
            per_round = " ".join(f"{r:.2f}" for r in ratios)
            print(f"{c.name:28} {side.name:>22} {spread(ratios):>22} {spread(cpu_ratios):>22}   {per_round}")
    controls = [(c, c.sides[1], side) for c in results for side in c.sides[2:] if side.name == CONTROL]
    if controls:
        print("\nThe A/A control: the same cp -r twice, ratio of the second to the first, per round:")
        for c, base, again in controls:
            ratios = [t / o for o, t in zip(again.seconds, base.seconds, strict=True)]
            cpu_ratios = [o / t if t else float("nan") for o, t in zip(again.cpu, base.cpu, strict=True)]
            per_round = " ".join(f"{r:.2f}" for r in ratios)
            print(f"{c.name:28} {base.name:>22} {spread(ratios):>22} {spread(cpu_ratios):>22}   {per_round}")
    print("\nSpeed ratio > 1: ours is faster; CPU ratio < 1: ours costs less. The IQR (min-max below 4")
    print("rounds) of a baseline's own seconds shows how much it moves round to round on this machine.")
    print("Ours computes and verifies a BLAKE3 checksum of every file (sha256 for S3 objects of releases")
    print("before 0.3); cp, boto3 and obstore check nothing.")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="total size of the folder (default 1024)")
    parser.add_argument("--quick", action="store_true", help="~64 MiB instead")
    parser.add_argument(
        "--small-files",
        type=int,
        default=SMALL_FILES,
        help=f"small files beside the large one (default {SMALL_FILES}; 0: one large file, parts only)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--concurrency", type=int, default=8, help="files (and parts) in flight (default 8)")
    parser.add_argument("--only", choices=["folder", "s3"], help="run only the folder store or only S3")
    parser.add_argument(
        "--s3-server",
        choices=["moto", "s3rver"],
        default="moto",
        help="the S3 server to start (default moto)",
    )
    parser.add_argument("--s3rver-dir", help="where `npm install --prefix DIR s3rver@3.7.1` put s3rver")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="evict the benchmark's own files from the page cache before each step",
    )
    parser.add_argument(
        "--part",
        choices=["all", "large", "small"],
        default="all",
        help="folder store only: move the whole folder (default), only the large file or only the small ones",
    )
    parser.add_argument(
        "--durable",
        action="store_true",
        help="folder store only: end each side's step by fsyncing every file and folder it wrote",
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="folder store only: add a second cp -r side (an A/A comparison: what the machine alone "
        "does to a ratio)",
    )
    parser.add_argument("--timeout", type=int, default=3600, help="give up after this many seconds")
    args = parser.parse_args()
    if args.quick:
        args.size_mib = 64
    logging.basicConfig(level=logging.WARNING)

    def out_of_time(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"benchmark did not finish within {args.timeout}s")

    signal.signal(signal.SIGALRM, out_of_time)
    signal.alarm(args.timeout)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="mlp-bench-") as tmp:
        size, results = run(args, Path(tmp))
    signal.alarm(0)
    if args.part != "all":  # the bytes actually moved
        size = args.small_files * SMALL_SIZE if args.part == "small" else size - args.small_files * SMALL_SIZE
    report(size, results)
    print(f"load average (1 min) {load[0]:.1f} at the start, {os.getloadavg()[0]:.1f} at the end; 2 cores")


if __name__ == "__main__":
    main()

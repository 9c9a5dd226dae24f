"""What reading a version's manifest costs a download: one small recorded folder downloaded again and
again, from the S3 store (moto's server on 127.0.0.1, in its own process) and the folder store.

    python bench/manifest_read.py                   # 5 rounds x 60 downloads per store
    python bench/manifest_read.py --rounds 3 --downloads 40

Each download is ``download_prefix`` of a folder of one 4 KiB file whose manifest the platform would
have written beside it (``{folder}.mlp-manifest.json``, with its BLAKE3 in the metadata). Since 0.6.x
the manifest is one GET read in memory (``get_bytes``); before, a HEAD, then a GET into a scratch
folder. Prints the p50 wall time and this process's CPU per download (the server's is not counted).
To compare two builds, run this script with each one's venv, alternating: it writes the manifest with
boto3, so it runs on either.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from blake3 import blake3
from transfer import _MOTO  # bench/transfer.py: moto's server in its own process

from volcengine_ml_platform.transfer import (
    FolderStore,
    ObjectInfo,
    ObjectStore,
    S3Store,
    download_prefix,
    manifest,
    upload_path,
)

BUCKET = "bench"
PREFIX = "modelrepo/from-sdk-repo/1700000000000/"


def recorded(store: ObjectStore, src: Path, write: Callable[[str, bytes], None]) -> str:
    """Upload ``src`` and write its manifest as the platform does; return the download URL."""
    url = upload_path(store, src, BUCKET, PREFIX)
    folder = url.split(f"{BUCKET}/", 1)[1]
    files = [
        ObjectInfo(o.key, o.size, blake3=blake3((src / o.key[len(folder) :]).read_bytes()).hexdigest())
        for o in store.list_objects(BUCKET, folder)
    ]
    write(manifest.manifest_key(folder), manifest.encode(url, files))
    return url


def timed(store: ObjectStore, url: str, dest: Path, count: int) -> tuple[list[float], float]:
    walls: list[float] = []
    cpu0 = time.process_time()
    for _ in range(count):
        t = time.perf_counter()
        download_prefix(store, url, dest)
        walls.append((time.perf_counter() - t) * 1000)
    return walls, (time.process_time() - cpu0) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--downloads", type=int, default=60, help="downloads per store and round")
    args = parser.parse_args()
    moto = subprocess.Popen(
        [sys.executable, "-c", _MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert moto.stdout is not None
        endpoint = f"http://127.0.0.1:{moto.stdout.readline().strip()}"
        with tempfile.TemporaryDirectory(prefix="bench-manifest-") as tmp:
            src = Path(tmp) / "model"
            src.mkdir()
            (src / "w.bin").write_bytes(os.urandom(4096))
            s3 = S3Store(endpoint, "testing", "testing", region="us-east-1", addressing_style="path")
            s3.client.create_bucket(Bucket=BUCKET)

            def put_s3(key: str, data: bytes) -> None:
                s3.client.put_object(
                    Bucket=BUCKET, Key=key, Body=data, Metadata={"blake3": blake3(data).hexdigest()}
                )

            folder = FolderStore(Path(tmp) / "store")
            scratch = Path(tmp) / "scratch"
            scratch.write_bytes(b"")

            def put_folder(key: str, data: bytes) -> None:
                scratch.write_bytes(data)
                folder.put_file(BUCKET, key, scratch)

            stores = {
                "s3 (moto)": (s3, recorded(s3, src, put_s3)),
                "folder": (folder, recorded(folder, src, put_folder)),
            }
            walls: dict[str, list[float]] = {name: [] for name in stores}
            cpus: dict[str, list[float]] = {name: [] for name in stores}
            for store, url in stores.values():
                timed(store, url, Path(tmp) / "out", 5)  # warm connections and imports
            for index in range(args.rounds):
                order = list(stores) if index % 2 == 0 else list(stores)[::-1]
                for name in order:
                    store, url = stores[name]
                    w, c = timed(store, url, Path(tmp) / f"out-{name[:2]}", args.downloads)
                    walls[name] += w
                    cpus[name].append(c)
                    shutil.rmtree(Path(tmp) / f"out-{name[:2]}")
    finally:
        moto.stdin.close()  # type: ignore[union-attr]
        moto.wait(10)
    load = os.getloadavg()
    print(f"{args.rounds} rounds x {args.downloads} downloads per store; load {load[0]:.1f} {load[1]:.1f}")
    for name in walls:
        wall, cpu = statistics.median(walls[name]), statistics.median(cpus[name])
        print(f"  {name:10} wall p50 {wall:6.2f} ms   client CPU {cpu:6.2f} ms per download")


if __name__ == "__main__":
    main()

"""Where one CreateModel's server CPU goes: each step of the handler timed alone, in process.

    python bench/create_model_parts.py             # 300 registrations of a new version, 2 small files each
    python bench/create_model_parts.py --count 1000

Opens a platform on a fresh data folder (SQLite with group commit, folder store, file-by-file fsync),
places the Paths' files as an upload would, then runs each step of ``handlers.models.create_model``
on its own over those Paths, one at a time, and prints the CPU (this process, every thread) and wall
time per registration of each: signature check, JSON parse and schema validation, the read checks,
the account's shared turn (``store.reclaim_turns``), the swept-uploads and pending-reclaims reads,
listing the Path, the manifest, the files' fsyncs, the store's write (the writer thread, its commit
and the WAL's fsync) and the answer's envelope. The steps run in the handler's order, so each sees the
state the one before left. What HTTP, uvicorn and the thread hand-offs add is the difference between
their sum and the server CPU per CreateModel that ``bench/registrations.py`` prints.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from mlp_server.app import _parse_json
from mlp_server.envelope import Meta, new_request_id, success
from mlp_server.handlers.models import check_bucket
from mlp_server.lifecycle import (
    check_not_swept,
    list_version_files,
    make_durable,
    registration_turn,
    write_manifest,
)
from mlp_server.operations import lookup
from mlp_server.platform import open_platform
from mlp_server.settings import ServerSettings
from volcengine_ml_platform.auth import Credentials, VolcSignerAuth
from volcengine_ml_platform.signing import verify_headers, verify_payload

REGION = "cn-beijing"


def timed(label: str, count: int, step: Callable[[int], Any], report: list[tuple[str, float, float]]) -> None:
    cpu0, t0 = time.process_time(), time.perf_counter()
    for k in range(count):
        step(k)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
    report.append((label, cpu / count * 1e3, wall / count * 1e3))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=300, help="registrations per step")
    args = parser.parse_args()
    import mlp_server

    print(f"server: {Path(mlp_server.__file__).parents[2]}; load average {os.getloadavg()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="mlp-bench-parts-"))
    try:
        run(work, args.count)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work: Path, count: int) -> None:
    settings = ServerSettings.from_env(work / "data", region=REGION)
    platform = open_platform(settings)
    try:
        creds = json.loads((settings.data_dir / "credentials.json").read_text())
        account = int(creds["account_id"])
        bucket = platform.bucket_for(account)
        scratch = work / "src"
        scratch.mkdir()
        (scratch / "model.onnx").write_bytes(b"\x08\x07" + os.urandom(1022))
        (scratch / "README").write_text("a tiny model for the registration benchmark\n")
        info = {"ModelFormat": "ONNX", "ModelType": "ONNX:1.0"}
        paths = []
        for k in range(count + 1):
            prefix = f"modelrepo/bench-{k}/model"
            for name in ("model.onnx", "README"):
                platform.objects.put_file(bucket, f"{prefix}/{name}", scratch / name)
            paths.append(f"tos://{bucket}/{prefix}/")
        first = platform.store.create_model(
            account, {"ModelName": "parts", "VersionInfo": {**info, "Path": paths[count]}}
        )
        model_id = first["ModelID"]
        bodies = [{"ModelID": model_id, "VersionInfo": {"Path": p}} for p in paths[:count]]
        raws = [json.dumps(b).encode() for b in bodies]
        operation = lookup("open", "CreateModel")
        assert operation is not None
        # Signed requests as a client sends them.
        auth = VolcSignerAuth(Credentials(creds["ak"], creds["sk"]), region=REGION)
        signed = []
        for raw in raws:
            request = httpx.Request(
                "POST", "http://127.0.0.1:1/", params={"Action": "CreateModel", "Version": "2021-07-01"},
                content=raw, headers={"Content-Type": "application/json"},
            )  # fmt: skip
            signed.append(next(auth.auth_flow(request)))

        def verify(k: int) -> None:
            request = signed[k]
            pending = verify_headers(
                method="POST",
                path=request.url.raw_path.split(b"?")[0],
                query=request.url.query,
                headers=[(n.lower(), v) for n, v in request.headers.raw],
                secret_key_for=lambda _ak: str(creds["sk"]),
                now=platform.clock(),
                service="ml_platform",
                region=REGION,
            )
            verify_payload(pending, raws[k])

        parsed: list[dict[str, Any]] = []
        files: list[Any] = []
        results: list[dict[str, Any]] = []
        report: list[tuple[str, float, float]] = []
        meta = Meta(new_request_id(), "CreateModel", REGION, "2021-07-01")
        objects, store = platform.objects, platform.store

        # The Paths of a client's uploads are in GetTOSUploadPath prefixes, which the swept-uploads read
        # looks up (the bench's own Paths are not: they skip it).
        units = [
            f"tos://{bucket}/modelrepo/from-sdk-repo/{1700000000000 + k}-0000abcd/model/"
            for k in range(count)
        ]

        def state(k: int) -> bool:
            return store.registration_state(account, model_id, paths[k])

        def turn(k: int) -> None:
            with registration_turn(platform, account, paths[k]):
                pass

        def create(k: int) -> None:
            results.append(store.create_model(account, parsed[k]))

        steps: list[tuple[str, Callable[[int], Any]]] = [
            ("signature (headers + payload)", verify),
            ("JSON parse + schema validation", lambda k: parsed.append(_parse_json(raws[k], operation))),
            ("read checks (registration_state)", state),
            ("check_bucket", lambda k: check_bucket(platform, _Caller(account), paths[k])),
            ("the account's shared turn (take, give)", turn),
            ("swept uploads read (check_not_swept)", lambda k: check_not_swept(platform, account, units[k])),
            ("pending reclaims read (reclaim_covering)", lambda k: store.reclaim_covering(account, paths[k])),
            ("list the Path (2 files)", lambda k: files.append(list_version_files(objects, paths[k]))),
            ("write the manifest", lambda k: write_manifest(objects, paths[k], files[k])),
            ("fsync files + folders (one at a time)", lambda k: make_durable(platform, paths[k], files[k])),
            ("store.create_model (writer, commit)", create),
            ("answer envelope", lambda k: success(meta, results[k]).body),
        ]
        for label, step in steps:
            timed(label, count, step, report)
    finally:
        platform.store.close()
    total = sum(cpu for _, cpu, _ in report)
    print(f"{'step (one registration at a time)':<40} {'CPU ms':>7} {'wall ms':>8}")
    for label, cpu, wall in report:
        print(f"{label:<40} {cpu:>7.3f} {wall:>8.3f}")
    print(f"{'sum':<40} {total:>7.3f}")


class _Caller:
    def __init__(self, account_id: int) -> None:
        self.account_id = account_id


if __name__ == "__main__":
    main()

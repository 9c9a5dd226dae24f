"""Durable registrations: CreateModel/s and full ``Model.register``/s from 1 and 8 client processes.

    python bench/registrations.py                  # 2 interleaved rounds, 5 s per phase
    python bench/registrations.py --rounds 3 --seconds 8
    python bench/registrations.py --profile-client # also: where one client's register spends its time

Two ``mlp serve`` (SQLite, folder store, one uvicorn worker) run side by side on fresh data folders: with
group commit (the default) and with ``MLP_SQLITE_GROUP_COMMIT=0`` (each write its own transaction and
fsync behind a process-wide lock: the store before group commit). Both run ``synchronous=FULL``: every
answer leaves after its fsync. Each phase runs against both, alternating which goes first, ``--rounds``
times, for 1 and then N client processes (separate interpreters, each with its own keep-alive
connection, started before the clock):

- floor: signed GetModelNextVersion without ModelID (signature, schema, thread, envelope, no query),
  sent as the SDK sends any action (``Session.call``: body checked, signed, answer parsed);
- CreateModel: new versions of 4 shared models, each with a Path of its own whose 2 small files the
  client placed in the folder store before the clock started (the server lists them and writes the
  manifest, as for any registration);
- register: ``Model(...).register(folder, model_id=...)`` of a folder of 2 small files (GetModel,
  GetTOSUploadPath, the upload, CreateModel).

Each phase also prints the server process's CPU per request (user + system, all its threads, read
from /proc before and after the phase) and the client processes' (each reads its own CPU, every
thread, around its measured loop), and, from their sum, the most the machine's cores could give.
After each server, the version numbers every client was told are checked: distinct and consecutive
per model, and exactly what ListModelVersions lists. The machine is a small shared VM: compare the
ratios printed beside each figure (measured in the same run), not the absolute rates.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing as mp
import os
import pstats
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import threaded_writes

HOST = "127.0.0.1"
REGION = "cn-beijing"
API_VERSION = "2021-07-01"
SHARED_MODELS = 4


# ---- the server ----------------------------------------------------------------------------------


@dataclass
class Server:
    data_dir: Path
    group_commit: bool
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    ak: str = ""
    sk: str = ""
    account_id: int = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> None:
        from mlp_server.platform import CREDENTIALS_FILE

        mlp = shutil.which("mlp", path=str(Path(sys.executable).parent)) or "mlp"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLP_", "VOLC"))}
        env["MLP_SQLITE_GROUP_COMMIT"] = "1" if self.group_commit else "0"
        for _ in range(3):
            self.port = _free_port()
            log = (self.data_dir.parent / f"serve-{self.port}.log").open("wb")
            argv = [mlp, "serve", "--host", HOST, "--port", str(self.port), "--data-dir", str(self.data_dir),
                    "--log-level", "warning", "--perf-workers", "0"]  # fmt: skip
            self.proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while self.proc.poll() is None and time.monotonic() < deadline:
                try:
                    httpx.get(self.url + "/", timeout=1.0, trust_env=False)
                    creds = json.loads((self.data_dir / CREDENTIALS_FILE).read_text())
                    self.ak, self.sk, self.account_id = creds["ak"], creds["sk"], int(creds["account_id"])
                    return
                except (httpx.TransportError, FileNotFoundError):
                    time.sleep(0.1)
            self.stop()
        raise RuntimeError("mlp serve did not start")

    def cpu_seconds(self) -> float:
        """CPU the server process has used so far (user + system, every thread; Linux /proc)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


# ---- the clients (each in a process of its own) ------------------------------------------------


@dataclass
class Job:
    kind: str  # floor | create | register
    url: str
    ak: str
    sk: str
    bucket: str
    objects_dir: str
    model_ids: list[str]
    seconds: float
    index: int
    prepare: int  # Paths to place before the clock (create)
    folder: str  # the model folder to register (register)


@dataclass
class Outcome:
    done: int = 0
    latencies: list[float] = field(default_factory=list)
    numbers: dict[str, list[int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    ran_out: bool = False
    cpu: float = 0.0  # this client process's CPU seconds over the measured loop (every thread)


def _signed_client(job: Job) -> httpx.Client:
    from volcengine_ml_platform.auth import Credentials, VolcSignerAuth

    return httpx.Client(
        base_url=job.url, auth=VolcSignerAuth(Credentials(job.ak, job.sk), region=REGION),
        trust_env=False, timeout=120.0,
    )  # fmt: skip


def _call(client: httpx.Client, action: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/", params={"Action": action, "Version": API_VERSION}, json=body)
    data: dict[str, Any] = response.json()
    if response.status_code != 200 or "Result" not in data:
        raise RuntimeError(f"{action}: HTTP {response.status_code} {str(data)[:300]}")
    result: dict[str, Any] = data["Result"]
    return result


def _place_paths(job: Job) -> list[str]:
    """Paths of 2 small files each, written into the platform's folder store (as an upload would)."""
    from volcengine_ml_platform.transfer.folder import FolderStore

    store = FolderStore(Path(job.objects_dir))
    scratch = Path(tempfile.mkdtemp(prefix="mlp-bench-files-"))
    try:
        weights, readme = scratch / "model.onnx", scratch / "README"
        weights.write_bytes(b"\x08\x07" + os.urandom(1022))
        readme.write_text("a tiny model for the registration benchmark\n")
        paths = []
        for k in range(job.prepare):
            prefix = f"bench/{job.index}-{k}-{uuid.uuid4().hex[:8]}"
            store.put_file(job.bucket, f"{prefix}/model.onnx", weights)
            store.put_file(job.bucket, f"{prefix}/README", readme)
            paths.append(f"tos://{job.bucket}/{prefix}/")
        return paths
    finally:
        shutil.rmtree(scratch)


def client_main(job: Job, ready: Any, go: Any, results: Any) -> None:
    outcome = Outcome(numbers={m: [] for m in job.model_ids})
    try:
        step = _prepare(job, outcome)
    except Exception as exc:
        outcome.errors.append(f"prepare: {exc!r}"[:300])
        ready.put(job.index)
        results.put(outcome)
        return
    ready.put(job.index)
    go.wait()
    cpu0 = time.process_time()
    deadline = time.perf_counter() + job.seconds
    while time.perf_counter() < deadline:
        t0 = time.perf_counter()
        try:
            got = step(outcome.done)
        except StopIteration:
            outcome.ran_out = True
            break
        except Exception as exc:
            outcome.errors.append(repr(exc)[:300])
            continue
        outcome.latencies.append(time.perf_counter() - t0)
        outcome.done += 1
        if got is not None:
            outcome.numbers[got[0]].append(got[1])
    outcome.cpu = time.process_time() - cpu0
    results.put(outcome)


def _prepare(job: Job, outcome: Outcome) -> Callable[[int], tuple[str, int] | None]:
    """What one request of the phase is (its connection already open)."""
    if job.kind == "register":
        from volcengine_ml_platform.models.model import Model

        model = Model(endpoint=job.url, access_key=job.ak, secret_key=job.sk, region=REGION)
        # One registration before the clock: the connection, and the imports of a first upload.
        warm = job.model_ids[job.index % len(job.model_ids)]
        first = model.register(job.folder, model_id=warm)
        outcome.numbers[warm].append(int(first.result.version_info.model_version))

        def register(k: int) -> tuple[str, int]:
            model_id = job.model_ids[(job.index + k) % len(job.model_ids)]
            resp = model.register(job.folder, model_id=model_id)
            return model_id, int(resp.result.version_info.model_version)

        return register
    # The SDK's own way to send one action (as Model's methods do): the body checked, signed, sent
    # and its answer parsed into the generated model, so the client CPU printed is the SDK's.
    from ml_platform_client.api.models import create_model, get_model_next_version
    from ml_platform_client.models import CreateModelRequest, GetModelNextVersionRequest
    from volcengine_ml_platform.models.model import Model

    session = Model(endpoint=job.url, access_key=job.ak, secret_key=job.sk, region=REGION).session
    session.call(get_model_next_version, GetModelNextVersionRequest, {})
    if job.kind == "floor":

        def floor(_k: int) -> None:
            session.call(get_model_next_version, GetModelNextVersionRequest, {})

        return floor
    paths = _place_paths(job)

    def create(k: int) -> tuple[str, int]:
        if k >= len(paths):
            raise StopIteration
        model_id = job.model_ids[(job.index + k) % len(job.model_ids)]
        body = {"ModelID": model_id, "VersionInfo": {"Path": paths[k]}}
        answer = session.call(create_model, CreateModelRequest, body)
        return model_id, int(answer.result.version_info.model_version)

    return create


# ---- a phase -------------------------------------------------------------------------------------


@dataclass
class Phase:
    label: str
    kind: str
    clients: int
    rate: float
    p50_ms: float
    p99_ms: float
    errors: list[str]
    ran_out: bool
    numbers: dict[str, list[int]]
    server_cpu_ms: float  # the server process's CPU (all its threads) per request of the phase
    client_cpu_ms: float  # the client processes' CPU (all their threads) per request of the phase


def run_phase(server: Server, kind: str, clients: int, seconds: float, model_ids: list[str],
              folder: Path, max_rate: float) -> Phase:  # fmt: skip
    ctx = mp.get_context("spawn")
    ready, results, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    bucket = f"ml-platform-auto-created-required-{server.account_id}-{REGION}"
    # Paths for --max-rate CreateModel/s over the phase (placing them takes time); running out is reported.
    prepare = int(max_rate * seconds / clients) + 20 if kind == "create" else 0
    jobs = [
        Job(
            kind,
            server.url,
            server.ak,
            server.sk,
            bucket,
            str(server.data_dir / "objects"),
            model_ids,
            seconds,
            i,
            prepare,
            str(folder),
        )
        for i in range(clients)
    ]
    procs = [ctx.Process(target=client_main, args=(job, ready, go, results), daemon=True) for job in jobs]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=600)
    cpu0 = server.cpu_seconds()
    t0 = time.perf_counter()
    go.set()
    outcomes = [results.get(timeout=seconds + 600) for _ in procs]
    wall = time.perf_counter() - t0
    server_cpu = server.cpu_seconds() - cpu0
    for proc in procs:
        proc.join(timeout=60)
    done = sum(o.done for o in outcomes)
    latencies = sorted(x for o in outcomes for x in o.latencies)
    numbers: dict[str, list[int]] = {m: [] for m in model_ids}
    for o in outcomes:
        for m, got in o.numbers.items():
            numbers[m].extend(got)
    return Phase(
        label=f"{kind}, {clients} client(s)",
        kind=kind,
        clients=clients,
        rate=done / wall,
        p50_ms=_pct(latencies, 50) * 1e3,
        p99_ms=_pct(latencies, 99) * 1e3,
        errors=[e for o in outcomes for e in o.errors],
        ran_out=any(o.ran_out for o in outcomes),
        numbers=numbers,
        server_cpu_ms=server_cpu / max(done, 1) * 1e3,
        client_cpu_ms=sum(o.cpu for o in outcomes) / max(done, 1) * 1e3,
    )


def _pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


# ---- checks --------------------------------------------------------------------------------------


def check_numbers(server: Server, phases: list[Phase], model_ids: list[str]) -> list[str]:
    """Every number a client was told, over all phases: distinct and consecutive per model (version 1
    came with the model), exactly the versions the server lists."""
    problems = [e for p in phases for e in p.errors[:3]]
    job = Job("check", server.url, server.ak, server.sk, "", "", [], 0, 0, 0, "")
    with _signed_client(job) as client:
        for model_id in model_ids:
            told = sorted(n for p in phases for n in p.numbers.get(model_id, []))
            if told != list(range(2, 2 + len(told))):
                problems.append(f"{model_id}: {len(told)} numbers told, not exactly 2..{1 + len(told)}")
            listed = _call(client, "ListModelVersions", {"ModelID": model_id, "Limit": 1})["Total"]
            if listed != 1 + len(told):
                problems.append(f"{model_id}: {listed} versions listed, {1 + len(told)} registered")
    return problems


# ---- a round against one server ------------------------------------------------------------------


def measure(work: Path, args: argparse.Namespace) -> tuple[list[dict[bool, list[Phase]]], list[str]]:
    """Both servers up at once; every phase runs against one then the other, the order alternating by
    round, so that the load of the shared machine drifts across both alike."""
    modes = (True,) if args.only_group_commit else (True, False)
    servers = {gc: Server(work / f"data-{'gc' if gc else 'nogc'}", gc) for gc in modes}
    folder = work / "model"
    try:
        for server in servers.values():
            server.start()
        model_ids = {gc: _seed_models(server, folder) for gc, server in servers.items()}
        rounds: list[dict[bool, list[Phase]]] = [{True: [], False: []} for _ in range(args.rounds)]
        for kind in args.kinds.split(","):
            for clients in (1, args.clients):
                for r in range(args.rounds):
                    for gc in modes if r % 2 == 0 else modes[::-1]:
                        print(
                            f"{kind}, {clients} client(s), round {r + 1}, group commit {gc} ...", flush=True
                        )
                        phase = run_phase(servers[gc], kind, clients, args.seconds, model_ids[gc], folder,
                                          args.max_rate)  # fmt: skip
                        rounds[r][gc].append(phase)
        problems = []
        for gc, server in servers.items():
            phases = [p for by_mode in rounds for p in by_mode[gc]]
            problems += [f"group commit {gc}: {p}" for p in check_numbers(server, phases, model_ids[gc])]
    finally:
        for server in servers.values():
            server.stop()
    return rounds, problems


def _seed_models(server: Server, folder: Path) -> list[str]:
    from volcengine_ml_platform.models.model import Model

    if not folder.exists():
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"\x08\x07" + os.urandom(1022))
        (folder / "README").write_text("a tiny model for the registration benchmark\n")
    model = Model(endpoint=server.url, access_key=server.ak, secret_key=server.sk, region=REGION)
    ids = []
    for k in range(SHARED_MODELS):
        resp = model.register(str(folder), model_name=f"bench-reg-{k}", model_format="ONNX",
                              model_type="ONNX:1.0")  # fmt: skip
        ids.append(resp.result.model_id)
    return ids


# ---- where one client's register spends its time ------------------------------------------------


def profile_client(work: Path, count: int) -> str:
    """cProfile of ``count`` registrations from this process against a group-commit server."""
    from volcengine_ml_platform.models.model import Model

    server = Server(work / "data-profile", True)
    server.start()
    try:
        folder = work / "model"
        model_ids = _seed_models(server, folder)
        model = Model(endpoint=server.url, access_key=server.ak, secret_key=server.sk, region=REGION)
        model.register(str(folder), model_id=model_ids[0])
        profiler = cProfile.Profile()
        t0 = time.perf_counter()
        profiler.enable()
        for _ in range(count):
            model.register(str(folder), model_id=model_ids[0])
        profiler.disable()
        wall = time.perf_counter() - t0
    finally:
        server.stop()
    out = io.StringIO()
    out.write(f"{count} registrations from one client in {wall:.2f} s ({count / wall:.1f}/s)\n")
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(35)
    return out.getvalue()


# ---- the store alone: what sharing commits saves, without HTTP ------------------------------------


def store_rates(work: Path, group_commit: bool, threads: int, seconds: float) -> tuple[float, float, float]:
    """(CreateModel/s, CPU ms per write, mean batch) of ``Store.create_model`` from ``threads`` threads
    of this process on a fresh SQLite file (synchronous=FULL either way)."""
    from mlp_server.store import Store, sqlite_url

    account = 2100000050
    store = Store(sqlite_url(work / f"store-{uuid.uuid4().hex[:8]}.sqlite"), group_commit=group_commit)
    try:
        info = {"ModelFormat": "ONNX", "ModelType": "ONNX:1.0"}
        models = [
            store.create_model(
                account, {"ModelName": f"m{i}", "VersionInfo": {**info, "Path": f"tos://b/{i}/"}}
            )["ModelID"]
            for i in range(SHARED_MODELS)
        ]

        def write(index: int, k: int) -> None:
            path = f"tos://b/{uuid.uuid4().hex}/"
            model_id = models[(index + k) % len(models)]
            store.create_model(account, {"ModelID": model_id, "VersionInfo": {"Path": path}})

        got = threaded_writes.run(threads, seconds, write)
        group = store.group_commit
        batch = group.units / group.batches if group is not None and group.batches else 1.0
    finally:
        store.close()
    return got.per_second, got.cpu_ms, batch


def report_store(work: Path, args: argparse.Namespace) -> None:
    print(f"{'Store.create_model in-process':<32} {'on /s':>7} {'ms CPU':>7} {'batch':>6} {'off /s':>7} "
          f"{'ms CPU':>7} {'x off':>6}")  # fmt: skip
    for threads in (1, args.clients):
        for r in range(args.rounds):
            order = (True, False) if r % 2 == 0 else (False, True)
            got = {gc: store_rates(work, gc, threads, args.seconds) for gc in order}
            (on, on_cpu, batch), (off, off_cpu, _) = got[True], got[False]
            name = f"{threads} thread(s)" if r == 0 else ""
            print(f"{name:<32} {on:>7,.0f} {on_cpu:>7.2f} {batch:>6.1f} {off:>7,.0f} {off_cpu:>7.2f} "
                  f"{on / off:>6.2f}", flush=True)  # fmt: skip
    print()


# ---- the files' durability alone: what syncing a registration's files costs ----------------------


def files_sync_rate(work: Path, mode: str, threads: int, seconds: float) -> tuple[float, float]:
    """(registrations/s, syncfs calls per registration) of ``threads`` threads each writing 2 small files
    and a manifest into a fresh folder store, then making them durable as CreateModel does: ``none``,
    ``syncfs`` (one shared syncfs, the platform's way) or ``fsync`` (each file and its folders)."""
    from mlp_server.objects_sync import ObjectsSync
    from volcengine_ml_platform.transfer.folder import FolderStore

    root = work / f"objects-{uuid.uuid4().hex[:8]}"
    store = FolderStore(root)
    sync = ObjectsSync(root, syncfs=mode == "syncfs")
    source = work / f"src-{uuid.uuid4().hex[:8]}"
    source.write_bytes(os.urandom(1024))

    def write(index: int, k: int) -> None:
        prefix = f"modelrepo/{index}-{k}-{uuid.uuid4().hex[:6]}/model"
        keys = [f"{prefix}/model.onnx", f"{prefix}/README", f"{prefix}.manifest"]
        for key in keys:
            store.put_file("bench", key, source)
        if mode != "none":
            sync.sync([root / "bench" / key for key in keys])

    got = threaded_writes.run(threads, seconds, write)
    sync.close()
    shutil.rmtree(root, ignore_errors=True)
    total = max(got.writes, 1)
    return got.per_second, sync.syncs / total


def report_files_sync(work: Path, args: argparse.Namespace) -> None:
    print(f"{'files + manifest, in-process':<32} {'none /s':>8} {'syncfs /s':>10} {'syncs/reg':>10} "
          f"{'fsync /s':>9} {'syncfs x none':>14}")  # fmt: skip
    for threads in (1, args.clients):
        for r in range(args.rounds):
            modes = ("none", "syncfs", "fsync") if r % 2 == 0 else ("fsync", "syncfs", "none")
            got = {mode: files_sync_rate(work, mode, threads, args.seconds) for mode in modes}
            name = f"{threads} thread(s)" if r == 0 else ""
            (none, _), (shared, per_reg), (each, _) = got["none"], got["syncfs"], got["fsync"]
            print(f"{name:<32} {none:>8,.0f} {shared:>10,.0f} {per_reg:>10.2f} {each:>9,.0f} "
                  f"{shared / none:>14.2f}", flush=True)  # fmt: skip
    print()


# ---- the report ----------------------------------------------------------------------------------


def report(rounds: list[dict[bool, list[Phase]]]) -> None:
    labels = [p.label for p in rounds[0][True]]
    print()
    print(f"{'phase':<24} {'group commit /s':>16} {'p50 ms':>7} {'p99 ms':>7} {'srv CPU ms':>10} "
          f"{'cli CPU ms':>10} {'off /s':>8} {'p50 ms':>7} {'x off':>6} {'x floor':>8}")  # fmt: skip
    print("-" * 112)
    for i, label in enumerate(labels):
        for r, by_mode in enumerate(rounds):
            on = by_mode[True][i]
            off = by_mode[False][i] if by_mode[False] else None
            floor = next((p for p in by_mode[True] if p.kind == "floor" and p.clients == on.clients), None)
            x_floor = f"{on.rate / floor.rate:>8.2f}" if floor is not None else f"{'-':>8}"
            note = " (ran out of Paths)" if on.ran_out or (off is not None and off.ran_out) else ""
            name = label if r == 0 else ""
            off_cols = (
                f"{off.rate:>8,.0f} {off.p50_ms:>7.2f} {on.rate / off.rate:>6.2f}"
                if off is not None
                else f"{'-':>8} {'-':>7} {'-':>6}"
            )
            on_cols = (
                f"{on.rate:>16,.0f} {on.p50_ms:>7.2f} {on.p99_ms:>7.1f} {on.server_cpu_ms:>10.2f} "
                f"{on.client_cpu_ms:>10.2f}"
            )
            print(f"{name:<24} {on_cols} {off_cols} {x_floor}{note}")
    print()
    for kind in sorted({p.kind for p in rounds[0][True]}):
        if not rounds[0][False]:
            for many in (False, True):
                ons = [next(p for p in r[True] if p.kind == kind and (p.clients > 1) == many) for r in rounds]
                rate = statistics.median(p.rate for p in ons)
                cpu = statistics.median(p.server_cpu_ms for p in ons)
                client = statistics.median(p.client_cpu_ms for p in ons)
                print(f"{kind}, {ons[0].clients} client(s): {rate:,.0f}/s, {cpu:.2f} ms server CPU each "
                      f"+ {client:.2f} ms client CPU = {cpu + client:.2f} ms: at most "
                      f"{_cores_bound(cpu + client):,.0f}/s on {os.cpu_count()} idle cores")  # fmt: skip
            continue
        ons = [next(p for p in r[True] if p.kind == kind and p.clients > 1) for r in rounds]
        offs = [next(p for p in r[False] if p.kind == kind and p.clients > 1) for r in rounds]
        on_rate = statistics.median(p.rate for p in ons)
        off_rate = statistics.median(p.rate for p in offs)
        ratio = statistics.median(a.rate / b.rate for a, b in zip(ons, offs, strict=True))
        print(
            f"{kind}, {ons[0].clients} clients: median {on_rate:,.0f}/s with group commit, "
            f"{off_rate:,.0f}/s without (median ratio {ratio:.2f}x)"
        )


def _cores_bound(cpu_ms: float) -> float:
    """Operations per second this machine's cores could give at ``cpu_ms`` of CPU each, all cores busy
    with nothing else: the rate no scheduling can beat."""
    return (os.cpu_count() or 1) * 1e3 / cpu_ms if cpu_ms > 0 else float("inf")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds (group commit on, off)")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per phase")
    parser.add_argument("--clients", type=int, default=8, help="client processes of the concurrent phases")
    parser.add_argument(
        "--only-group-commit",
        action="store_true",
        help="run only the default server (group commit on), not the comparison with it off",
    )
    parser.add_argument(
        "--skip-store", action="store_true", help="skip the in-process Store.create_model comparison"
    )
    parser.add_argument(
        "--skip-files", action="store_true", help="skip the in-process cost of syncing a registration's files"
    )
    parser.add_argument(
        "--kinds", default="floor,create,register", help="phases to run (comma-separated, in this order)"
    )
    parser.add_argument(
        "--max-rate", type=float, default=400.0, help="CreateModel/s the prepared Paths suffice for"
    )
    parser.add_argument(
        "--profile-client", action="store_true", help="also profile one client's registrations (cProfile)"
    )
    parser.add_argument("--profile-count", type=int, default=200, help="registrations to profile")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()}; {os.cpu_count()} CPUs", flush=True)
    work = Path(tempfile.mkdtemp(prefix="mlp-bench-registrations-"))
    problems: list[str] = []
    try:
        if not args.skip_store:
            report_store(work, args)
        if not args.skip_files:
            report_files_sync(work, args)
        rounds, problems = measure(work, args)
        report(rounds)
        if args.profile_client:
            print()
            print(profile_client(work, args.profile_count))
        print(f"load average at end: {os.getloadavg()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if problems:
        print("PROBLEMS:")
        for problem in problems:
            print(f"  {problem}")
        sys.exit(1)
    print(
        "version numbers: distinct and consecutive per model, exactly those listed (all phases and servers)"
    )


if __name__ == "__main__":
    main()

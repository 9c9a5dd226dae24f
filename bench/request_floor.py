"""The request floor: a signed request of ``mlp serve`` beside a bare Starlette+uvicorn app's round trip.

    python bench/request_floor.py                    # 5 rounds x 400 requests per target
    python bench/request_floor.py --rounds 3 --requests 200
    python bench/request_floor.py --compare-mlp /path/to/older/.venv/bin/mlp   # before/after, same run
    python bench/request_floor.py --tls-beside   # also mlp serve with an HTTPS listener beside (serve_all)

Starts the servers the same way, each in its own process on 127.0.0.1 (OS-chosen port), one uvicorn
worker, ``log_level=warning``, no access log (``mlp serve``'s own settings):

- **bare**: a Starlette app with one ``POST /`` route that reads the body and answers a small JSON object;
- **mlp serve** in a temporary data folder; again with ``MLP_KEY_CACHE_SECONDS=0`` (every request
  reads its access key from the database, as before issue 15); with ``--compare-mlp``, another
  build's ``mlp serve``; with ``--tls-beside``, ``mlp serve --tls-self-signed --tls-port P`` (its
  plain listener measured: both listeners run in one process through ``servers.serve_all``), for
  this build and the compared one.

One keep-alive raw socket per target sends HTTP/1.1 requests one after another (each request's bytes
are built and signed before its clock starts). Rounds interleave the targets, in alternating order, so
that load from other processes on the machine falls on all of them alike. Requests:

- ``GetModelNextVersion {}``: signed, answers 1 without any query (the issue's request; the target);
- ``GetTOSUploadPath``: signed, folder store: no database work in the handler;
- ``GetModelNextVersion, no such model``: signed, one primary-key read, 404.

Prints p50/p99 of each and the p50 difference to bare (issue 15's target: within 1 ms), over all
rounds and per round. Shared machines are noisy: only the side-by-side figures mean anything.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from volcengine_ml_platform.signing import sign

REGION = "cn-beijing"
MISSING = "m-20210812150750-w54j6"
_BARE_APP = """
import sys, uvicorn
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

async def root(request):
    await request.body()
    return JSONResponse({"ResponseMetadata": {"RequestId": "x"}, "Result": {}})

app = Starlette(routes=[Route("/", root, methods=["POST"])])
uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_listening(proc: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("server did not start")


def start_bare() -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _BARE_APP, str(port)])
    wait_listening(proc, port)
    return proc, port


def start_mlp(
    data_dir: Path, mlp: str, key_cache_seconds: str | None = None, tls_beside: bool = False
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    argv = [mlp, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
            "--log-level", "warning", "--perf-workers", "0"]  # fmt: skip
    if tls_beside:
        argv += ["--tls-self-signed", "--tls-port", str(free_port())]
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(data_dir),
        "MLP_GC_INTERVAL": "3600",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if key_cache_seconds is not None:
        env["MLP_KEY_CACHE_SECONDS"] = key_cache_seconds
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)
    wait_listening(proc, port)
    return proc, port


class Connection:
    """One keep-alive HTTP/1.1 connection; answers are read to their Content-Length. uvicorn closes a
    connection idle for 5 s (other targets' turns on a loaded machine): it is then opened again,
    outside the timed part, before the next request."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = self._connect()
        self.buffer = b""
        self.reconnects = 0

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def _closed_by_server(self) -> bool:
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        finally:
            self.sock.setblocking(True)

    def round_trip(self, request: bytes) -> tuple[float, int, bytes]:
        if self._closed_by_server():
            self.sock.close()
            self.sock, self.buffer = self._connect(), b""
            self.reconnects += 1
        started = time.perf_counter()
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self.buffer += self._recv()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(rest) < length:
            rest += self._recv()
        elapsed = time.perf_counter() - started
        self.buffer = rest[length:]
        return elapsed, int(head.split(b" ", 2)[1]), rest[:length]

    def _recv(self) -> bytes:
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed the connection")
        return data

    def close(self) -> None:
        self.sock.close()


def http_post(port: int, target: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {target} HTTP/1.1", f"Host: 127.0.0.1:{port}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def signed_builder(
    port: int, ak: str, sk: str, action: str, payload: dict[str, object]
) -> Callable[[], bytes]:
    body = json.dumps(payload).encode()
    query = [("Action", action), ("Version", "2021-07-01")]
    target = f"/?Action={action}&Version=2021-07-01"

    def build() -> bytes:
        result = sign("POST", "/", query, {"Host": f"127.0.0.1:{port}", "Content-Type": "application/json"},
                      body, access_key=ak, secret_key=sk, region=REGION, service="ml_platform",
                      x_date=datetime.now(UTC))  # fmt: skip
        return http_post(port, target, {"Content-Type": "application/json", **result.headers}, body)

    return build


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far, every thread (Linux: /proc), else 0."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(conn: Connection, build: Callable[[], bytes], count: int, expect: int) -> list[float]:
    times = []
    for _ in range(count):
        request = build()
        elapsed, status, answer = conn.round_trip(request)
        if status != expect:
            raise RuntimeError(f"unexpected answer {status}: {answer[:300]!r}")
        times.append(elapsed * 1000)
    return times


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--requests", type=int, default=400, help="requests per target per round")
    parser.add_argument("--warmup", type=int, default=200, help="unmeasured requests per target first")
    parser.add_argument(
        "--compare-mlp",
        metavar="PATH",
        help="another build's mlp executable (e.g. an older checkout's .venv/bin/mlp), measured alongside",
    )
    parser.add_argument(
        "--tls-beside",
        action="store_true",
        help="also measure mlp serve with an HTTPS listener beside the plain one (servers.serve_all)",
    )
    args = parser.parse_args()
    here = shutil.which("mlp", path=str(Path(sys.executable).parent)) or "mlp"

    with tempfile.TemporaryDirectory(prefix="mlp-floor-") as tmp:
        procs: list[subprocess.Popen[bytes]] = []
        try:
            bare_proc, bare_port = start_bare()
            procs.append(bare_proc)
            pids = {bare_port: bare_proc.pid}  # whose CPU each target's requests cost
            servers = [("", here, None, False), ("key cache off: ", here, "0", False)]
            if args.compare_mlp:
                servers.append(("--compare-mlp: ", args.compare_mlp, None, False))
            if args.tls_beside:
                servers.append(("TLS beside: ", here, None, True))
                if args.compare_mlp:
                    servers.append(("--compare-mlp, TLS beside: ", args.compare_mlp, None, True))
            bare_request = http_post(bare_port, "/", {"Content-Type": "application/json"}, b"{}")
            targets: dict[str, tuple[int, Callable[[], bytes], int]] = {
                "bare Starlette": (bare_port, lambda: bare_request, 200)
            }
            for index, (label, mlp, cache, tls) in enumerate(servers):
                data_dir = Path(tmp) / f"data{index}"
                proc, port = start_mlp(data_dir, mlp, cache, tls)
                procs.append(proc)
                pids[port] = proc.pid
                creds = json.loads((data_dir / "credentials.json").read_text())
                ak, sk = creds["ak"], creds["sk"]
                # The request: GetModelNextVersion without ModelID answers 1 with no query.
                targets[f"{label}GetModelNextVersion {{}}"] = (
                    port, signed_builder(port, ak, sk, "GetModelNextVersion", {}), 200,
                )  # fmt: skip
                if label:
                    continue
                targets["GetTOSUploadPath"] = (
                    port, signed_builder(port, ak, sk, "GetTOSUploadPath", {"ServiceName": "modelrepo"}), 200,
                )  # fmt: skip
                targets["GetModelNextVersion, no such model"] = (
                    port, signed_builder(port, ak, sk, "GetModelNextVersion", {"ModelID": MISSING}), 404,
                )  # fmt: skip
            conns = {name: Connection(port) for name, (port, _, _) in targets.items()}
            for name, (_, build, expect) in targets.items():
                measure(conns[name], build, args.warmup, expect)
            samples: dict[str, list[float]] = {name: [] for name in targets}
            per_round: dict[str, list[float]] = {name: [] for name in targets}
            server_cpu: dict[str, list[float]] = {name: [] for name in targets}
            names = list(targets)
            for index in range(args.rounds):
                order = names if index % 2 == 0 else names[::-1]
                for name in order:
                    _, build, expect = targets[name]
                    port = targets[name][0]
                    before = process_cpu(pids[port])
                    times = measure(conns[name], build, args.requests, expect)
                    server_cpu[name].append((process_cpu(pids[port]) - before) * 1000 / args.requests)
                    samples[name] += times
                    per_round[name].append(statistics.median(times))
            for conn in conns.values():
                conn.close()
        finally:
            for proc in procs:
                proc.terminate()
                proc.wait(30)

    load = os.getloadavg()
    print(f"{args.rounds} interleaved rounds x {args.requests} requests per target, one keep-alive "
          f"connection each; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")  # fmt: skip
    bare = samples["bare Starlette"]
    bare_p50 = statistics.median(bare)
    head = f"{'target':50} {'p50 ms':>8} {'p99 ms':>8} {'p50 - bare':>11} {'server CPU':>11}"
    print(f"{head}  per-round p50 - bare")
    for name, values in samples.items():
        p50, p99 = statistics.median(values), quantile(values, 0.99)
        rounds = ", ".join(
            f"{a - b:+.2f}" for a, b in zip(per_round[name], per_round["bare Starlette"], strict=True)
        )
        cpu = statistics.median(server_cpu[name])
        print(f"{name:50} {p50:8.3f} {p99:8.3f} {p50 - bare_p50:+11.3f} {cpu:8.3f} ms  {rounds}")
    print("(server CPU: the serving process's user + system CPU per request, median of the rounds; Linux)")
    floor = statistics.median(samples["GetModelNextVersion {}"]) - bare_p50
    verdict = "met" if floor <= 1.0 else "NOT met"
    print(
        f"target (signed request with no database work, p50 within 1 ms of bare): {verdict} ({floor:+.3f} ms)"
    )


if __name__ == "__main__":
    main()

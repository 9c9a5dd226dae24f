"""What hostile bodies cost ``mlp serve``: peak memory and time to the refusal, beside a normal request.

    python bench/gateway.py             # 4 concurrent unsigned 256 MB bodies, then a signed 1 GB one
    python bench/gateway.py --quick     # 4 x 64 MB

Starts ``mlp serve`` (one uvicorn worker) on 127.0.0.1 in a temporary data folder and, over raw
loopback sockets, measures:

1. baseline: time to first byte (TTFB) of a normal small signed ListModels, p50 over 50 requests, and
   the server's resident memory (VmRSS from /proc) around them;
2. 4 concurrent unsigned POSTs of 256 MB each (chunked, produced on the fly; and with a declared
   Content-Length): TTFB of each refusal, bytes the server took before it, and the server's peak RSS
   growth (VmHWM after minus VmRSS before);
3. one signed chunked 1 GB POST (the signature headers are valid, the body is too large): the server
   reads up to the 8 MiB limit and refuses; same figures.

Targets (issue 8): RSS growth below 64 MB, refusal within 50 ms. The machines are small shared VMs:
absolute times are noisy, so the refusal TTFB is also printed as a ratio to the baseline TTFB
measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx

from volcengine_ml_platform.signing import sign

MiB = 1024 * 1024
TARGET = "/?Action=ListModels&Version=2021-07-01"
REGION = "cn-beijing"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} for pid {pid}")


def start_server(data_dir: Path) -> tuple[subprocess.Popen[bytes], int]:
    mlp = shutil.which("mlp", path=str(Path(sys.executable).parent)) or "mlp"
    port = free_port()
    argv = [mlp, "serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
            "--log-level", "warning"]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "HOME": str(data_dir)}
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/", timeout=1, trust_env=False).status_code == 405:
                return proc, port
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("mlp serve did not start")


def signed_headers(port: int, ak: str, sk: str, body: bytes) -> dict[str, str]:
    host = f"127.0.0.1:{port}"
    result = sign("POST", "/", [("Action", "ListModels"), ("Version", "2021-07-01")],
                  {"Host": host, "Content-Type": "application/json"}, body, access_key=ak, secret_key=sk,
                  region=REGION, service="ml_platform", x_date=datetime.now(UTC))  # fmt: skip
    return {"Content-Type": "application/json", **result.headers}


def zeros(total: int, chunk: int = MiB) -> Iterator[bytes]:
    block = b"0" * chunk
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


class Post:
    """One POST over a raw socket: headers, then a body from a thread, the answer read meanwhile."""

    def __init__(self, port: int, headers: dict[str, str], body_size: int, *, chunked: bool) -> None:
        self.port, self.headers, self.body_size, self.chunked = port, headers, body_size, chunked
        self.sent = 0
        self.status = 0
        self.ttfb = 0.0

    def run(self, body: bytes | None = None) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
        headers = dict(self.headers)
        if self.chunked:
            headers["Transfer-Encoding"] = "chunked"
        else:
            headers["Content-Length"] = str(self.body_size if body is None else len(body))
        head = f"POST {TARGET} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        started = time.perf_counter()
        if body is not None:
            sock.sendall(head.encode() + body)
        else:
            sock.sendall(head.encode())
            threading.Thread(target=self._pump, args=(sock,), daemon=True).start()
        first = sock.recv(65536)
        self.ttfb = time.perf_counter() - started
        self.status = int(first.split(b" ", 2)[1]) if first else 0
        sock.close()

    def _pump(self, sock: socket.socket) -> None:
        try:
            for piece in zeros(self.body_size):
                sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if self.chunked else piece)
                self.sent += len(piece)
        except OSError:
            pass


def hostile(port: int, pid: int, posts: list[Post]) -> tuple[int, list[Post]]:
    before = proc_kib(pid, "VmRSS")
    threads = [threading.Thread(target=p.run) for p in posts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)  # let the last chunks in flight arrive before reading the peak
    return proc_kib(pid, "VmHWM") - before, posts


def report(label: str, growth: int, posts: list[Post], baseline_ttfb: float) -> None:
    ttfb = statistics.median(p.ttfb for p in posts)
    print(f"{label}")
    taken = max(p.sent for p in posts) / MiB
    print(f"  statuses {sorted({p.status for p in posts})}, taken before refusing: "
          f"{taken:.1f} MiB max of {posts[0].body_size / MiB:.0f} MiB")  # fmt: skip
    print(f"  server peak RSS growth {growth / MiB:.1f} MiB (target < 64)")
    print(f"  refusal TTFB median {ttfb * 1000:.1f} ms, max {max(p.ttfb for p in posts) * 1000:.1f} ms "
          f"(target < 50); {ttfb / baseline_ttfb:.2f}x the signed small request")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="4 x 64 MB instead of 4 x 256 MB")
    args = parser.parse_args()
    size = (64 if args.quick else 256) * MiB

    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        data_dir = Path(tmp) / "platform"
        proc, port = start_server(data_dir)
        try:
            creds = json.loads((data_dir / "credentials.json").read_text())
            ak, sk = creds["ak"], creds["sk"]
            pid = proc.pid
            rss_start = proc_kib(pid, "VmRSS")
            small: list[Post] = []
            for _ in range(50):
                post = Post(port, signed_headers(port, ak, sk, b"{}"), 2, chunked=False)
                post.run(b"{}")
                assert post.status == 200, post.status
                small.append(post)
            baseline = statistics.median(p.ttfb for p in small)
            print(f"mlp serve pid {pid}; RSS at start {rss_start / MiB:.1f} MiB; noisy shared machine: "
                  "compare ratios")  # fmt: skip
            print("baseline: a small signed ListModels")
            print(f"  TTFB p50 {baseline * 1000:.1f} ms; RSS after 50 requests "
                  f"{proc_kib(pid, 'VmRSS') / MiB:.1f} MiB")  # fmt: skip

            unsigned = {"Content-Type": "application/json"}
            for chunked in (True, False):
                growth, posts = hostile(
                    port, pid, [Post(port, unsigned, size, chunked=chunked) for _ in range(4)]
                )
                kind = "chunked" if chunked else "declared Content-Length"
                report(f"4 concurrent unsigned {size // MiB} MB bodies ({kind})", growth, posts, baseline)

            headers = signed_headers(port, ak, sk, b"{}")
            growth, posts = hostile(port, pid, [Post(port, headers, 1024 * MiB, chunked=True)])
            report("1 signed chunked 1 GB body (valid signature headers, refused at the 8 MiB limit)",
                   growth, posts, baseline)  # fmt: skip
            print(f"RSS at the end {proc_kib(pid, 'VmRSS') / MiB:.1f} MiB (start {rss_start / MiB:.1f} MiB)")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())

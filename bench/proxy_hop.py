"""The endpoint proxy's own cost per request, beside a direct connection, in one process.

    python bench/proxy_hop.py                                  # 10 rounds x 2000 requests
    python bench/proxy_hop.py --rounds 6 --requests 1000
    python bench/proxy_hop.py --compare /path/to/older/server/mlp_server/serving/proxy.py

A stand-in replica (an asyncio server answering each request at once, no model) is called over one
kept-alive connection, requests one after another: directly (the floor), through this build's
``ServiceProxy`` and, with ``--compare``, through another build's proxy module loaded from its file.
Rounds interleave the targets in alternating order, so that load from other processes falls on all
alike; each round's figure is its p50, and the summary the median of the rounds. Only the ratios
mean anything on a shared machine. Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ANSWER = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'
BODY = b'{"inputs":[{"name":"features","datatype":"FP32","shape":[1,4],"data":[[5.1,3.5,1.4,0.2]]}]}'
REQUEST = b"POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(BODY), BODY)


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            await reader.readexactly(len(BODY))
            writer.write(ANSWER)
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        writer.close()


async def p50_us(port: int, requests: int) -> float:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        writer.write(REQUEST)
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(len(ANSWER) - ANSWER.index(b"\r\n\r\n") - 4)
        times.append(time.perf_counter() - started)
    writer.close()
    return statistics.median(times) * 1e6


def through(module: ModuleType, replica_port: int, requests: int) -> Callable[[], Awaitable[float]]:
    async def measure() -> float:
        proxy = module.ServiceProxy("s-bench", probe_every=3600)
        port = await proxy.start(None)
        proxy.add(module.Backend(replica_port))
        try:
            return await p50_us(port, requests)
        finally:
            await proxy.close()

    return measure


async def main(args: argparse.Namespace) -> None:
    server = await asyncio.start_server(replica, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    targets: dict[str, Callable[[], Awaitable[float]]] = {
        "direct (floor)": lambda: p50_us(port, args.requests),
        "this proxy": through(
            load(HERE.parent / "server/mlp_server/serving/proxy.py", "proxy_this"), port, args.requests
        ),
    }
    if args.compare:
        targets["compared proxy"] = through(load(Path(args.compare), "proxy_compared"), port, args.requests)
    figures: dict[str, list[float]] = {name: [] for name in targets}
    for i in range(args.rounds):
        for name in list(targets)[:: 1 if i % 2 == 0 else -1]:
            figures[name].append(await targets[name]())
    server.close()
    medians = {name: statistics.median(values) for name, values in figures.items()}
    floor = medians["direct (floor)"]
    for name, values in figures.items():
        rounds = " ".join(f"{v:.0f}" for v in values)
        print(
            f"{name:15s} p50 {medians[name]:7.1f} us  hop {medians[name] - floor:6.1f} us  rounds: {rounds}"
        )
    if args.compare:
        this, other = medians["this proxy"] - floor, medians["compared proxy"] - floor
        print(f"hop: this proxy / compared proxy = {this / other:.3f}x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds per target")
    parser.add_argument("--requests", type=int, default=2000, help="requests per target per round")
    parser.add_argument("--compare", help="another build's mlp_server/serving/proxy.py, measured beside")
    asyncio.run(main(parser.parse_args()))

"""Several uvicorn servers (plain HTTP and HTTPS) in one process, sharing one app and one event loop
(uvloop, with httptools parsing, as a single uvicorn server runs).

(Not `serving/`, which runs the deployed services.)
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn


class _SharedSignalsServer(uvicorn.Server):
    # uvicorn.Server takes over SIGINT/SIGTERM for itself; with two servers the second would leave the
    # first running, so serve_all stops them all instead.
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def serve_all(configs: list[uvicorn.Config]) -> None:
    received: list[int] = []
    # The loop uvicorn runs a single server on (uvloop where installed; uvicorn.Server.run does the
    # same): both `mlp serve` paths then run on one stack, httptools and uvloop
    # (tests/unit/test_serve_stack.py).
    with asyncio.Runner(loop_factory=configs[0].get_loop_factory()) as runner:
        runner.run(_serve_all([_SharedSignalsServer(config) for config in configs], received))
    if received:
        # As uvicorn does: once shut down gracefully, let the signal end the process, whatever
        # non-daemon threads (the platform's workers) are still around.
        signal.signal(received[0], signal.SIG_DFL)
        signal.raise_signal(received[0])


async def _serve_all(servers: list[uvicorn.Server], received: list[int]) -> None:
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    def on_signal(sig: int) -> None:
        received.append(sig)
        stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)
    running = [asyncio.create_task(server.serve()) for server in servers]
    await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
    stop()  # one failed to start (a port in use) or stopped: take the others down with it
    await asyncio.gather(*running)

"""The endpoint proxy against clients that stall or misbehave: it lives in the platform process, so a
client that sends half a request must not hold its sockets and memory for ever. The proxy alone,
on real sockets, before a small replica stand-in that answers every request."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from mlp_server.serving.proxy import Backend, ServiceProxy

Connect = Callable[[], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
ANSWER = b'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{"ok":true}'
INFER = b"POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\n"


@asynccontextmanager
async def proxy_before_a_replica(
    **options: float,
) -> AsyncIterator[tuple[ServiceProxy, Connect, list[bytes]]]:
    """A proxy (no probes) before a stand-in replica that records each body it gets and answers 200."""
    bodies: list[bytes] = []

    async def replica(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                bodies.append(await reader.readexactly(length))
                writer.write(ANSWER)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            writer.close()  # the proxy closed its kept-alive connection, or the test ended

    server = await asyncio.start_server(replica, "127.0.0.1", 0)
    proxy = ServiceProxy("s-limits", probe_every=3600, **options)  # type: ignore[arg-type]
    port = await proxy.start(None)
    proxy.add(Backend(server.sockets[0].getsockname()[1]))
    try:
        yield proxy, lambda: asyncio.open_connection("127.0.0.1", port), bodies
    finally:
        await proxy.close()
        server.close()


async def answer_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """Everything the proxy sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), seconds)


def test_stalled_heads_and_bodies_get_a_408_and_idle_connections_are_closed() -> None:
    async def scenario() -> None:
        async with proxy_before_a_replica(read_timeout=0.5) as (proxy, connect, bodies):
            idle, half_head, half_body = await connect(), await connect(), await connect()
            half_head[1].write(INFER)  # the head never ends
            half_body[1].write(INFER + b"content-length: 1000\r\n\r\n{")  # the body never comes
            started = time.monotonic()
            answers = await asyncio.gather(*(answer_within(r, 10) for r, _ in (idle, half_head, half_body)))
            assert time.monotonic() - started < 5
            assert answers[0] == b""  # a kept-alive connection with nothing asked: closed without a word
            for answer, what in zip(
                answers[1:],
                ("the request head was not complete", "no byte of the request body came"),
                strict=True,
            ):
                assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
                assert answer.endswith(
                    f'{{"error": "{what} within 0.5s (MLP_SERVING_READ_TIMEOUT)"}}'.encode()
                )
            assert bodies == [] and not proxy._clients  # nothing forwarded, nothing held

    asyncio.run(scenario())


def test_a_slow_but_steady_body_and_a_kept_alive_client_are_served() -> None:
    """The timeout is for a wait, not for a whole body: a body whose bytes keep coming gets through even
    when it takes longer than the timeout, and a client that asks again within it keeps its connection."""

    async def scenario() -> None:
        async with proxy_before_a_replica(read_timeout=1.0) as (_, connect, bodies):
            reader, writer = await connect()
            body = b'{"inputs": []}' * 4
            writer.write(INFER + b"content-length: %d\r\n\r\n" % len(body))
            for i in range(0, len(body), 8):  # 7 pieces 0.25 s apart: 1.5 s in all
                await asyncio.sleep(0.25)
                writer.write(body[i : i + 8])
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200 OK") and await reader.readexactly(11) == b'{"ok":true}'
            await asyncio.sleep(0.3)
            writer.write(INFER + b"content-length: 2\r\n\r\n{}")
            assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200 OK")
            assert bodies == [body, b"{}"]
            writer.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("length", [b"-1", b"+5", b"1_0", b"ten"])
def test_a_content_length_that_is_not_a_non_negative_integer_is_a_400(length: bytes) -> None:
    async def scenario() -> None:
        async with proxy_before_a_replica() as (_, connect, bodies):
            reader, writer = await connect()
            writer.write(INFER + b"content-length: " + length + b"\r\n\r\n")
            answer = await answer_within(reader, 5)
            assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n"), answer
            message = f"Content-Length {length.decode()!r} is not a non-negative integer"
            assert answer.endswith(f'{{"error": "{message}"}}'.encode())
            assert bodies == []

    asyncio.run(scenario())


def test_connections_beyond_the_cap_are_answered_503_and_closed() -> None:
    async def scenario() -> None:
        async with proxy_before_a_replica(max_clients=3) as (proxy, connect, _):
            held = [await connect() for _ in range(3)]
            for _, writer in held:  # each connection is taken by the proxy once it asks something
                writer.write(INFER + b"content-length: 2\r\n\r\n{}")
            for reader, _ in held:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
                await reader.readexactly(11)
            reader, _ = await connect()
            answer = await answer_within(reader, 5)
            assert answer.startswith(b"HTTP/1.1 503 Service Unavailable\r\n"), answer
            assert b"the endpoint holds 3 connections; retry later" in answer
            held.pop()[1].close()
            for _ in range(100):  # the proxy notices the close
                if len(proxy._clients) < 3:
                    break
                await asyncio.sleep(0.01)
            reader, writer = await connect()
            writer.write(INFER + b"content-length: 2\r\n\r\n{}")
            assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)).startswith(b"HTTP/1.1 200 OK")

    asyncio.run(scenario())

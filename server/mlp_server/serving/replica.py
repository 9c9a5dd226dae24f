"""One replica: an ONNX model in onnxruntime behind the KServe v2 / Open Inference Protocol (HTTP).

    GET  /v2                          server metadata: name, version, extensions
    GET  /v2/health/live, /v2/health/ready
    GET  /v2/models/{name}[/versions/{version}], .../ready
    POST /v2/models/{name}[/versions/{version}]/infer   JSON tensors; the binary tensor data extension

Errors are ``{"error": message}`` with 400 (a bad request: the field is named; JSON with a key twice
in one object is named by its path), 404 (an unknown model, version or path), 405 or 500. JSON output
data writes NaN and infinities as ``NaN``, ``Infinity`` and ``-Infinity``, as Triton does (rapidjson's
kWriteNanAndInfFlag): tritonclient and Python's json read them; a strict JSON parser needs the binary
tensor data extension for them.

The event loop must stay free to answer the supervisor's readiness probes (one missed takes the
replica out of the rotation). Python's JSON parser and encoder hold the GIL throughout, so a thread
would not help: a request whose JSON is larger than :data:`OFF_LOOP_BYTES` is decoded (parsed, and its
tensors built) in a helper process, and an answer whose JSON tensors are that large is encoded
there. A large request's body goes from the socket to the helper, and its decoded arrays come
back (the model reads them in place), in a shared memory block the replica lends
(``multiprocessing.shared_memory``, named ``mlp-PID-...``) and keeps for the next (:class:`Blocks`).
Measured on an 18 MB request (~0.3 s of decoding): through the pool's pipe, pickled, they took
~35-50 ms (~20 ms to the helper, ~15 back), the shared block ~5-10 ms; a new block's pages fault in
at ~14 ms per 18 MB, hence the kept one; and the whole body as one bytes object, and the feeds
copied out, cost the replica's cold heap ~20 ms more of page faults (bench/large_requests.py: ~1.07x
the loop's time in quiet rounds, was ~1.17x). A large JSON answer's arrays go to the helper, and the
answer comes back, in a lent block too, and it is sent from there (:class:`BlockResponse`): through
the pipe, a 34 MB answer's bytes cost ~25 ms more (pickled, read, a fresh bytes object). Every block
is unlinked once done with, on every path (an error, a cancelled request, a client gone mid-body,
the replica's stop). The helper pool's named semaphores are unlinked as soon as its process has
opened them (:func:`_unlink_names`): a replica killed with its process group leaves none.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import multiprocessing
import multiprocessing.util
import os
import secrets
import shutil
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from multiprocessing.shared_memory import SharedMemory
from multiprocessing.synchronize import SemLock
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import json_keys
from .files import ModelLoadError, find_onnx
from .proxy import MAX_BODY
from .replica_files import BLOCK_PREFIX as BLOCK_PREFIX  # blocks are named mlp-PID-...
from .replica_files import SHM_DIR as SHM_DIR  # tmpfs: a write past its room is a SIGBUS
from .tensors import TensorError, TensorSpec, decode_input, encode_output, spec_of

log = logging.getLogger("mlp_server.serving.replica")
_Shared = TypeVar("_Shared")  # what the helper answers for work on a lent block

BINARY_HEADER = "inference-header-content-length"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
SERVER_NAME = "mlp-serving"
EXTENSIONS = ["binary_tensor_data"]
# JSON above this is decoded and encoded in the helper process: on this VM, loaded, the parser did
# ~13 MB/s, so 1 MiB holds the loop ~80 ms at most, well within a probe's 1 s. The variable is for
# bench/large_requests.py (a huge value: everything on the loop, as before).
OFF_LOOP_BYTES = int(os.environ.get("MLP_SERVING_OFF_LOOP_BYTES") or 1024 * 1024)


@dataclass(frozen=True)
class Signature:
    """What decoding a request and encoding an answer need of the model (picklable: no session)."""

    name: str
    version: str
    inputs: dict[str, TensorSpec] = field(hash=False)
    outputs: dict[str, TensorSpec] = field(hash=False)


@dataclass
class LoadedModel:
    name: str
    version: str
    session: Any  # onnxruntime.InferenceSession
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]

    @property
    def signature(self) -> Signature:
        return Signature(self.name, self.version, self.inputs, self.outputs)

    @property
    def providers(self) -> list[str]:
        providers: list[str] = self.session.get_providers()
        return providers

    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "versions": [self.version],
            "platform": "onnxruntime_onnx",
            "inputs": [s.to_wire() for s in self.inputs.values()],
            "outputs": [s.to_wire() for s in self.outputs.values()],
        }

    def run(self, feeds: dict[str, npt.NDArray[Any]], names: list[str]) -> list[npt.NDArray[Any]]:
        result: list[npt.NDArray[Any]] = self.session.run(names, feeds)
        return result


def load_model(model_dir: Path, name: str, version: str, threads: int, want_gpu: bool) -> LoadedModel:
    import onnxruntime as ort

    path = find_onnx(model_dir)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Replicas share the machine's cores: idle onnxruntime threads must sleep, not spin.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    providers = [CUDA, CPU] if want_gpu and CUDA in ort.get_available_providers() else [CPU]
    try:
        session = ort.InferenceSession(str(path), options, providers=providers)
        inputs = {i.name: spec_of(i.name, i.type, i.shape) for i in session.get_inputs()}
        outputs = {o.name: spec_of(o.name, o.type, o.shape) for o in session.get_outputs()}
    except Exception as exc:  # onnxruntime raises its own exception types for a bad model
        raise ModelLoadError(f"onnxruntime cannot load {path.name}: {exc}".replace("\n", " ")) from exc
    return LoadedModel(name, version, session, inputs, outputs)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class BadRequest(Exception):
    pass


def _parse(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    """The JSON request and the binary tail (binary tensor data extension)."""
    if header_length is not None:
        try:
            split = int(header_length)
        except ValueError:
            raise BadRequest(f"Inference-Header-Content-Length {header_length!r} is not an integer") from None
        if not 0 <= split <= len(body):
            raise BadRequest(f"Inference-Header-Content-Length {split} is outside the body")
        head, tail = body[:split], body[split:]
    else:
        head, tail = body, b""
    try:
        request = json_keys.loads(head)
    except json_keys.DuplicateKeyError as exc:
        raise BadRequest(
            f"{exc.path}: the key appears more than once in its object; send each key once"
        ) from None
    except RecursionError:
        raise BadRequest("the request nests objects and arrays too deeply") from None
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("the request is not valid JSON") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise BadRequest("the request must be a JSON object with an 'inputs' list")
    _parameters(request, "the request's")
    outputs = request.get("outputs")
    if outputs is not None and not isinstance(outputs, list):
        raise BadRequest(f"'outputs' must be a list of objects with a 'name', got {outputs!r}")
    return request, tail


def _parameters(owner: dict[str, Any], whose: str) -> dict[str, Any]:
    """``owner``'s ``parameters``: a JSON object (absent or null: none)."""
    parameters = owner.get("parameters")
    if parameters is None:
        return {}
    if not isinstance(parameters, dict):
        raise BadRequest(f"{whose} 'parameters' must be a JSON object, got {parameters!r}")
    return parameters


def _flag(parameters: dict[str, Any], key: str, whose: str, default: bool) -> bool:
    value = parameters.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{whose} parameters.{key} must be true or false, got {value!r}")
    return value


def _feeds(
    model: Signature, request: dict[str, Any], tail: bytes, may_hold_bools: bool = True
) -> dict[str, npt.NDArray[Any]]:
    feeds: dict[str, npt.NDArray[Any]] = {}
    offset = 0
    for tensor in request["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise TensorError("each input must be an object with a 'name'")
        name = tensor["name"]
        spec = model.inputs.get(name)
        if spec is None:
            raise TensorError(
                f"input {name!r} is not an input of model {model.name}; inputs: {', '.join(model.inputs)}"
            )
        if name in feeds:
            raise TensorError(f"input {name!r} is given twice")
        size = _parameters(tensor, f"input {name!r}:").get("binary_data_size")
        binary = None
        if size is not None:
            if not isinstance(size, int) or size < 0 or offset + size > len(tail):
                raise TensorError(f"input {name!r}: binary_data_size {size!r} does not fit the binary data")
            binary, offset = tail[offset : offset + size], offset + size
        feeds[name] = decode_input(spec, tensor, binary, may_hold_bools=may_hold_bools)
    missing = [n for n in model.inputs if n not in feeds]
    if missing:
        raise TensorError(
            f"input {missing[0]!r} is missing; model {model.name} needs {', '.join(model.inputs)}"
        )
    return feeds


def _requested_outputs(model: Signature, request: dict[str, Any]) -> list[tuple[str, bool]]:
    default_binary = _flag(
        _parameters(request, "the request's"), "binary_data_output", "the request's", False
    )
    wanted = request.get("outputs")
    if not wanted:
        return [(name, default_binary) for name in model.outputs]
    result = []
    for out in wanted:
        name = out.get("name") if isinstance(out, dict) else None
        if not isinstance(name, str):
            raise BadRequest(f"each of 'outputs' must be an object with a 'name', got {out!r}")
        if name not in model.outputs:
            raise TensorError(
                f"output {name!r} is not an output of model {model.name}; outputs: {', '.join(model.outputs)}"
            )
        whose = f"output {name!r}:"
        result.append((name, _flag(_parameters(out, whose), "binary_data", whose, default_binary)))
    return result


def server_metadata() -> dict[str, Any]:
    # The package's one version constant; its root module is loaded already (with dtypes, by tensors).
    from volcengine_ml_platform import __version__

    return {"name": SERVER_NAME, "version": __version__, "extensions": EXTENSIONS}


@dataclass(frozen=True)
class Decoded:
    request_id: Any  # the request's "id", echoed in the answer (None: none given)
    has_id: bool
    feeds: dict[str, npt.NDArray[Any]]
    outputs: list[tuple[str, bool]]


def decode(model: Signature, body: bytes, header_length: str | None) -> Decoded:
    """A request's feeds and wanted outputs (BadRequest, TensorError: a 400)."""
    request, tail = _parse(body, header_length)
    # JSON without true or false (most requests: a memchr-speed look) holds no bool among the numbers;
    # only in UTF-8: json also reads UTF-16 and UTF-32, where true is not the bytes b"true"
    end = _json_bytes(len(body), header_length)
    may_hold_bools = (
        json.detect_encoding(body[: min(4, end)]) not in ("utf-8", "utf-8-sig")
        or body.find(b"true", 0, end) >= 0
        or body.find(b"false", 0, end) >= 0
    )
    feeds = _feeds(model, request, tail, may_hold_bools)
    return Decoded(request.get("id"), "id" in request, feeds, _requested_outputs(model, request))


def _json_bytes(size: int, header_length: str | None) -> int:
    """How much of a ``size``-byte body is JSON (the rest, with the binary extension, is raw tensor
    bytes)."""
    try:
        return min(size, max(0, int(header_length))) if header_length is not None else size
    except ValueError:
        return 0  # refused by _parse at once


def _content_length(request: Request) -> int | None:
    """The request's Content-Length (None: none, or not a number; uvicorn reads the body as sent)."""
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


@dataclass(frozen=True)
class SharedFeeds:
    """What the helper sends back for a request decoded from shared memory: the decoded request less
    its numeric feeds, which are in shared memory laid out as ``layout`` (name, dtype, shape, offset):
    in the block the replica lent (``block`` None), or in a new block ``block`` when they did not fit
    in it. Feeds numpy cannot lay flat (BYTES) are in ``decoded`` itself."""

    decoded: Decoded
    block: str | None
    layout: list[tuple[str, str, tuple[int, ...], int]]


def _buffer(block: SharedMemory) -> memoryview:
    buf = block.buf
    assert buf is not None, "the block is closed"
    return buf


_lent: list[SharedMemory] = []  # in the helper: the block the replica lent last, mapped


def _mapped(name: str) -> SharedMemory:
    """In the helper: the block ``name``, mapped once while the replica lends it (mapping it anew
    faulted each of its pages in again, ~25 ms per 18 MB); the block mapped before is closed."""
    if not (_lent and _lent[0].name == name):
        _unmap()
        _lent.append(SharedMemory(name))
    return _lent[0]


def _unmap() -> None:
    while _lent:
        _lent.pop().close()


def decode_shared(model: Signature, lent: str, size: int, header_length: str | None) -> SharedFeeds:
    """In the helper: :func:`decode` of the first ``size`` bytes of the shared memory block ``lent``
    (the replica's); the numeric feeds go back in that block, or in a new one when they do not fit
    (the replica unlinks it once read; this process does when it cannot hand it over)."""
    block = _mapped(lent)
    try:
        body = bytes(_buffer(block)[:size])
        decoded = decode(model, body, header_length)
        del body
        flat = {name: a for name, a in decoded.feeds.items() if a.dtype != np.object_}
        layout, offset = [], 0
        for name, array in flat.items():
            layout.append((name, array.dtype.str, array.shape, offset))
            offset += -(-array.nbytes // 64) * 64  # each array 64-byte aligned
        if offset == 0:
            return SharedFeeds(decoded, None, [])
        rest = {name: a for name, a in decoded.feeds.items() if name not in flat}
        if offset <= block.size:
            _lay(block, layout, flat)
            return SharedFeeds(replace(decoded, feeds=rest), None, layout)
    finally:
        if block.size > Blocks.KEEP_BYTES:  # the replica does not keep it either
            _unmap()
    try:
        own = new_block(offset, os.getppid())
    except OSError as exc:  # shared memory has no room for them: the feeds go back through the pipe
        log.warning("returning %d bytes of decoded inputs through the pipe: %s", offset, exc)
        return SharedFeeds(decoded, None, [])
    try:
        _lay(own, layout, flat)
        own.close()
    except BaseException:
        own.close()
        own.unlink()
        raise
    return SharedFeeds(replace(decoded, feeds=rest), own.name, layout)


def _lay(
    block: SharedMemory,
    layout: list[tuple[str, str, tuple[int, ...], int]],
    arrays: dict[str, npt.NDArray[Any]],
) -> None:
    for (_, dtype, shape, start), array in zip(layout, arrays.values(), strict=True):
        np.ndarray(shape, dtype, buffer=_buffer(block), offset=start)[...] = array


@dataclass(frozen=True)
class SharedAnswer:
    """What the helper sends back for an answer encoded from shared memory: its ``size`` bytes are at
    the start of the block the replica lent, or, when they did not fit there, they are ``content``."""

    size: int
    headers: dict[str, str]
    content: bytes | None = None


def encode_shared(
    model: Signature, decoded: Decoded, lent: str, layout: list[tuple[str, str, tuple[int, ...], int]]
) -> SharedAnswer:
    """In the helper: :func:`encode` of the arrays laid in the shared memory block ``lent`` as
    ``layout``; the answer is written over them in that block (through the pipe when it does not fit)."""
    block = _mapped(lent)
    try:
        buf = _buffer(block)
        views = [np.ndarray(shape, dtype, buffer=buf, offset=start) for _, dtype, shape, start in layout]
        content, headers = encode(model, decoded, views)
        del views
        if len(content) > block.size:
            return SharedAnswer(len(content), headers, content)
        buf[: len(content)] = content
        return SharedAnswer(len(content), headers)
    finally:
        if block.size > Blocks.KEEP_BYTES:  # the replica does not keep it either
            _unmap()


def _answer_room(decoded: Decoded, arrays: list[npt.NDArray[Any]]) -> int:
    """The most bytes the answer to ``decoded`` with the numeric ``arrays`` can take (each JSON value
    with its comma: a float's repr at most 24 characters, an integer's 20, ``false``), with 64 KiB for
    the rest (names, shapes, the id; an answer larger after all comes back through the pipe)."""
    room = 64 * 1024
    for (_, binary), array in zip(decoded.outputs, arrays, strict=True):
        room += array.nbytes if binary else array.size * {"b": 6, "f": 25}.get(array.dtype.kind, 21)
    return room


ANSWER_CHUNK = 1024 * 1024


class BlockResponse(Response):
    """An answer in a shared memory block: sent as copies of 1 MiB (a transport may keep what it is
    handed until it is written, and the block is written again once it goes back), ``done`` (the block
    given back) once sent, or once the sending ended otherwise (the client gone, the replica
    stopping)."""

    def __init__(
        self, block: SharedMemory, size: int, headers: dict[str, str], done: Callable[[], None]
    ) -> None:
        super().__init__(None, headers={**headers, "content-length": str(size)})
        self.block, self.size, self.done = block, size, done

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            start = {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
            await send(start)
            buf = _buffer(self.block)
            for at in range(0, self.size, ANSWER_CHUNK):
                chunk = bytes(buf[at : min(self.size, at + ANSWER_CHUNK)])
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            self.done()


def _feeds_of(shared: SharedFeeds, lent: SharedMemory) -> dict[str, npt.NDArray[Any]]:
    """In the replica: the feeds of ``shared``: views of the lent block (valid while it is lent), or
    copied out of a block of their own, which is unlinked."""
    feeds = dict(shared.decoded.feeds)
    if shared.block is None:
        buf = _buffer(lent)
        for name, dtype, shape, start in shared.layout:
            feeds[name] = np.ndarray(shape, dtype, buffer=buf, offset=start)
        return feeds
    block = SharedMemory(shared.block)
    try:
        for name, dtype, shape, start in shared.layout:
            feeds[name] = np.ndarray(shape, dtype, buffer=_buffer(block), offset=start).copy()
    finally:
        block.close()
        block.unlink()
    return feeds


def _drop(future: Future[SharedFeeds]) -> None:
    """A shared decode nobody waits for any more (the request was cancelled): unlink its new block."""
    if future.cancelled() or future.exception() is not None:
        return
    name = future.result().block
    if name is not None:
        try:
            block = SharedMemory(name)
        except FileNotFoundError:
            return
        block.close()
        block.unlink()


class Blocks:
    """The shared memory blocks the replica lends its helper, one per large request in flight. The
    largest returned (at most :data:`KEEP_BYTES`) is kept for the next: a new block's pages are
    faulted in as the body is written (~14 ms per 18 MB on this VM, about the pipe's whole cost).
    At most :data:`LEND_BYTES` are lent at once: a block is reserved whole before its body comes, so
    heads claiming large bodies and sending none would otherwise hold any room /dev/shm has (past it,
    a body takes the pipe, held as it comes)."""

    KEEP_BYTES = 64 * 1024 * 1024
    LEND_BYTES = 512 * 1024 * 1024

    def __init__(self) -> None:
        self._kept: SharedMemory | None = None
        self._lent = 0  # bytes of the blocks taken and not given back
        self._lock = threading.Lock()

    def take(self, size: int) -> SharedMemory:
        """A block of at least ``size`` bytes; OSError when shared memory has no room for it."""
        with self._lock:
            kept, self._kept = self._kept, None
            if kept is not None and kept.size >= size:
                self._lent += kept.size
                return kept
        size = -(-size // (1024 * 1024)) * 1024 * 1024
        if kept is not None and size > self.KEEP_BYTES and _room(2 * size):
            self._keep(kept)  # the new block is not kept: this one stays for the next request
        elif kept is not None:
            _unlink(kept)  # the new one, larger, is kept in its place (or its room is needed)
        if not _room(2 * size):  # room for the feeds too
            raise OSError(errno.ENOSPC, f"{SHM_DIR} has no room for a {size}-byte block")
        with self._lock:
            if self._lent + size > self.LEND_BYTES:
                raise OSError(
                    errno.ENOSPC,
                    f"a {size}-byte block: {self._lent} bytes are lent, the replica lends at most "
                    f"{self.LEND_BYTES} at once",
                )
            self._lent += size
        try:
            block = new_block(size, os.getpid())
        except BaseException:
            with self._lock:
                self._lent -= size
            raise
        with self._lock:
            self._lent += block.size - size  # as given back (where the system rounds it up)
        return block

    def give(self, block: SharedMemory) -> None:
        """``block`` back: kept when it is the largest, else unlinked."""
        with self._lock:
            self._lent -= block.size
        self._keep(block)

    def _keep(self, block: SharedMemory) -> None:
        drop: SharedMemory | None = block
        if block.size <= self.KEEP_BYTES:
            with self._lock:
                if self._kept is None or self._kept.size < block.size:
                    drop, self._kept = self._kept, block
        if drop is not None:
            _unlink(drop)

    def clear(self) -> None:
        with self._lock:
            kept, self._kept = self._kept, None
        if kept is not None:
            _unlink(kept)


def _room(size: int) -> bool:
    """Whether shared memory has ``size`` bytes free (where there is no :data:`SHM_DIR`: yes)."""
    return not SHM_DIR.is_dir() or shutil.disk_usage(SHM_DIR).free >= size


def new_block(size: int, replica: int) -> SharedMemory:
    """A new shared memory block named for the replica's pid (``mlp-PID-...``: what is left of a
    replica is found by name), ``size`` bytes, its room reserved (:func:`_reserved`)."""
    while True:
        try:
            return _reserved(f"{BLOCK_PREFIX}{replica}-{secrets.token_hex(6)}", size)
        except FileExistsError:
            continue


def _reserved(name: str, size: int) -> SharedMemory:
    """The new block ``name`` with all its ``size`` bytes reserved in shared memory (``posix_fallocate``
    on its file in :data:`SHM_DIR`): a block made by ``ftruncate`` alone is sparse, and a write into a
    page shared memory then has no room for (another process filled it since the free space was
    looked at) kills the process with SIGBUS. Here that is an OSError (ENOSPC) before anything is
    written, which the callers answer or fall back from. Where there is no such folder (not Linux),
    the block is made as ``SharedMemory`` makes it."""
    if not SHM_DIR.is_dir() or not hasattr(os, "posix_fallocate"):
        return SharedMemory(name, create=True, size=size)
    path = SHM_DIR / name  # where shm_open("/name") puts it on Linux
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        os.posix_fallocate(fd, 0, size)
        return SharedMemory(name)  # maps it (and tracks it, as a block it created)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    finally:
        os.close(fd)


def _unlink(block: SharedMemory) -> None:
    block.close()
    block.unlink()


class OffLoop:
    """The helper process (one, started at the first large request; ``spawn``: no fork of a process
    running onnxruntime's threads) that decodes and encodes large JSON off the replica's loop."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()
        self._blocks = Blocks()

    def _started(self) -> ProcessPoolExecutor:
        # In a worker thread: starting the pool waits for its manager thread and its process, which
        # took the loop ~1 s under load when done there.
        with self._starting:
            if self._pool is None:
                named = _named_semaphores()
                pool = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exit_with,
                    initargs=(os.getpid(),),
                )
                pool.submit(int).result()
                _unlink_names(set(_named_semaphores()) - set(named))
                self._pool = pool
            return self._pool

    async def _pool_now(self) -> ProcessPoolExecutor:
        pool = self._pool
        if pool is None:
            pool = await run_in_threadpool(self._started)
        return pool

    def _broken(self, pool: ProcessPoolExecutor) -> None:
        """It died (e.g. out of memory on a huge body): a new one next time."""
        with self._starting:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False)

    def close(self) -> None:
        """Stop the helper (waiting for what it runs) and unlink the kept block."""
        with self._starting:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
        self._blocks.clear()

    async def _submit(
        self, pool: ProcessPoolExecutor, fn: Any, *args: Any
    ) -> tuple[ProcessPoolExecutor, Future[Any]]:
        """``fn(*args)`` handed to the helper of ``pool``, and that pool. A helper that died since the
        last request (killed while idle, e.g. by the out-of-memory killer: nothing of this request
        reached it) is replaced by a new one first, which is handed the call (one that dies during a
        call is not: the call may be what killed it)."""
        try:
            return pool, pool.submit(fn, *args)
        except BrokenProcessPool:
            self._broken(pool)
        pool = await self._pool_now()
        try:
            return pool, pool.submit(fn, *args)
        except BrokenProcessPool:
            self._broken(pool)
            raise

    async def call(self, fn: Any, *args: Any) -> Any:
        pool, future = await self._submit(await self._pool_now(), fn, *args)
        try:
            return await asyncio.wrap_future(future)
        except BrokenProcessPool:
            self._broken(pool)
            raise

    async def decode(
        self,
        model: Signature,
        body: bytes | AsyncIterator[bytes],
        size: int,
        header_length: str | None,
        lent: AsyncExitStack,
    ) -> tuple[Decoded, dict[str, npt.NDArray[Any]]]:
        """:func:`decode` in the helper of the ``size``-byte ``body`` (bytes, or its chunks as they
        arrive), the body and the feeds through shared memory (through the pipe, pickled, when shared
        memory has no room): the request less its feeds, and its feeds, which may be views of the
        block lent for it: ``lent`` gives it back when it closes."""
        pool = await self._pool_now()
        try:
            block = self._blocks.take(size)
        except OSError as exc:
            log.warning("decoding a %d-byte request through the pipe: %s", size, exc)
            whole = body if isinstance(body, bytes) else b"".join([chunk async for chunk in body])
            decoded: Decoded = await self.call(decode, model, whole, header_length)
            return decoded, decoded.feeds
        try:
            await _fill(_buffer(block), body, size)
            pool, future = await self._submit(pool, decode_shared, model, block.name, size, header_length)
        except BaseException:
            self._blocks.give(block)
            raise
        shared: SharedFeeds = await self._lent_result(pool, future, block, late=_drop)
        lent.callback(self._blocks.give, block)
        return shared.decoded, _feeds_of(shared, block)

    async def _lent_result(
        self,
        pool: ProcessPoolExecutor,
        future: Future[_Shared],
        block: SharedMemory,
        late: Callable[[Future[_Shared]], None] | None = None,
    ) -> _Shared:
        """The helper's result of work on ``block``, which goes back on any failure: once the helper is
        done with it when the request is cancelled (after ``late`` has cleaned up what it made)."""
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:  # the helper may still use the block

            def done_late(done: Future[_Shared]) -> None:
                if late is not None:
                    late(done)
                self._blocks.give(block)

            future.add_done_callback(done_late)
            raise
        except BrokenProcessPool:
            self._blocks.give(block)
            self._broken(pool)
            raise
        except BaseException:
            self._blocks.give(block)
            raise

    async def _piped(self, model: Signature, decoded: Decoded, arrays: list[npt.NDArray[Any]]) -> Response:
        content, headers = await self.call(encode, model, decoded, arrays)
        return Response(content, headers=headers)

    async def encode(self, model: Signature, decoded: Decoded, arrays: list[npt.NDArray[Any]]) -> Response:
        """:func:`encode` in the helper: the arrays go to it, and the answer comes back, in a shared
        memory block (the answer is sent from it, and the block given back once sent); through the
        pipe, pickled, for BYTES outputs or when shared memory has no room."""
        if any(a.dtype == np.object_ for a in arrays):
            return await self._piped(model, decoded, arrays)
        laid = {str(i): a for i, a in enumerate(arrays)}
        layout, offset = [], 0
        for name, array in laid.items():
            layout.append((name, array.dtype.str, array.shape, offset))
            offset += -(-array.nbytes // 64) * 64  # each array 64-byte aligned
        pool = await self._pool_now()
        try:
            block = self._blocks.take(max(offset, _answer_room(decoded, arrays)))
        except OSError as exc:
            log.warning("encoding an answer through the pipe: %s", exc)
            return await self._piped(model, decoded, arrays)
        try:
            _lay(block, layout, laid)
            pool, future = await self._submit(pool, encode_shared, model, decoded, block.name, layout)
        except BaseException:
            self._blocks.give(block)
            raise
        answer: SharedAnswer = await self._lent_result(pool, future, block)
        if answer.content is not None:
            self._blocks.give(block)
            return Response(answer.content, headers=answer.headers)
        return BlockResponse(block, answer.size, answer.headers, lambda: self._blocks.give(block))


def _named_semaphores() -> dict[str, Any]:
    """multiprocessing's finalizers that unlink the named POSIX semaphores of this process, by name:
    a spawned process opens a lock or semaphore by its name (``/dev/shm/sem.mp-...``), so each keeps it
    until it is collected or the process exits, when the finalizer unlinks it and tells the resource
    tracker. (None found, should multiprocessing change: the names stay, as before.)"""
    registry = getattr(multiprocessing.util, "_finalizer_registry", {})
    cleanup = getattr(SemLock, "_cleanup", None)
    return {
        f._args[0]: f
        for f in list(registry.values())
        if cleanup is not None and getattr(f, "_callback", None) is cleanup and f._args
    }


def _unlink_names(names: set[str]) -> None:
    """Unlink the named semaphores ``names`` now, as their finalizers would later, once every process
    that uses them has opened them (the helper pool's five, once its one process answered): they live
    on while open, and a replica killed with its process group (SIGKILL, its resource tracker too)
    leaves none behind in /dev/shm. The pool starts no other process (a dead one: a new pool)."""
    finalizers = _named_semaphores()
    for name in names:
        try:
            finalizers[name]()
        except OSError as exc:  # unlinked by another hand already: nothing to leave behind
            log.warning("cannot unlink the semaphore %s: %s", name, exc)


async def _fill(buf: memoryview, body: bytes | AsyncIterator[bytes], size: int) -> None:
    """The ``size`` bytes of ``body`` at the start of ``buf``."""
    if isinstance(body, bytes):
        buf[:size] = body
        return
    at = 0
    async for chunk in body:
        if at + len(chunk) > size:
            raise BadRequest(f"the body is longer than its Content-Length ({size})")
        buf[at : at + len(chunk)] = chunk
        at += len(chunk)
    if at != size:
        raise BadRequest(f"the body is {at} bytes, shorter than its Content-Length ({size})")


def _exit_with(parent: int) -> None:
    """In the helper process: exit once the replica is gone. Its queues hold both ends of their pipes,
    so it never reads an end of file, and a replica stopped by a signal runs no exit handler."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="mlp-helper-watch", daemon=True).start()


def create_replica_app(model: LoadedModel) -> Starlette:
    server = server_metadata()
    signature = model.signature
    off_loop = OffLoop()

    async def server_info(request: Request) -> Response:
        return JSONResponse(server)

    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        return JSONResponse({"ready": True})  # the app exists only once the model is loaded

    def unknown(request: Request) -> JSONResponse | None:
        """The 404 for a model name (or version) this replica does not serve; None when it does."""
        name, version = request.path_params["name"], request.path_params.get("version")
        if name != model.name:
            return _error(404, f"unknown model {name!r}; this endpoint serves {model.name!r}")
        if version is not None and version != model.version:
            return _error(
                404, f"unknown version {version!r} of model {name!r}; it serves version {model.version!r}"
            )
        return None

    async def model_metadata(request: Request) -> Response:
        return unknown(request) or JSONResponse(model.metadata())

    async def model_ready(request: Request) -> Response:
        return unknown(request) or JSONResponse({"name": model.name, "ready": True})

    async def infer(request: Request) -> Response:
        refused = unknown(request)
        if refused is not None:
            return refused
        header, length = request.headers.get(BINARY_HEADER), _content_length(request)
        if length is not None and length > MAX_BODY:
            # Refused before any room is reserved for it (the port is open to every local user);
            # through a service endpoint no body is larger. The rest is not read: the connection closes.
            message = f"the body ({length} bytes) is larger than {MAX_BODY} bytes, the most an endpoint takes"
            return JSONResponse({"error": message}, status_code=413, headers={"connection": "close"})
        async with AsyncExitStack() as lent:  # a shared memory block the feeds may be views of
            body: bytes | None = None
            try:
                if length is not None and _json_bytes(length, header) > OFF_LOOP_BYTES:
                    # from the socket into shared memory: never a bytes object of the whole body
                    stream = request.stream()
                    decoded, feeds = await off_loop.decode(signature, stream, length, header, lent)
                else:
                    body = await request.body()
                    length = len(body)
                    if _json_bytes(length, header) > OFF_LOOP_BYTES:
                        decoded, feeds = await off_loop.decode(signature, body, length, header, lent)
                    else:
                        decoded = decode(signature, body, header)
                        feeds = decoded.feeds
            except (BadRequest, TensorError) as exc:
                return _error(400, str(exc))
            except ClientDisconnect:
                # Not the replica's error: no traceback, no 500 (the shared memory block, if one was
                # lent, is back already). Nobody reads this answer: uvicorn drops it.
                log.info("the client closed the connection before sending its whole body (%s bytes)", length)
                return _error(400, "the connection closed before the whole body came")
            except BrokenProcessPool:
                log.warning("the process decoding a %d-byte request died", length)
                return _error(500, f"the process decoding the {length}-byte request died")
            del body
            outputs = decoded.outputs
            decoded = replace(decoded, feeds={})  # what the answer needs: not the inputs' arrays
            try:
                arrays = await run_in_threadpool(model.run, feeds, [name for name, _ in outputs])
            except Exception as exc:  # onnxruntime's own errors (e.g. a value the graph refuses)
                log.warning("inference failed: %s", exc)
                return _error(400, f"inference failed: {exc}".replace("\n", " "))
            # onnxruntime's outputs are its own arrays; one that were a view of an input would be
            # copied before the block goes back
            arrays = [
                a.copy() if any(np.may_share_memory(a, f) for f in feeds.values()) else a for a in arrays
            ]
            del feeds
        as_json = sum(
            np.asarray(a).nbytes for (_, binary), a in zip(outputs, arrays, strict=True) if not binary
        )
        try:
            if as_json > OFF_LOOP_BYTES // 4:  # JSON text is several times the array's bytes
                return await off_loop.encode(signature, decoded, arrays)
            content, headers = encode(signature, decoded, arrays)
        except BrokenProcessPool:
            log.warning("the process encoding a %d-byte answer died", as_json)
            return _error(500, "the process encoding the answer died")
        return Response(content, headers=headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        # Starlette's own answers (an unknown path, a wrong method) in the protocol's error shape
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        what = {404: "no such path", 405: "method not allowed"}.get(status, "error")
        headers = exc.headers if isinstance(exc, HTTPException) else None  # 405: Allow
        body = {"error": f"{what}: {request.method} {request.url.path}"}
        return JSONResponse(body, status_code=status, headers=headers)

    routes = [Route("/v2", server_info, methods=["GET"])]
    routes += [Route("/v2/health/live", live, methods=["GET"])]
    routes += [Route("/v2/health/ready", ready, methods=["GET"])]
    for base in ("/v2/models/{name}", "/v2/models/{name}/versions/{version}"):
        routes += [
            Route(base, model_metadata, methods=["GET"]),
            Route(f"{base}/ready", model_ready, methods=["GET"]),
            Route(f"{base}/infer", infer, methods=["POST"]),
        ]

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        # uvicorn ends a replica stopped by SIGTERM with that signal once it has shut down: no exit
        # handler runs after this
        off_loop.close()

    return Starlette(routes=routes, exception_handlers={HTTPException: http_error}, lifespan=lifespan)


def encode(
    model: Signature, decoded: Decoded, arrays: list[npt.NDArray[Any]]
) -> tuple[bytes, dict[str, str]]:
    """The answer's bytes and headers: JSON, or JSON then the binary tensors' bytes."""
    tensors, blobs = [], []
    for (name, binary), array in zip(decoded.outputs, arrays, strict=True):
        wire, raw = encode_output(name, np.asarray(array), binary)
        tensors.append(wire)
        if raw is not None:
            blobs.append(raw)
    answer: dict[str, Any] = {"model_name": model.name, "model_version": model.version, "outputs": tensors}
    if decoded.has_id:
        answer["id"] = decoded.request_id
    head = json.dumps(answer, separators=(",", ":")).encode()
    if not blobs:
        return head, {"content-type": "application/json"}
    return b"".join([head, *blobs]), {
        "content-type": "application/octet-stream",
        "Inference-Header-Content-Length": str(len(head)),
    }

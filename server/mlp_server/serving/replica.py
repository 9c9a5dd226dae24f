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
there; the arrays come and go pickled, a copy each way.
"""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import json_keys
from .files import ModelLoadError, find_onnx
from .tensors import TensorError, TensorSpec, decode_input, encode_output, spec_of

log = logging.getLogger("mlp_server.serving.replica")

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
    # JSON without true or false (most requests: a memchr-speed look) holds no bool among the numbers
    end = _json_bytes(body, header_length)
    may_hold_bools = body.find(b"true", 0, end) >= 0 or body.find(b"false", 0, end) >= 0
    feeds = _feeds(model, request, tail, may_hold_bools)
    return Decoded(request.get("id"), "id" in request, feeds, _requested_outputs(model, request))


def _json_bytes(body: bytes, header_length: str | None) -> int:
    """How much of ``body`` is JSON (the rest, with the binary extension, is raw tensor bytes)."""
    try:
        return min(len(body), max(0, int(header_length))) if header_length is not None else len(body)
    except ValueError:
        return 0  # refused by _parse at once


class OffLoop:
    """The helper process (one, started at the first large request; ``spawn``: no fork of a process
    running onnxruntime's threads) that decodes and encodes large JSON off the replica's loop."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None
        self._starting = threading.Lock()

    def _started(self) -> ProcessPoolExecutor:
        # In a worker thread: starting the pool waits for its manager thread and its process, which
        # took the loop ~1 s under load when done there.
        with self._starting:
            if self._pool is None:
                pool = ProcessPoolExecutor(
                    1,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_exit_with,
                    initargs=(os.getpid(),),
                )
                pool.submit(int).result()
                self._pool = pool
            return self._pool

    async def call(self, fn: Any, *args: Any) -> Any:
        pool = self._pool
        if pool is None:
            pool = await run_in_threadpool(self._started)
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool:  # it died (e.g. out of memory on a huge body): a new one next time
            with self._starting:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False)
            raise


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
        body, header = await request.body(), request.headers.get(BINARY_HEADER)
        try:
            if _json_bytes(body, header) > OFF_LOOP_BYTES:
                decoded: Decoded = await off_loop.call(decode, signature, body, header)
            else:
                decoded = decode(signature, body, header)
        except (BadRequest, TensorError) as exc:
            return _error(400, str(exc))
        except BrokenProcessPool:
            log.warning("the process decoding a %d-byte request died", len(body))
            return _error(500, f"the process decoding the {len(body)}-byte request died")
        del body
        outputs, feeds = decoded.outputs, decoded.feeds
        decoded = replace(decoded, feeds={})  # what the answer needs: not the inputs' arrays
        try:
            arrays = await run_in_threadpool(model.run, feeds, [name for name, _ in outputs])
        except Exception as exc:  # onnxruntime's own errors (e.g. a value the graph refuses)
            log.warning("inference failed: %s", exc)
            return _error(400, f"inference failed: {exc}".replace("\n", " "))
        as_json = sum(
            np.asarray(a).nbytes for (_, binary), a in zip(outputs, arrays, strict=True) if not binary
        )
        try:
            if as_json > OFF_LOOP_BYTES // 4:  # JSON text is several times the array's bytes
                content, headers = await off_loop.call(encode, signature, decoded, arrays)
            else:
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
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error})


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

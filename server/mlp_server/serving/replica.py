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
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
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


@dataclass
class LoadedModel:
    name: str
    version: str
    session: Any  # onnxruntime.InferenceSession
    inputs: dict[str, TensorSpec]
    outputs: dict[str, TensorSpec]

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


def _feeds(model: LoadedModel, request: dict[str, Any], tail: bytes) -> dict[str, npt.NDArray[Any]]:
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
        feeds[name] = decode_input(spec, tensor, binary)
    missing = [n for n in model.inputs if n not in feeds]
    if missing:
        raise TensorError(
            f"input {missing[0]!r} is missing; model {model.name} needs {', '.join(model.inputs)}"
        )
    return feeds


def _requested_outputs(model: LoadedModel, request: dict[str, Any]) -> list[tuple[str, bool]]:
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


def create_replica_app(model: LoadedModel) -> Starlette:
    server = server_metadata()

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
        try:
            body, tail = _parse(await request.body(), request.headers.get(BINARY_HEADER))
            feeds = _feeds(model, body, tail)
            outputs = _requested_outputs(model, body)
        except (BadRequest, TensorError) as exc:
            return _error(400, str(exc))
        try:
            arrays = await run_in_threadpool(model.run, feeds, [name for name, _ in outputs])
        except Exception as exc:  # onnxruntime's own errors (e.g. a value the graph refuses)
            log.warning("inference failed: %s", exc)
            return _error(400, f"inference failed: {exc}".replace("\n", " "))
        return _answer(model, body, outputs, arrays)

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


def _answer(
    model: LoadedModel,
    request: dict[str, Any],
    outputs: list[tuple[str, bool]],
    arrays: list[npt.NDArray[Any]],
) -> Response:
    tensors, blobs = [], []
    for (name, binary), array in zip(outputs, arrays, strict=True):
        wire, raw = encode_output(name, np.asarray(array), binary)
        tensors.append(wire)
        if raw is not None:
            blobs.append(raw)
    answer: dict[str, Any] = {"model_name": model.name, "model_version": model.version, "outputs": tensors}
    if "id" in request:
        answer["id"] = request["id"]
    head = json.dumps(answer, separators=(",", ":")).encode()
    if not blobs:
        return Response(head, media_type="application/json")
    return Response(
        b"".join([head, *blobs]),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(head))},
    )

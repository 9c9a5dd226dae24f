"""One replica: an ONNX model in onnxruntime behind the KServe v2 / Open Inference Protocol (HTTP).

    GET  /v2/health/live, /v2/health/ready
    GET  /v2/models/{name}, /v2/models/{name}/ready
    POST /v2/models/{name}/infer      JSON tensors; the binary tensor data extension is supported

Errors are ``{"error": message}`` with 400 (bad request tensors, or JSON with a key twice in one
object, named by its path), 404 (unknown model) or 500.
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
    return request, tail


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
        size = (tensor.get("parameters") or {}).get("binary_data_size")
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
    default_binary = bool((request.get("parameters") or {}).get("binary_data_output", False))
    wanted = request.get("outputs")
    if not wanted:
        return [(name, default_binary) for name in model.outputs]
    result = []
    for out in wanted:
        name = out.get("name") if isinstance(out, dict) else None
        if name not in model.outputs:
            raise TensorError(
                f"output {name!r} is not an output of model {model.name}; outputs: {', '.join(model.outputs)}"
            )
        result.append((name, bool((out.get("parameters") or {}).get("binary_data", default_binary))))
    return result


def create_replica_app(model: LoadedModel) -> Starlette:
    async def live(request: Request) -> Response:
        return JSONResponse({"live": True})

    async def ready(request: Request) -> Response:
        return JSONResponse({"ready": True})  # the app exists only once the model is loaded

    def known(request: Request) -> bool:
        return bool(request.path_params["name"] == model.name)

    async def metadata(request: Request) -> Response:
        if not known(request):
            return _error(
                404, f"unknown model {request.path_params['name']!r}; this endpoint serves {model.name!r}"
            )
        return JSONResponse(model.metadata())

    async def model_ready(request: Request) -> Response:
        if not known(request):
            return _error(404, f"unknown model {request.path_params['name']!r}")
        return JSONResponse({"name": model.name, "ready": True})

    async def infer(request: Request) -> Response:
        if not known(request):
            return _error(
                404, f"unknown model {request.path_params['name']!r}; this endpoint serves {model.name!r}"
            )
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

    routes = [
        Route("/v2/health/live", live, methods=["GET"]),
        Route("/v2/health/ready", ready, methods=["GET"]),
        Route("/v2/models/{name}", metadata, methods=["GET"]),
        Route("/v2/models/{name}/ready", model_ready, methods=["GET"]),
        Route("/v2/models/{name}/infer", infer, methods=["POST"]),
    ]
    return Starlette(routes=routes)


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

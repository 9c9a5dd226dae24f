"""Calling a deployed service: the KServe v2 / Open Inference Protocol over HTTP (JSON tensors).

Inputs are numpy arrays (sent with their own datatype: a mismatch is the service's 400) or nested
lists (sent as they are, with the datatype the model's metadata declares: the service refuses by
name a value that datatype cannot hold, where a cast here would have made 1.7 into 1 or 1e5 into an
FP16 inf). Outputs come back as numpy arrays.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt

from ..dtypes import V2_DATATYPES, numpy_dtype, v2_datatype_of
from ..errors import InvalidParameterError, MLPlatformError, NotFoundError, ServerError, ValidationError


def v2_datatype(array: npt.NDArray[Any]) -> str:
    datatype = v2_datatype_of(array.dtype)
    if datatype is None:
        raise ValidationError(f"numpy dtype {array.dtype} has no KServe v2 datatype", field="inputs")
    return datatype


def _raise_for(response: httpx.Response, what: str) -> None:
    if response.status_code == 200:
        return
    try:
        message = str(response.json().get("error", response.text))
    except ValueError:
        message = response.text
    kind: type[MLPlatformError] = MLPlatformError
    if response.status_code == 400:
        kind = InvalidParameterError
    elif response.status_code == 404:
        kind = NotFoundError
    elif response.status_code >= 500:
        kind = ServerError
    raise kind(f"{what}: {message}", status_code=response.status_code)


class V2Client:
    """One service's endpoint (``http://host:port``) and its model name."""

    def __init__(self, endpoint_url: str, model_name: str, *, timeout: float = 60.0) -> None:
        self.base = f"{endpoint_url.rstrip('/')}/v2/models/{model_name}"
        self.model_name = model_name
        self._http = httpx.Client(timeout=timeout)
        self._metadata: dict[str, Any] | None = None

    def close(self) -> None:
        self._http.close()

    def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            response = self._http.get(self.base)
            _raise_for(response, f"metadata of {self.model_name}")
            self._metadata = dict(response.json())
        return self._metadata

    def _tensor(self, name: str, value: Any) -> dict[str, Any]:
        if isinstance(value, np.ndarray):
            array = value
        else:
            declared = {i["name"]: i["datatype"] for i in self.metadata().get("inputs", [])}
            if name not in declared:
                raise ValidationError(
                    f"inputs: {name!r} is not an input of {self.model_name}; inputs: {', '.join(declared)}",
                    field="inputs",
                )
            try:
                array = np.asarray(value)  # for the shape only: the values go as given, never cast
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"inputs: {name!r} is not a {declared[name]} tensor: {exc}", field="inputs"
                ) from None
            data = array.reshape(-1).tolist()
            return {"name": name, "datatype": declared[name], "shape": list(array.shape), "data": data}
        data = array.reshape(-1).tolist()
        return {"name": name, "datatype": v2_datatype(array), "shape": list(array.shape), "data": data}

    def infer(self, inputs: Mapping[str, Any]) -> dict[str, npt.NDArray[Any]]:
        if not isinstance(inputs, Mapping) or not inputs:
            raise ValidationError(
                "inputs: a non-empty dict of input name -> array or nested list", field="inputs"
            )
        body = {"inputs": [self._tensor(str(name), value) for name, value in inputs.items()]}
        response = self._http.post(f"{self.base}/infer", json=body)
        _raise_for(response, f"inference on {self.model_name}")
        outputs: dict[str, npt.NDArray[Any]] = {}
        for out in response.json()["outputs"]:
            datatype = out["datatype"] if out["datatype"] in V2_DATATYPES else "BYTES"
            outputs[out["name"]] = np.asarray(out["data"], dtype=numpy_dtype(datatype)).reshape(out["shape"])
        return outputs

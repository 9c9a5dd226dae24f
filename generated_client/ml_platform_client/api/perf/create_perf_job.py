from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_perf_job_request import CreatePerfJobRequest
from ...models.create_perf_job_response import CreatePerfJobResponse
from ...models.error_response import ErrorResponse
from ...types import Response, status_of


def _get_kwargs(
    *,
    body: CreatePerfJobRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/",
        "params": {
            "Action": "CreatePerfJob",
            "Version": "2021-07-01",
        },
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> CreatePerfJobResponse | ErrorResponse:
    # A body that is not the documented envelope (a proxy's HTML page, a truncated body) is reported
    # as UnexpectedStatus with the status and an excerpt, never as a bare JSON or KeyError.
    if response.status_code == 200:
        try:
            response_200 = CreatePerfJobResponse.from_dict(response.json())

            return response_200

        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise errors.UnexpectedStatus(response.status_code, response.content) from exc
    try:
        response_default = ErrorResponse.from_dict(response.json())

        return response_default

    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise errors.UnexpectedStatus(response.status_code, response.content) from exc


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[CreatePerfJobResponse | ErrorResponse]:
    return Response(
        status_code=status_of(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CreatePerfJobRequest,
) -> Response[CreatePerfJobResponse | ErrorResponse]:
    """Create a performance (and precision-conversion) job on a version

     One task per flavor for PERF_ONLY; one per flavor and conversion precision for CONVERT_PERF
    (a job parameter without `ConvertPrecisionList` gives one task of precision `base`). Tasks
    start in status `Submitted`.

    Local platform: perf workers run the tasks. A task runs the version's ONNX model with
    onnxruntime under the flavor's CPU budget (intra-op threads = the flavor's vCPU, capped by the
    machine's cores), with inputs generated from `TensorConfig`, at the MinShape and MaxShape batch,
    and records the figures in the task's `Result` and as a `Perf` entry of the version's
    `MetricsList`. CONVERT_PERF converts to FP16 (onnxconverter-common) or INT8 (onnxruntime dynamic
    quantization), checks the outputs against the source's, registers the converted model as a new
    version (SourceType Perf, BaseModelVersionID = the source version, SourceId = the task) and
    measures it. Other model formats, GPU flavors on a machine without a GPU, and unknown
    precisions or ConvertTypes (other than ONNX) fail with a `Message` naming the cause. A task
    whose worker stopped before finishing goes back to `Queued` for the next worker.

    Args:
        body (CreatePerfJobRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatePerfJobResponse | ErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: CreatePerfJobRequest,
) -> CreatePerfJobResponse | ErrorResponse | None:
    """Create a performance (and precision-conversion) job on a version

     One task per flavor for PERF_ONLY; one per flavor and conversion precision for CONVERT_PERF
    (a job parameter without `ConvertPrecisionList` gives one task of precision `base`). Tasks
    start in status `Submitted`.

    Local platform: perf workers run the tasks. A task runs the version's ONNX model with
    onnxruntime under the flavor's CPU budget (intra-op threads = the flavor's vCPU, capped by the
    machine's cores), with inputs generated from `TensorConfig`, at the MinShape and MaxShape batch,
    and records the figures in the task's `Result` and as a `Perf` entry of the version's
    `MetricsList`. CONVERT_PERF converts to FP16 (onnxconverter-common) or INT8 (onnxruntime dynamic
    quantization), checks the outputs against the source's, registers the converted model as a new
    version (SourceType Perf, BaseModelVersionID = the source version, SourceId = the task) and
    measures it. Other model formats, GPU flavors on a machine without a GPU, and unknown
    precisions or ConvertTypes (other than ONNX) fail with a `Message` naming the cause. A task
    whose worker stopped before finishing goes back to `Queued` for the next worker.

    Args:
        body (CreatePerfJobRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatePerfJobResponse | ErrorResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CreatePerfJobRequest,
) -> Response[CreatePerfJobResponse | ErrorResponse]:
    """Create a performance (and precision-conversion) job on a version

     One task per flavor for PERF_ONLY; one per flavor and conversion precision for CONVERT_PERF
    (a job parameter without `ConvertPrecisionList` gives one task of precision `base`). Tasks
    start in status `Submitted`.

    Local platform: perf workers run the tasks. A task runs the version's ONNX model with
    onnxruntime under the flavor's CPU budget (intra-op threads = the flavor's vCPU, capped by the
    machine's cores), with inputs generated from `TensorConfig`, at the MinShape and MaxShape batch,
    and records the figures in the task's `Result` and as a `Perf` entry of the version's
    `MetricsList`. CONVERT_PERF converts to FP16 (onnxconverter-common) or INT8 (onnxruntime dynamic
    quantization), checks the outputs against the source's, registers the converted model as a new
    version (SourceType Perf, BaseModelVersionID = the source version, SourceId = the task) and
    measures it. Other model formats, GPU flavors on a machine without a GPU, and unknown
    precisions or ConvertTypes (other than ONNX) fail with a `Message` naming the cause. A task
    whose worker stopped before finishing goes back to `Queued` for the next worker.

    Args:
        body (CreatePerfJobRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreatePerfJobResponse | ErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: CreatePerfJobRequest,
) -> CreatePerfJobResponse | ErrorResponse | None:
    """Create a performance (and precision-conversion) job on a version

     One task per flavor for PERF_ONLY; one per flavor and conversion precision for CONVERT_PERF
    (a job parameter without `ConvertPrecisionList` gives one task of precision `base`). Tasks
    start in status `Submitted`.

    Local platform: perf workers run the tasks. A task runs the version's ONNX model with
    onnxruntime under the flavor's CPU budget (intra-op threads = the flavor's vCPU, capped by the
    machine's cores), with inputs generated from `TensorConfig`, at the MinShape and MaxShape batch,
    and records the figures in the task's `Result` and as a `Perf` entry of the version's
    `MetricsList`. CONVERT_PERF converts to FP16 (onnxconverter-common) or INT8 (onnxruntime dynamic
    quantization), checks the outputs against the source's, registers the converted model as a new
    version (SourceType Perf, BaseModelVersionID = the source version, SourceId = the task) and
    measures it. Other model formats, GPU flavors on a machine without a GPU, and unknown
    precisions or ConvertTypes (other than ONNX) fail with a `Message` naming the cause. A task
    whose worker stopped before finishing goes back to `Queued` for the next worker.

    Args:
        body (CreatePerfJobRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreatePerfJobResponse | ErrorResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed

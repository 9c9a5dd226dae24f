from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_service_request import CreateServiceRequest
from ...models.error_response import ErrorResponse
from ...models.service_id_response import ServiceIDResponse
from ...types import Response, status_of


def _get_kwargs(
    *,
    body: CreateServiceRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/",
        "params": {
            "Action": "CreateService",
            "Version": "2021-07-01",
        },
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | ServiceIDResponse:
    # A body that is not the documented envelope (a proxy's HTML page, a truncated body) is reported
    # as UnexpectedStatus with the status and an excerpt, never as a bare JSON or KeyError.
    if response.status_code == 200:
        try:
            response_200 = ServiceIDResponse.from_dict(response.json())

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
) -> Response[ErrorResponse | ServiceIDResponse]:
    return Response(
        status_code=status_of(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CreateServiceRequest,
) -> Response[ErrorResponse | ServiceIDResponse]:
    """Deploy a model version as an online inference service

     Local platform: the service really serves, on this machine. `Replicas` local processes load the
    version's one `.onnx` file with onnxruntime and answer the KServe v2 / Open Inference Protocol over
    HTTP at the service's `EndpointURL` (a proxy spreading requests over the ready replicas). The status
    goes Pending -> Deploying -> Running once every replica is ready, or Failed with a `StatusMessage`.
    Container images (`ImageID`) are recorded but not run; GPU flavors run on the CPU when onnxruntime
    has no CUDA provider, and `StatusMessage` says so. A platform process serves the services (`mlp
    serve`, or a Python program on the embedded platform until it exits); while none does, a live
    service reads Pending with no `EndpointURL` and a `StatusMessage` saying what serves it again.
    Replica budget: the live (Pending, Deploying, Running) services of one account hold at most
    `MLP_MAX_REPLICAS_PER_ACCOUNT` replicas (default 16), and those of all accounts `MLP_MAX_REPLICAS`
    (default 32); a service that would take either past it is refused with 409 `Conflict` naming
    `Replicas`, the budget and what is left. Stopped and Failed services hold none; StartService and
    scaling up a live service (UpdateService) are checked the same way.

    Args:
        body (CreateServiceRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | ServiceIDResponse]
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
    body: CreateServiceRequest,
) -> ErrorResponse | ServiceIDResponse | None:
    """Deploy a model version as an online inference service

     Local platform: the service really serves, on this machine. `Replicas` local processes load the
    version's one `.onnx` file with onnxruntime and answer the KServe v2 / Open Inference Protocol over
    HTTP at the service's `EndpointURL` (a proxy spreading requests over the ready replicas). The status
    goes Pending -> Deploying -> Running once every replica is ready, or Failed with a `StatusMessage`.
    Container images (`ImageID`) are recorded but not run; GPU flavors run on the CPU when onnxruntime
    has no CUDA provider, and `StatusMessage` says so. A platform process serves the services (`mlp
    serve`, or a Python program on the embedded platform until it exits); while none does, a live
    service reads Pending with no `EndpointURL` and a `StatusMessage` saying what serves it again.
    Replica budget: the live (Pending, Deploying, Running) services of one account hold at most
    `MLP_MAX_REPLICAS_PER_ACCOUNT` replicas (default 16), and those of all accounts `MLP_MAX_REPLICAS`
    (default 32); a service that would take either past it is refused with 409 `Conflict` naming
    `Replicas`, the budget and what is left. Stopped and Failed services hold none; StartService and
    scaling up a live service (UpdateService) are checked the same way.

    Args:
        body (CreateServiceRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | ServiceIDResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CreateServiceRequest,
) -> Response[ErrorResponse | ServiceIDResponse]:
    """Deploy a model version as an online inference service

     Local platform: the service really serves, on this machine. `Replicas` local processes load the
    version's one `.onnx` file with onnxruntime and answer the KServe v2 / Open Inference Protocol over
    HTTP at the service's `EndpointURL` (a proxy spreading requests over the ready replicas). The status
    goes Pending -> Deploying -> Running once every replica is ready, or Failed with a `StatusMessage`.
    Container images (`ImageID`) are recorded but not run; GPU flavors run on the CPU when onnxruntime
    has no CUDA provider, and `StatusMessage` says so. A platform process serves the services (`mlp
    serve`, or a Python program on the embedded platform until it exits); while none does, a live
    service reads Pending with no `EndpointURL` and a `StatusMessage` saying what serves it again.
    Replica budget: the live (Pending, Deploying, Running) services of one account hold at most
    `MLP_MAX_REPLICAS_PER_ACCOUNT` replicas (default 16), and those of all accounts `MLP_MAX_REPLICAS`
    (default 32); a service that would take either past it is refused with 409 `Conflict` naming
    `Replicas`, the budget and what is left. Stopped and Failed services hold none; StartService and
    scaling up a live service (UpdateService) are checked the same way.

    Args:
        body (CreateServiceRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | ServiceIDResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: CreateServiceRequest,
) -> ErrorResponse | ServiceIDResponse | None:
    """Deploy a model version as an online inference service

     Local platform: the service really serves, on this machine. `Replicas` local processes load the
    version's one `.onnx` file with onnxruntime and answer the KServe v2 / Open Inference Protocol over
    HTTP at the service's `EndpointURL` (a proxy spreading requests over the ready replicas). The status
    goes Pending -> Deploying -> Running once every replica is ready, or Failed with a `StatusMessage`.
    Container images (`ImageID`) are recorded but not run; GPU flavors run on the CPU when onnxruntime
    has no CUDA provider, and `StatusMessage` says so. A platform process serves the services (`mlp
    serve`, or a Python program on the embedded platform until it exits); while none does, a live
    service reads Pending with no `EndpointURL` and a `StatusMessage` saying what serves it again.
    Replica budget: the live (Pending, Deploying, Running) services of one account hold at most
    `MLP_MAX_REPLICAS_PER_ACCOUNT` replicas (default 16), and those of all accounts `MLP_MAX_REPLICAS`
    (default 32); a service that would take either past it is refused with 409 `Conflict` naming
    `Replicas`, the budget and what is left. Stopped and Failed services hold none; StartService and
    scaling up a live service (UpdateService) are checked the same way.

    Args:
        body (CreateServiceRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | ServiceIDResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed

from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.service_id_request import ServiceIDRequest
from ...models.service_id_response import ServiceIDResponse
from ...types import Response, status_of


def _get_kwargs(
    *,
    body: ServiceIDRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/",
        "params": {
            "Action": "StartService",
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
    body: ServiceIDRequest,
) -> Response[ErrorResponse | ServiceIDResponse]:
    """Start a stopped service

     Local platform: a Stopped, Stopping or Failed service becomes Pending if its replicas fit the
    replica budget (see CreateService), else 409 `Conflict` naming `Replicas`; a live one is left as it
    is.

    Args:
        body (ServiceIDRequest):

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
    body: ServiceIDRequest,
) -> ErrorResponse | ServiceIDResponse | None:
    """Start a stopped service

     Local platform: a Stopped, Stopping or Failed service becomes Pending if its replicas fit the
    replica budget (see CreateService), else 409 `Conflict` naming `Replicas`; a live one is left as it
    is.

    Args:
        body (ServiceIDRequest):

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
    body: ServiceIDRequest,
) -> Response[ErrorResponse | ServiceIDResponse]:
    """Start a stopped service

     Local platform: a Stopped, Stopping or Failed service becomes Pending if its replicas fit the
    replica budget (see CreateService), else 409 `Conflict` naming `Replicas`; a live one is left as it
    is.

    Args:
        body (ServiceIDRequest):

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
    body: ServiceIDRequest,
) -> ErrorResponse | ServiceIDResponse | None:
    """Start a stopped service

     Local platform: a Stopped, Stopping or Failed service becomes Pending if its replicas fit the
    replica budget (see CreateService), else 409 `Conflict` naming `Replicas`; a live one is left as it
    is.

    Args:
        body (ServiceIDRequest):

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

from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.admin_get_secure_token_request import AdminGetSecureTokenRequest
from ...models.admin_get_secure_token_response import AdminGetSecureTokenResponse
from ...models.error_response import ErrorResponse
from ...types import Response, status_of


def _get_kwargs(
    *,
    body: AdminGetSecureTokenRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/",
        "params": {
            "Action": "AdminGetSecureToken",
            "Version": "2021-07-01",
        },
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> AdminGetSecureTokenResponse | ErrorResponse:
    # A body that is not the documented envelope (a proxy's HTML page, a truncated body) is reported
    # as UnexpectedStatus with the status and an excerpt, never as a bare JSON or KeyError.
    if response.status_code == 200:
        try:
            response_200 = AdminGetSecureTokenResponse.from_dict(response.json())

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
) -> Response[AdminGetSecureTokenResponse | ErrorResponse]:
    return Response(
        status_code=status_of(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: AdminGetSecureTokenRequest,
) -> Response[AdminGetSecureTokenResponse | ErrorResponse]:
    """Issue a short-lived secure token acting for a target account and user (admin keys only)

    Args:
        body (AdminGetSecureTokenRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AdminGetSecureTokenResponse | ErrorResponse]
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
    body: AdminGetSecureTokenRequest,
) -> AdminGetSecureTokenResponse | ErrorResponse | None:
    """Issue a short-lived secure token acting for a target account and user (admin keys only)

    Args:
        body (AdminGetSecureTokenRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AdminGetSecureTokenResponse | ErrorResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: AdminGetSecureTokenRequest,
) -> Response[AdminGetSecureTokenResponse | ErrorResponse]:
    """Issue a short-lived secure token acting for a target account and user (admin keys only)

    Args:
        body (AdminGetSecureTokenRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[AdminGetSecureTokenResponse | ErrorResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: AdminGetSecureTokenRequest,
) -> AdminGetSecureTokenResponse | ErrorResponse | None:
    """Issue a short-lived secure token acting for a target account and user (admin keys only)

    Args:
        body (AdminGetSecureTokenRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        AdminGetSecureTokenResponse | ErrorResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed

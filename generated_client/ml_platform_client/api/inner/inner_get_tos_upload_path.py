from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.get_tos_upload_path_request import GetTOSUploadPathRequest
from ...models.get_tos_upload_path_response import GetTOSUploadPathResponse
from ...types import UNSET, Response, status_of


def _get_kwargs(
    region: str,
    *,
    body: GetTOSUploadPathRequest,
    token: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["Token"] = token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/ml-platform/{region}/api/InnerGetTOSUploadPath".format(
            region=quote(str(region), safe=""),
        ),
        "params": {
            **params,
        },
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | GetTOSUploadPathResponse:
    # A body that is not the documented envelope (a proxy's HTML page, a truncated body) is reported
    # as UnexpectedStatus with the status and an excerpt, never as a bare JSON or KeyError.
    if response.status_code == 200:
        try:
            response_200 = GetTOSUploadPathResponse.from_dict(response.json())

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
) -> Response[ErrorResponse | GetTOSUploadPathResponse]:
    return Response(
        status_code=status_of(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    region: str,
    *,
    client: AuthenticatedClient | Client,
    body: GetTOSUploadPathRequest,
    token: str,
) -> Response[ErrorResponse | GetTOSUploadPathResponse]:
    """GetTOSUploadPath in the token's account

    Args:
        region (str): a region: lowercase words joined by '-', e.g. cn-beijing
        token (str):
        body (GetTOSUploadPathRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | GetTOSUploadPathResponse]
    """

    kwargs = _get_kwargs(
        region=region,
        body=body,
        token=token,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    region: str,
    *,
    client: AuthenticatedClient | Client,
    body: GetTOSUploadPathRequest,
    token: str,
) -> ErrorResponse | GetTOSUploadPathResponse | None:
    """GetTOSUploadPath in the token's account

    Args:
        region (str): a region: lowercase words joined by '-', e.g. cn-beijing
        token (str):
        body (GetTOSUploadPathRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | GetTOSUploadPathResponse
    """

    return sync_detailed(
        region=region,
        client=client,
        body=body,
        token=token,
    ).parsed


async def asyncio_detailed(
    region: str,
    *,
    client: AuthenticatedClient | Client,
    body: GetTOSUploadPathRequest,
    token: str,
) -> Response[ErrorResponse | GetTOSUploadPathResponse]:
    """GetTOSUploadPath in the token's account

    Args:
        region (str): a region: lowercase words joined by '-', e.g. cn-beijing
        token (str):
        body (GetTOSUploadPathRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | GetTOSUploadPathResponse]
    """

    kwargs = _get_kwargs(
        region=region,
        body=body,
        token=token,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    region: str,
    *,
    client: AuthenticatedClient | Client,
    body: GetTOSUploadPathRequest,
    token: str,
) -> ErrorResponse | GetTOSUploadPathResponse | None:
    """GetTOSUploadPath in the token's account

    Args:
        region (str): a region: lowercase words joined by '-', e.g. cn-beijing
        token (str):
        body (GetTOSUploadPathRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | GetTOSUploadPathResponse
    """

    return (
        await asyncio_detailed(
            region=region,
            client=client,
            body=body,
            token=token,
        )
    ).parsed

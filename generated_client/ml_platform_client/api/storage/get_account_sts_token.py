from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.error_response import ErrorResponse
from ...models.get_sts_token_request import GetSTSTokenRequest
from ...models.get_sts_token_response import GetSTSTokenResponse
from ...types import Response, status_of


def _get_kwargs(
    *,
    body: GetSTSTokenRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/",
        "params": {
            "Action": "GetSTSToken",
            "Version": "2021-07-01",
        },
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> ErrorResponse | GetSTSTokenResponse:
    # A body that is not the documented envelope (a proxy's HTML page, a truncated body) is reported
    # as UnexpectedStatus with the status and an excerpt, never as a bare JSON or KeyError.
    if response.status_code == 200:
        try:
            response_200 = GetSTSTokenResponse.from_dict(response.json())

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
) -> Response[ErrorResponse | GetSTSTokenResponse]:
    return Response(
        status_code=status_of(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: GetSTSTokenRequest,
) -> Response[ErrorResponse | GetSTSTokenResponse]:
    """Temporary object-storage credentials of the caller's account

     Local platform: an open-door twin of the inner GetSTSToken, so that the public Model reaches
    the platform's object store with credentials scoped to its own account's bucket rather than
    with its ml_platform keys (the real service documents no such action; there TOS takes the
    account's own keys). With an S3-compatible store the credentials come from the store's STS
    (AssumeRole with a session policy naming the account's bucket only) and expire after
    `Duration` seconds; a store without STS answers `ObjectStoreSTSUnavailable` (501) unless the
    operator set `MLP_S3_UNSAFE_SHARE_STORE_KEYS`. With the folder store they authorize nothing
    by themselves (see the inner GetSTSToken).

    Args:
        body (GetSTSTokenRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | GetSTSTokenResponse]
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
    body: GetSTSTokenRequest,
) -> ErrorResponse | GetSTSTokenResponse | None:
    """Temporary object-storage credentials of the caller's account

     Local platform: an open-door twin of the inner GetSTSToken, so that the public Model reaches
    the platform's object store with credentials scoped to its own account's bucket rather than
    with its ml_platform keys (the real service documents no such action; there TOS takes the
    account's own keys). With an S3-compatible store the credentials come from the store's STS
    (AssumeRole with a session policy naming the account's bucket only) and expire after
    `Duration` seconds; a store without STS answers `ObjectStoreSTSUnavailable` (501) unless the
    operator set `MLP_S3_UNSAFE_SHARE_STORE_KEYS`. With the folder store they authorize nothing
    by themselves (see the inner GetSTSToken).

    Args:
        body (GetSTSTokenRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | GetSTSTokenResponse
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: GetSTSTokenRequest,
) -> Response[ErrorResponse | GetSTSTokenResponse]:
    """Temporary object-storage credentials of the caller's account

     Local platform: an open-door twin of the inner GetSTSToken, so that the public Model reaches
    the platform's object store with credentials scoped to its own account's bucket rather than
    with its ml_platform keys (the real service documents no such action; there TOS takes the
    account's own keys). With an S3-compatible store the credentials come from the store's STS
    (AssumeRole with a session policy naming the account's bucket only) and expire after
    `Duration` seconds; a store without STS answers `ObjectStoreSTSUnavailable` (501) unless the
    operator set `MLP_S3_UNSAFE_SHARE_STORE_KEYS`. With the folder store they authorize nothing
    by themselves (see the inner GetSTSToken).

    Args:
        body (GetSTSTokenRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[ErrorResponse | GetSTSTokenResponse]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: GetSTSTokenRequest,
) -> ErrorResponse | GetSTSTokenResponse | None:
    """Temporary object-storage credentials of the caller's account

     Local platform: an open-door twin of the inner GetSTSToken, so that the public Model reaches
    the platform's object store with credentials scoped to its own account's bucket rather than
    with its ml_platform keys (the real service documents no such action; there TOS takes the
    account's own keys). With an S3-compatible store the credentials come from the store's STS
    (AssumeRole with a session policy naming the account's bucket only) and expire after
    `Duration` seconds; a store without STS answers `ObjectStoreSTSUnavailable` (501) unless the
    operator set `MLP_S3_UNSAFE_SHARE_STORE_KEYS`. With the folder store they authorize nothing
    by themselves (see the inner GetSTSToken).

    Args:
        body (GetSTSTokenRequest):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        ErrorResponse | GetSTSTokenResponse
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed

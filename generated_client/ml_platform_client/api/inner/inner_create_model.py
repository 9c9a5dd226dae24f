from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_model_response import CreateModelResponse
from ...models.error_response import ErrorResponse
from ...models.inner_create_model_request import InnerCreateModelRequest
from ...types import UNSET, Response, status_of


def _get_kwargs(
    region: str,
    *,
    body: InnerCreateModelRequest,
    token: str,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    params: dict[str, Any] = {}

    params["Token"] = token

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/ml-platform/{region}/api/InnerCreateModel".format(
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
) -> CreateModelResponse | ErrorResponse:
    # A body that is not the documented envelope (a proxy's HTML page, a truncated body) is reported
    # as UnexpectedStatus with the status and an excerpt, never as a bare JSON or KeyError.
    if response.status_code == 200:
        try:
            response_200 = CreateModelResponse.from_dict(response.json())

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
) -> Response[CreateModelResponse | ErrorResponse]:
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
    body: InnerCreateModelRequest,
    token: str,
) -> Response[CreateModelResponse | ErrorResponse]:
    """CreateModel in the token's account (may carry BaseModelVersionID and SourceId)

     Local platform: idempotent by Path, with a manifest, as CreateModel. The provenance must be
    true: `BaseModelVersionID` one of the token account's own versions and `SourceId` one of its
    perf tasks (404 NotFound naming the field otherwise), a task of that version when both are
    given (400 InvalidParameter naming `VersionInfo.SourceId` otherwise).

    Args:
        region (str): a region: lowercase words joined by '-', e.g. cn-beijing
        token (str):
        body (InnerCreateModelRequest): A new model (no ModelID) also requires ModelName,
            VersionInfo.ModelFormat and
            VersionInfo.ModelType (MissingParameter otherwise); OpenAPI 3.0 cannot say "required
            unless",
            so `x-required-without-ModelID` lists them.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateModelResponse | ErrorResponse]
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
    body: InnerCreateModelRequest,
    token: str,
) -> CreateModelResponse | ErrorResponse | None:
    """CreateModel in the token's account (may carry BaseModelVersionID and SourceId)

     Local platform: idempotent by Path, with a manifest, as CreateModel. The provenance must be
    true: `BaseModelVersionID` one of the token account's own versions and `SourceId` one of its
    perf tasks (404 NotFound naming the field otherwise), a task of that version when both are
    given (400 InvalidParameter naming `VersionInfo.SourceId` otherwise).

    Args:
        region (str): a region: lowercase words joined by '-', e.g. cn-beijing
        token (str):
        body (InnerCreateModelRequest): A new model (no ModelID) also requires ModelName,
            VersionInfo.ModelFormat and
            VersionInfo.ModelType (MissingParameter otherwise); OpenAPI 3.0 cannot say "required
            unless",
            so `x-required-without-ModelID` lists them.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateModelResponse | ErrorResponse
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
    body: InnerCreateModelRequest,
    token: str,
) -> Response[CreateModelResponse | ErrorResponse]:
    """CreateModel in the token's account (may carry BaseModelVersionID and SourceId)

     Local platform: idempotent by Path, with a manifest, as CreateModel. The provenance must be
    true: `BaseModelVersionID` one of the token account's own versions and `SourceId` one of its
    perf tasks (404 NotFound naming the field otherwise), a task of that version when both are
    given (400 InvalidParameter naming `VersionInfo.SourceId` otherwise).

    Args:
        region (str): a region: lowercase words joined by '-', e.g. cn-beijing
        token (str):
        body (InnerCreateModelRequest): A new model (no ModelID) also requires ModelName,
            VersionInfo.ModelFormat and
            VersionInfo.ModelType (MissingParameter otherwise); OpenAPI 3.0 cannot say "required
            unless",
            so `x-required-without-ModelID` lists them.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[CreateModelResponse | ErrorResponse]
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
    body: InnerCreateModelRequest,
    token: str,
) -> CreateModelResponse | ErrorResponse | None:
    """CreateModel in the token's account (may carry BaseModelVersionID and SourceId)

     Local platform: idempotent by Path, with a manifest, as CreateModel. The provenance must be
    true: `BaseModelVersionID` one of the token account's own versions and `SourceId` one of its
    perf tasks (404 NotFound naming the field otherwise), a task of that version when both are
    given (400 InvalidParameter naming `VersionInfo.SourceId` otherwise).

    Args:
        region (str): a region: lowercase words joined by '-', e.g. cn-beijing
        token (str):
        body (InnerCreateModelRequest): A new model (no ModelID) also requires ModelName,
            VersionInfo.ModelFormat and
            VersionInfo.ModelType (MissingParameter otherwise); OpenAPI 3.0 cannot say "required
            unless",
            so `x-required-without-ModelID` lists them.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        CreateModelResponse | ErrorResponse
    """

    return (
        await asyncio_detailed(
            region=region,
            client=client,
            body=body,
            token=token,
        )
    ).parsed

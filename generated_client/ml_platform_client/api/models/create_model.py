from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.create_model_request import CreateModelRequest
from ...models.create_model_response import CreateModelResponse
from ...models.error_response import ErrorResponse
from ...types import Response, status_of


def _get_kwargs(
    *,
    body: CreateModelRequest,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/",
        "params": {
            "Action": "CreateModel",
            "Version": "2021-07-01",
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
    *,
    client: AuthenticatedClient | Client,
    body: CreateModelRequest,
) -> Response[CreateModelResponse | ErrorResponse]:
    """Register a model version (a new model, or a new version of `ModelID`)

     Without `ModelID`, creates a model named `ModelName` with version 1 (`ModelName`,
    `VersionInfo.ModelFormat` and `VersionInfo.ModelType` are then required: MissingParameter
    otherwise). With `ModelID`, adds the next version to that model; `ModelName` is ignored and an
    omitted ModelFormat/ModelType is the latest version's (`x-required-without-ModelID` says so
    for tools). A model whose versions were all deleted has none to inherit them from: both are
    then required (400 InvalidParameter naming the field). `VersionInfo.Path` must point at
    existing objects in the caller's bucket (see GetTOSUploadPath): 404 NotFound otherwise, as
    for an unknown `ModelID`.

    Local platform: idempotent by Path. The upload prefix identifies one registration: a
    CreateModel whose `VersionInfo.Path` the caller's account has already registered answers that
    same version (same ModelID and ModelVersion, no new version), so a client may resend a
    CreateModel whose answer it lost. If the body's `ModelID` names another model than the one
    registered with that Path, the answer is 409 `Conflict`. At registration the platform records
    the version's files (key, size, checksum) in a manifest object beside the Path,
    `{Path without its trailing /}.mlp-manifest.json`; downloads check every recorded file.
    A Path in an upload prefix that the storage sweep decided to remove (no version referenced
    it for longer than the grace period; its client may still have been writing files) is
    refused with 404 `UploadRemoved` for a week after, whatever files are there now: nothing
    was registered, nor will be under that Path; upload the files again to a new Path. So is a
    Path above upload prefixes whose files would include some of such an upload.

    Args:
        body (CreateModelRequest): A new model (no ModelID) also requires ModelName,
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
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: CreateModelRequest,
) -> CreateModelResponse | ErrorResponse | None:
    """Register a model version (a new model, or a new version of `ModelID`)

     Without `ModelID`, creates a model named `ModelName` with version 1 (`ModelName`,
    `VersionInfo.ModelFormat` and `VersionInfo.ModelType` are then required: MissingParameter
    otherwise). With `ModelID`, adds the next version to that model; `ModelName` is ignored and an
    omitted ModelFormat/ModelType is the latest version's (`x-required-without-ModelID` says so
    for tools). A model whose versions were all deleted has none to inherit them from: both are
    then required (400 InvalidParameter naming the field). `VersionInfo.Path` must point at
    existing objects in the caller's bucket (see GetTOSUploadPath): 404 NotFound otherwise, as
    for an unknown `ModelID`.

    Local platform: idempotent by Path. The upload prefix identifies one registration: a
    CreateModel whose `VersionInfo.Path` the caller's account has already registered answers that
    same version (same ModelID and ModelVersion, no new version), so a client may resend a
    CreateModel whose answer it lost. If the body's `ModelID` names another model than the one
    registered with that Path, the answer is 409 `Conflict`. At registration the platform records
    the version's files (key, size, checksum) in a manifest object beside the Path,
    `{Path without its trailing /}.mlp-manifest.json`; downloads check every recorded file.
    A Path in an upload prefix that the storage sweep decided to remove (no version referenced
    it for longer than the grace period; its client may still have been writing files) is
    refused with 404 `UploadRemoved` for a week after, whatever files are there now: nothing
    was registered, nor will be under that Path; upload the files again to a new Path. So is a
    Path above upload prefixes whose files would include some of such an upload.

    Args:
        body (CreateModelRequest): A new model (no ModelID) also requires ModelName,
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
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: CreateModelRequest,
) -> Response[CreateModelResponse | ErrorResponse]:
    """Register a model version (a new model, or a new version of `ModelID`)

     Without `ModelID`, creates a model named `ModelName` with version 1 (`ModelName`,
    `VersionInfo.ModelFormat` and `VersionInfo.ModelType` are then required: MissingParameter
    otherwise). With `ModelID`, adds the next version to that model; `ModelName` is ignored and an
    omitted ModelFormat/ModelType is the latest version's (`x-required-without-ModelID` says so
    for tools). A model whose versions were all deleted has none to inherit them from: both are
    then required (400 InvalidParameter naming the field). `VersionInfo.Path` must point at
    existing objects in the caller's bucket (see GetTOSUploadPath): 404 NotFound otherwise, as
    for an unknown `ModelID`.

    Local platform: idempotent by Path. The upload prefix identifies one registration: a
    CreateModel whose `VersionInfo.Path` the caller's account has already registered answers that
    same version (same ModelID and ModelVersion, no new version), so a client may resend a
    CreateModel whose answer it lost. If the body's `ModelID` names another model than the one
    registered with that Path, the answer is 409 `Conflict`. At registration the platform records
    the version's files (key, size, checksum) in a manifest object beside the Path,
    `{Path without its trailing /}.mlp-manifest.json`; downloads check every recorded file.
    A Path in an upload prefix that the storage sweep decided to remove (no version referenced
    it for longer than the grace period; its client may still have been writing files) is
    refused with 404 `UploadRemoved` for a week after, whatever files are there now: nothing
    was registered, nor will be under that Path; upload the files again to a new Path. So is a
    Path above upload prefixes whose files would include some of such an upload.

    Args:
        body (CreateModelRequest): A new model (no ModelID) also requires ModelName,
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
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: CreateModelRequest,
) -> CreateModelResponse | ErrorResponse | None:
    """Register a model version (a new model, or a new version of `ModelID`)

     Without `ModelID`, creates a model named `ModelName` with version 1 (`ModelName`,
    `VersionInfo.ModelFormat` and `VersionInfo.ModelType` are then required: MissingParameter
    otherwise). With `ModelID`, adds the next version to that model; `ModelName` is ignored and an
    omitted ModelFormat/ModelType is the latest version's (`x-required-without-ModelID` says so
    for tools). A model whose versions were all deleted has none to inherit them from: both are
    then required (400 InvalidParameter naming the field). `VersionInfo.Path` must point at
    existing objects in the caller's bucket (see GetTOSUploadPath): 404 NotFound otherwise, as
    for an unknown `ModelID`.

    Local platform: idempotent by Path. The upload prefix identifies one registration: a
    CreateModel whose `VersionInfo.Path` the caller's account has already registered answers that
    same version (same ModelID and ModelVersion, no new version), so a client may resend a
    CreateModel whose answer it lost. If the body's `ModelID` names another model than the one
    registered with that Path, the answer is 409 `Conflict`. At registration the platform records
    the version's files (key, size, checksum) in a manifest object beside the Path,
    `{Path without its trailing /}.mlp-manifest.json`; downloads check every recorded file.
    A Path in an upload prefix that the storage sweep decided to remove (no version referenced
    it for longer than the grace period; its client may still have been writing files) is
    refused with 404 `UploadRemoved` for a week after, whatever files are there now: nothing
    was registered, nor will be under that Path; upload the files again to a new Path. So is a
    Path above upload prefixes whose files would include some of such an upload.

    Args:
        body (CreateModelRequest): A new model (no ModelID) also requires ModelName,
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
            client=client,
            body=body,
        )
    ).parsed

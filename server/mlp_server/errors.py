"""Errors the local platform answers with: the documented envelope's Code, CodeN and HTTP status.

Handlers and the store raise :class:`ApiError`; the app turns it into
``{"ResponseMetadata": {..., "Error": {"Code", "CodeN", "Message"}}}`` with ``status``.
"""

from __future__ import annotations

# Code -> (CodeN, HTTP status). Gateway codes are Volcengine's (wire-protocol section 5); the
# service-level ones (InvalidParameter, NotFound, Conflict, ...) are ours, numbered above 200000.
CODES: dict[str, tuple[int, int]] = {
    "MissingParameter": (100002, 400),
    "MissingAuthenticationToken": (100003, 401),
    "MissingSignature": (100005, 401),
    "InvalidTimestamp": (100006, 403),
    "InvalidActionOrVersion": (100008, 404),
    "InvalidAccessKey": (100009, 401),
    "SignatureDoesNotMatch": (100010, 401),
    "AccessDenied": (100013, 403),
    "InternalError": (100014, 500),
    "FlowLimitExceeded": (100018, 429),
    "ServiceUnavailableTemp": (100019, 503),
    "InvalidSecretToken": (100026, 401),
    "InvalidParameter": (200001, 400),
    "NotFound": (200002, 404),
    "Conflict": (200003, 409),
    "InvalidStateTransition": (200004, 409),
    "UnsupportedMediaType": (200005, 415),
    "MethodNotAllowed": (200006, 405),
    "RequestTooLarge": (200007, 413),
    "RequestTimeout": (200008, 408),
    # The disk is full or read-only: an operator must act, so clients do not retry it.
    "StorageUnavailable": (200009, 503),
    # The object store cannot mint scoped credentials (no STS) and the operator did not opt into sharing
    # its keys: a setting to change, not a failure to retry.
    "ObjectStoreSTSUnavailable": (200010, 501),
    # Deleting a version (or model) that a service still uses.
    "ResourceInUse": (200011, 409),
    # CreateModel of an upload prefix the storage sweep decided to remove (a client may still have been
    # writing it): nothing was registered, nor will be under that Path; upload again to a new one.
    "UploadRemoved": (200012, 404),
}


class ApiError(Exception):
    """An error with a documented code; ``status`` and ``code_n`` come from :data:`CODES`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.code_n, self.status = CODES[code]


def not_found(kind: str, ident: object) -> ApiError:
    return ApiError("NotFound", f"{kind} {ident} does not exist")


def invalid(field: str, problem: str) -> ApiError:
    return ApiError("InvalidParameter", f"{field}: {problem}")

"""The exception hierarchy of the library.

Every error the service reports carries its ``Code`` (and numeric ``CodeN``), the HTTP status and the
``RequestId``, so that a user can quote it to support. The subclass is picked from the code and status
in one table (:func:`error_for`), never by matching messages.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, TypedDict


class ServiceFields(TypedDict):
    """What the service said about an error, carried over to an error that rewords it."""

    code: str | None
    code_n: int | None
    status_code: int | None
    request_id: str | None


class MLPlatformError(Exception):
    """Base of every error raised by this library."""

    # Set on the answer a call gave up with when an earlier attempt of it may have been carried out
    # (its answer was lost, or was a 5xx): the answer says what the last attempt met, not what
    # happened. Whoever would undo something on this error (remove an upload) must not.
    earlier_attempt_may_have_acted: bool = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        code_n: int | None = None,
        status_code: int | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.code_n = code_n
        self.status_code = status_code
        self.request_id = request_id

    def service_fields(self) -> ServiceFields:
        """``code``, ``code_n``, ``status_code`` and ``request_id``, for a new error that keeps them."""
        return ServiceFields(
            code=self.code, code_n=self.code_n, status_code=self.status_code, request_id=self.request_id
        )

    def __str__(self) -> str:
        parts = [self.message]
        if self.code:
            parts.insert(0, f"[{self.code}]")
        if self.status_code is not None:
            parts.append(f"(HTTP {self.status_code}")
            parts[-1] += f", RequestId {self.request_id})" if self.request_id else ")"
        return " ".join(parts)


class ValidationError(MLPlatformError, ValueError):
    """Bad input found before anything was sent; ``field`` names the offending argument."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message, code="InvalidParameter")
        self.field = field


class InvalidParameterError(MLPlatformError):
    """The service rejected a parameter (HTTP 400, ``InvalidParameter`` / ``MissingParameter``)."""


class NotFoundError(MLPlatformError):
    """The object does not exist (or belongs to another account)."""


class AuthError(MLPlatformError):
    """Missing, wrong or expired credentials, signature or token (HTTP 401/403)."""


class ConflictError(MLPlatformError):
    """The request conflicts with the object's state, e.g. an invalid task transition (HTTP 409)."""


class ThrottlingError(MLPlatformError):
    """Too many requests (HTTP 429, ``FlowLimitExceeded``)."""


class ServerError(MLPlatformError):
    """The service failed (HTTP 5xx) or answered something that is not the documented envelope."""


class OutcomeUnknownError(ServerError):
    """The request was sent but its answer was lost: it may or may not have been carried out.

    ``register`` raises it (with ``upload_url`` set) when the registration's fate is unknown: the
    uploaded files are then left in place, for a retry or for the platform's storage sweep."""

    def __init__(self, message: str, *, upload_url: str | None = None, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.upload_url = upload_url


class NotSentError(ServerError):
    """The platform could not be reached and no attempt of the request reached it (every connection
    was refused, timed out, failed its name lookup or its TLS handshake): nothing was carried out, so
    sending it again is safe. ``register`` raises it (saying "not registered; register again") after
    removing what it uploaded."""


class LocalPlatformError(MLPlatformError):
    """The embedded local platform cannot open its data folder (``data_dir``): its disk is full or
    read-only, a file of it is damaged, or a newer release wrote its database. The message names the
    folder (or the file), the cause and what to do; nothing was half-written, so the folder opens once
    the cause is fixed."""

    def __init__(self, message: str, *, data_dir: Path) -> None:
        super().__init__(message)
        self.data_dir = data_dir

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (a process pool's worker hands it to its parent) with its keyword-only data_dir:
        # the default, cls(*args), could not make it again, and the pool broke instead.
        return (functools.partial(type(self), data_dir=self.data_dir), (self.message,), self.__dict__)


class TransferError(MLPlatformError):
    """Object-storage upload or download failed (after retries), or an object failed its checksum."""


class MLPlatformWarning(UserWarning):
    """Base of the warnings this library gives (``warnings.warn``: shown once by default, whether or not
    logging is configured). Silence them all with
    ``warnings.filterwarnings("ignore", category=MLPlatformWarning)``, or one kind by its subclass."""


class ConfigWarning(MLPlatformWarning):
    """A configuration file holds a key that is ignored and looks like a misspelt known one (keys far
    from every known one are other Volcengine tools' and are only logged)."""


class UploadWarning(MLPlatformWarning):
    """Files of a folder being uploaded are left out (a dangling symlink, a socket, a symlink loop), or
    the folder holds no file at all."""


class CancelledRegistrationWarning(MLPlatformWarning):
    """An awaited ``register`` was cancelled after its CreateModel was sent: the request was finished
    anyway, and this says what it did (the ModelID and version it registered, or why it failed)."""


class ServingStoppedWarning(MLPlatformWarning):
    """This process served deployed services of an embedded platform and stopped them as it exited:
    they read Pending until a platform process (``mlp serve --data-dir ...``) serves them again."""


_BY_CODE: dict[str, type[MLPlatformError]] = {
    "InvalidParameter": InvalidParameterError,
    "MissingParameter": InvalidParameterError,
    "NotFound": NotFoundError,
    "UploadRemoved": NotFoundError,
    "InvalidActionOrVersion": NotFoundError,
    "MissingAuthenticationToken": AuthError,
    "MissingSignature": AuthError,
    "InvalidTimestamp": AuthError,
    "InvalidAccessKey": AuthError,
    "SignatureDoesNotMatch": AuthError,
    "AccessDenied": AuthError,
    "InvalidSecretToken": AuthError,
    "Conflict": ConflictError,
    "InvalidStateTransition": ConflictError,
    "ResourceInUse": ConflictError,
    "FlowLimitExceeded": ThrottlingError,
}

_BY_STATUS: dict[int, type[MLPlatformError]] = {
    400: InvalidParameterError,
    401: AuthError,
    403: AuthError,
    404: NotFoundError,
    409: ConflictError,
    429: ThrottlingError,
}


def error_for(
    message: str,
    *,
    code: str | None,
    code_n: int | None,
    status_code: int,
    request_id: str | None,
) -> MLPlatformError:
    """Build the most specific exception for a service error."""
    cls = _BY_CODE.get(code or "") or _BY_STATUS.get(status_code)
    if cls is None:
        cls = ServerError if status_code >= 500 else MLPlatformError
    return cls(message, code=code, code_n=code_n, status_code=status_code, request_id=request_id)

"""The documented response envelope: ``{"ResponseMetadata": {...}, "Result": {...}}`` or an error."""

from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import ApiError

if TYPE_CHECKING:  # Starlette is loaded by the app; the embedded quick reads render without it
    from starlette.responses import JSONResponse

log = logging.getLogger("mlp_server")

API_VERSION = "2021-07-01"
SERVICE = "ml_platform"


def new_request_id(now: datetime | None = None) -> str:
    """``yyyymmddHHMMSS`` followed by hex, like ``2021091410551801022514606301199F07``."""
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y%m%d%H%M%S") + secrets.token_hex(10).upper()


@dataclass
class Meta:
    """What every envelope repeats about the request."""

    request_id: str
    action: str
    region: str
    version: str = API_VERSION

    def to_dict(self) -> dict[str, Any]:
        return {
            "RequestId": self.request_id,
            "Action": self.action,
            "Version": self.version,
            "Service": SERVICE,
            "Region": self.region,
        }


def render(content: Any) -> bytes:
    """The bytes of a JSON answer: exactly what Starlette's JSONResponse writes (the embedded platform's
    quick reads answer without Starlette, and tests compare the two)."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def success_content(meta: Meta, result: dict[str, Any]) -> dict[str, Any]:
    return {"ResponseMetadata": meta.to_dict(), "Result": result}


def success(meta: Meta, result: dict[str, Any]) -> JSONResponse:
    from starlette.responses import JSONResponse

    try:
        return JSONResponse(success_content(meta, result), headers=headers(meta))
    except (ValueError, TypeError, RecursionError):
        # A Result that is not JSON (e.g. a NaN stored before the JSON policy) must still be an envelope.
        log.exception("cannot serialise the Result of %s (RequestId %s)", meta.action, meta.request_id)
        message = f"internal error: the answer cannot be serialised; quote RequestId {meta.request_id}"
        return failure(meta, ApiError("InternalError", message))


def failure(meta: Meta, error: ApiError) -> JSONResponse:
    from starlette.responses import JSONResponse

    body = meta.to_dict()
    body["Error"] = {"Code": error.code, "CodeN": error.code_n, "Message": error.message}
    return JSONResponse({"ResponseMetadata": body}, status_code=error.status, headers=headers(meta))


def headers(meta: Meta) -> dict[str, str]:
    return {"X-Tt-Logid": meta.request_id}

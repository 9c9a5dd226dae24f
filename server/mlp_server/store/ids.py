"""Identifiers and timestamps as the wire shows them."""

from __future__ import annotations

import secrets
import string
from datetime import UTC, datetime

_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str, now: datetime) -> str:
    """``{prefix}-{yyyymmddHHMMSS}-{5 lowercase alphanumerics}``, e.g. ``m-20210812150750-w54j6``.

    The time part is UTC; callers retry on a collision (36**5 ids per second and prefix).
    """
    suffix = "".join(secrets.choice(_ALPHABET) for _ in range(5))
    return f"{prefix}-{now.astimezone(UTC):%Y%m%d%H%M%S}-{suffix}"


def version_id(model_id: str, version: int) -> str:
    return f"{model_id}-{version}"


def utcnow() -> datetime:
    return datetime.now(UTC)


def wire_time(moment: datetime) -> str:
    """ISO 8601 with offset and second precision: ``2021-08-12T07:07:50+00:00``."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat()

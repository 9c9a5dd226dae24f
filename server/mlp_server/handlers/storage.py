"""GetTOSUploadPath: a fresh prefix in the caller's bucket."""

from __future__ import annotations

import threading
from typing import Any

from ..context import Caller, Platform

_lock = threading.Lock()
_last_ms = 0


def _fresh_millis(now_ms: int) -> int:
    # The seed's layout uses a millisecond timestamp as the fresh folder; two calls within one
    # millisecond must still get different prefixes.
    global _last_ms
    with _lock:
        _last_ms = max(now_ms, _last_ms + 1)
        return _last_ms


def get_tos_upload_path(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
    folders = [body["ServiceName"], *body.get("Path", [])]
    stamp = _fresh_millis(int(platform.clock().timestamp() * 1000))
    return {
        "Bucket": platform.bucket_for(caller.account_id),
        "KeyPrefix": "/".join([*folders, str(stamp)]) + "/",
        "Endpoint": platform.objects_endpoint,
    }

"""Service actions: the store changes the record, then the serving supervisor acts on it at once.

The supervisor starts with the first service action (the embedded platform's is lazy; ``mlp serve``
starts it at start-up), so reading a service also brings back the ones that were Running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import Caller, Platform

Handler = Callable[[Platform, Caller, dict[str, Any]], dict[str, Any]]

ACTIONS = {
    "CreateService": "create_service",
    "GetService": "get_service",
    "ListServices": "list_services",
    "StartService": "start_service",
    "StopService": "stop_service",
    "UpdateService": "update_service",
    "DeleteService": "delete_service",
}


def _acting(method: str, delete: bool = False) -> Handler:
    def handle(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = getattr(platform.store, method)(caller.account_id, body)
        if delete:
            platform.serving.forget(result["ServiceID"])  # replicas stopped, port free
        else:
            platform.serving.poke()
        return result

    return handle


HANDLERS: dict[str, Handler] = {
    action: _acting(method, delete=action == "DeleteService") for action, method in ACTIONS.items()
}

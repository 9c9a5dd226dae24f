"""Service actions: the store changes the record, then the serving supervisor acts on it at once.

The supervisor starts with the first service action (the embedded platform's is lazy; ``mlp serve``
starts it at start-up), so reading a service also brings back the ones that were Running. A platform
that does not serve (``Platform.serves_services``: an ``mlp`` command on the embedded platform) only
records.

What a reader sees is true at the moment it reads: a live service whose supervisor is gone (its
process ended, or was killed) is shown Pending with no endpoint and a message saying what serves it
again, and a Stopping one Stopped (its replicas ended with their supervisor). The stored record is
left for the next supervisor, which takes the services over as after a restart.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..context import Caller, Platform
from ..store.services import LIVE, PENDING, STOPPED, STOPPING

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
READS = ("GetService", "ListServices")


def unserved_message(platform: Platform) -> str:
    where = (
        "`mlp serve --database-url ...` on this platform's database"
        if platform.store.dialect == "postgresql"
        else f"`mlp serve --data-dir {platform.settings.data_dir}`"
    )
    return f"no platform process is serving this service: run {where} to serve it"


def as_seen(platform: Platform, items: list[dict[str, Any]]) -> None:
    """Live records whose supervisor is gone, as they are: not served (asked once per answer)."""
    live = [item for item in items if item["ServiceDeployment"]["Status"] in (*LIVE, STOPPING)]
    if not live or platform.services_served():
        return
    message = unserved_message(platform)
    for item in live:
        deployment = item["ServiceDeployment"]
        stopping = deployment["Status"] == STOPPING
        deployment["Status"] = STOPPED if stopping else PENDING
        deployment["StatusMessage"] = "" if stopping else message
        deployment["EndpointURL"] = ""


def _reading(method: str) -> Handler:
    def handle(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        if platform.serves_services:
            platform.serving.poke()  # first: a takeover shows in what is read
        result: dict[str, Any] = getattr(platform.store, method)(caller.account_id, body)
        as_seen(platform, result.get("List", [result]))
        return result

    return handle


def _acting(method: str, delete: bool = False) -> Handler:
    def handle(platform: Platform, caller: Caller, body: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = getattr(platform.store, method)(caller.account_id, body)
        if not platform.serves_services:
            return result  # recorded; whichever process serves the folder acts on it
        if delete:
            platform.serving.forget(result["ServiceID"])  # replicas stopped, port free
        else:
            platform.serving.poke()
        return result

    return handle


HANDLERS: dict[str, Handler] = {
    action: _reading(method) if action in READS else _acting(method, delete=action == "DeleteService")
    for action, method in ACTIONS.items()
}

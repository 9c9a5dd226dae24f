"""A client library for accessing Volcengine ml_platform model repository"""

# The clients (httpx, ssl and attrs behind them) are imported on first use (PEP 562 ``__getattr__``):
# importing the package, or only its models, does not pay for an HTTP stack it has not used yet.
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import AuthenticatedClient, Client


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from . import client

    value = getattr(client, name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


__all__ = (
    "AuthenticatedClient",
    "Client",
)

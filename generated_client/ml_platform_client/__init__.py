"""A client library for accessing Volcengine ml_platform model repository"""

from .client import AuthenticatedClient, Client

__all__ = (
    "AuthenticatedClient",
    "Client",
)

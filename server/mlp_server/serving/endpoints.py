"""Where the service endpoints listen, and the EndpointURL the records give to clients.

The proxies listen on the host ``mlp serve`` listens on (``--host``; the embedded platform:
127.0.0.1). The URL names ``MLP_SERVING_HOST`` when it is set; else that host when it is a concrete
address; else, for a wildcard (0.0.0.0, ::), this machine's hostname, so that a client on another
machine of a team is not sent to its own localhost.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass

from .proxy import DEFAULT_READ_TIMEOUT, DEFAULT_UPSTREAM_TIMEOUT

WILDCARDS = ("", "0.0.0.0", "::", "[::]")


def advertised_host(bind_host: str, configured: str | None = None) -> str:
    """The host an EndpointURL names (see the module's docstring)."""
    if configured:
        return configured
    if bind_host in WILDCARDS:
        return socket.gethostname()
    return bind_host


def url_host(host: str) -> str:
    """``host`` as it goes in a URL: an IPv6 address in brackets."""
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]"
    except ValueError:
        pass  # a name, or already in brackets
    return host


@dataclass(frozen=True)
class Endpoints:
    bind_host: str = "127.0.0.1"
    host: str | None = None  # MLP_SERVING_HOST: the host EndpointURLs name
    upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT  # MLP_SERVING_TIMEOUT
    read_timeout: float = DEFAULT_READ_TIMEOUT  # MLP_SERVING_READ_TIMEOUT

    def url(self, port: int) -> str:
        return f"http://{url_host(advertised_host(self.bind_host, self.host))}:{port}"

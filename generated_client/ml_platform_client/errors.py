"""Contains shared errors types that can be raised from API functions"""


class UnexpectedStatus(Exception):
    """Raised when a response is not one the document describes: an undocumented status (with
    Client.raise_on_unexpected_status), or a body that is not the documented envelope (e.g. an HTML page
    from a proxy answering 502 or 520)."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code = status_code
        self.content = content
        excerpt = content[:500].decode(errors="replace")
        more = " ..." if len(content) > 500 else ""
        super().__init__(
            f"Unexpected response: HTTP {status_code} with a body that is not the documented envelope: "
            f"{excerpt!r}{more}"
        )


__all__ = ["UnexpectedStatus"]

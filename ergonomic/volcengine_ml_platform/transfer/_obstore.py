"""PUT of whole objects and GET of objects and ranges over obstore (Rust's object_store): the S3
store's data path, except multipart uploads. Ranges are awaited on the loop of :mod:`._loop`.

A small object costs botocore ~5-10 ms of CPU per request (endpoint rules, serialisation, signing,
response parsing), so a folder of a thousand small files spent most of its client CPU there. obstore
does the same request in native code, outside the GIL, and reads a body at a fraction of the CPU.
Listings, HEADs, deletes and multipart uploads (few requests, whose bodies we read or send ourselves)
stay on botocore.

obstore's own retries are off: like botocore's, every request is retried by the transfer layer's
policy (:func:`is_transient` says which failures qualify).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from obstore import Bytes, BytesStream, GetOptions
    from obstore.store import S3Store as NativeStore

# object_store names the HTTP status of a refused request in its message; no status means the
# connection, the timeout or the body broke.
_STATUS = re.compile(r"status code: (\d{3})")
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_CHUNK = 1024 * 1024  # a ranged body is handed over in pieces of at least this size


def is_transient(exc: BaseException) -> bool | None:
    """Whether an obstore failure is worth retrying, or None if ``exc`` is not obstore's."""
    if not type(exc).__module__.startswith("obstore"):
        return None
    if type(exc).__name__ != "GenericError":  # not found, precondition, permission, configuration...
        return False
    status = _STATUS.search(str(exc))
    return status is None or int(status.group(1)) in _TRANSIENT_STATUS


class WholeObjects:
    """PUT and GET of whole objects in any bucket of one endpoint, with one set of credentials."""

    def __init__(
        self,
        endpoint_url: str,
        access_key: str,
        secret_key: str,
        session_token: str | None,
        region: str,
        addressing_style: Literal["virtual", "path"],
        *,
        connect_timeout: float,
        read_timeout: float,
        pool_size: int,
        credential_provider: Callable[[], Any] | None = None,
    ) -> None:
        self._endpoint = urlsplit(endpoint_url)
        self._keys = (access_key, secret_key, session_token)
        self._provider = credential_provider  # asked before each request instead of the fixed keys
        self._region = region
        self._virtual = addressing_style == "virtual"
        self._client_options = {
            "allow_http": True,
            "connect_timeout": timedelta(seconds=connect_timeout),
            "timeout": timedelta(seconds=read_timeout),
            "pool_max_idle_per_host": str(pool_size),
        }
        self._stores: dict[str, NativeStore] = {}
        self._lock = threading.Lock()

    def put(self, bucket: str, key: str, data: bytes, metadata: dict[str, str]) -> str | None:
        """Store ``data`` as ``key`` in one request; return the ETag S3 answered (without quotes)."""
        import obstore

        result = obstore.put(self._store(bucket), key, data, attributes=dict(metadata), use_multipart=False)
        etag = result["e_tag"]
        return etag.strip('"') if etag else None

    def get(self, bucket: str, key: str, etag: str | None) -> tuple[int, str | None, dict[str, str], Bytes]:
        """(size, ETag, user metadata, bytes) of the whole object ``key``, pinned to ``etag`` if given.

        Raises obstore's ``PreconditionError`` if the object is no longer that version and
        ``FileNotFoundError`` if there is none.
        """
        import obstore

        result = obstore.get(self._store(bucket), key, options={"if_match": f'"{etag}"'} if etag else None)
        meta = result.meta
        found = meta["e_tag"]
        metadata = {k: v for k, v in result.attributes.items() if isinstance(k, str)}
        return meta["size"], found.strip('"') if found else None, metadata, result.bytes()

    async def get_range(
        self, bucket: str, key: str, etag: str | None, start: int, end: int
    ) -> tuple[int, str | None, dict[str, str], BytesStream]:
        """(object size, ETag, user metadata, chunks) of bytes ``[start, end)`` of ``key``, pinned to
        ``etag`` if given; the chunks arrive as the body does, to be read with ``async for`` on the
        running loop (see :mod:`._loop`; errors as in :meth:`get`)."""
        import obstore

        options: GetOptions = {"range": (start, end)}
        if etag:
            options["if_match"] = f'"{etag}"'
        result = await obstore.get_async(self._store(bucket), key, options=options)
        meta = result.meta
        found = meta["e_tag"]
        metadata = {k: v for k, v in result.attributes.items() if isinstance(k, str)}
        return meta["size"], found.strip('"') if found else None, metadata, result.stream(_CHUNK)

    def _store(self, bucket: str) -> NativeStore:
        store = self._stores.get(bucket)
        if store is None:
            with self._lock:
                store = self._stores.get(bucket) or self._open(bucket)
                self._stores[bucket] = store
        return store

    def _open(self, bucket: str) -> NativeStore:
        from obstore.store import S3Store as NativeStore

        endpoint = self._endpoint
        netloc = f"{bucket}.{endpoint.netloc}" if self._virtual else endpoint.netloc
        access_key, secret_key, session_token = self._keys
        keys: dict[str, Any]
        if self._provider is not None:
            keys = {"credential_provider": self._provider}
        else:
            keys = {"access_key_id": access_key, "secret_access_key": secret_key}
            if session_token:
                keys["session_token"] = session_token  # None is refused
        return NativeStore(
            bucket,
            endpoint=f"{endpoint.scheme}://{netloc}",
            region=self._region,
            **keys,
            virtual_hosted_style_request=self._virtual,
            # Our BLAKE3 in the metadata pins every body end to end: no second hash to sign it.
            unsigned_payload=True,
            client_options=self._client_options,  # type: ignore[arg-type]
            retry_config={"max_retries": 0},
        )

"""Which object store holds a platform's model files, and with which credentials.

The local platform says where its objects are (``Endpoint`` in GetTOSUploadPath / GetSTSToken results):
``file:///...`` for its folder store, an http(s) URL for an S3-compatible store. The real service says
nothing, and its store is TOS's S3 endpoint for the region. ``VOLC_TOS_ENDPOINT`` overrides both (e.g.
the ``ivolces.com`` endpoint from inside the region); ``VOLC_TOS_REGION`` and ``VOLC_TOS_ACCESS_KEY`` /
``VOLC_TOS_SECRET_KEY`` give a store its own region and keys.

Which credentials open the store: explicit ``VOLC_TOS_ACCESS_KEY`` / ``VOLC_TOS_SECRET_KEY`` first. Else,
when a local platform names an S3 store (an http(s) ``Endpoint``), temporary credentials it issues
(``GetSTSToken``), scoped to the account's bucket; its store never knows the ml_platform keys. Else (the
real service, which names no store and has no public STS action) the account's own keys, which TOS takes.
Temporary credentials are asked for again before they expire, even in the middle of a transfer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import unquote, urlparse

from .config import Credentials
from .errors import TransferError, ValidationError
from .transfer.base import ObjectStore
from .transfer.folder import FolderStore

if TYPE_CHECKING:
    from .transfer.credentials import RenewingKeys


def platform_issues_credentials(endpoint: str | None) -> bool:
    """Whether the object store at ``endpoint`` (as the platform named it) is opened with credentials
    from the platform's GetSTSToken rather than with configured keys."""
    if endpoint is None or os.environ.get("VOLC_TOS_ACCESS_KEY"):
        return False
    return urlparse(endpoint).scheme in ("http", "https")


def object_store_for(
    endpoint: str | None,
    *,
    region: str,
    credentials: Credentials,
    concurrency: int = 8,
    renewing: RenewingKeys | None = None,
) -> ObjectStore:
    endpoint = os.environ.get("VOLC_TOS_ENDPOINT") or endpoint
    if not endpoint:
        from .transfer.s3 import tos_s3_endpoint

        endpoint = tos_s3_endpoint(region)
    url = urlparse(endpoint)
    if url.scheme == "file":
        folder = Path(unquote(url.path))
        if not folder.is_dir():
            # Never create it here: that would "upload" into a folder the platform cannot see.
            raise TransferError(
                f"the platform keeps its objects in the folder {folder} on its own machine, which is not "
                "reachable from here; run the platform with an S3-compatible store (MLP_S3_ENDPOINT) to "
                "share it, or set VOLC_TOS_ENDPOINT"
            )
        return FolderStore(folder)
    if url.scheme not in ("http", "https"):
        raise ValidationError(
            f"object store endpoint {endpoint!r} is neither file:// nor http(s)://", field="endpoint"
        )
    from .transfer.s3 import S3Store  # boto3 and obstore are slow to import: not for a folder store

    # TOS only takes virtual-hosted-style requests; local S3 servers (MinIO, moto) want path style.
    style: Literal["virtual", "path"] = "virtual" if (url.hostname or "").endswith("volces.com") else "path"
    forced = os.environ.get("VOLC_TOS_ADDRESSING")
    if forced in ("virtual", "path"):
        style = forced  # type: ignore[assignment]
    access_key = os.environ.get("VOLC_TOS_ACCESS_KEY") or credentials.access_key
    secret_key = os.environ.get("VOLC_TOS_SECRET_KEY") or credentials.secret_key
    if os.environ.get("VOLC_TOS_ACCESS_KEY"):
        renewing = None  # the operator's own keys: nothing to renew
    # A local S3 server checks the region in the signature scope too; it need not be the platform's.
    store_region = os.environ.get("VOLC_TOS_REGION") or region
    return S3Store(
        endpoint,
        access_key,
        secret_key,
        credentials.session_token or None,
        region=store_region,
        addressing_style=style,
        max_concurrency=concurrency,
        renewing=renewing,
    )

"""Object storage over the S3 protocol: TOS in production, any S3 (e.g. moto) on a developer machine.

Integrity is end to end: the BLAKE3 checksum of every object is computed here on upload and stored as
user metadata (``x-amz-meta-blake3``); a download recomputes it and compares. Objects written by releases
before 0.3 carry ``x-amz-meta-sha256`` instead, which is verified the same way. Objects written by other
tools (no metadata) are checked by size, plus MD5 against the ETag when it is a single-part upload's.

That checksum is why request bodies are sent as ``UNSIGNED-PAYLOAD`` (botocore otherwise hashes every
body with sha256 to sign it when the endpoint is plain http): it already pins the bytes end to end, at
a quarter of sha256's CPU, and TLS protects them in transit on TOS.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import math
import os
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.parsers import DEFAULT_TIMESTAMP_PARSER

from ..errors import TransferError
from ._obstore import WholeObjects
from ._parallel import Cancelled, Task, checked, run_parallel
from .base import ByteCallback, MiB, ObjectInfo, tos_url
from .credentials import RenewingKeys
from .integrity import BLAKE3, Hasher, check_download, new_hasher, recorded_checksum, verify_bytes
from .retry import DEFAULT_RETRY, RetryPolicy, call_with_retry, call_with_retry_async

if TYPE_CHECKING:
    from botocore.awsrequest import AWSRequest
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import (
        CompletedPartTypeDef,
        HeadObjectOutputTypeDef,
        ListObjectsV2OutputTypeDef,
        ListObjectsV2RequestTypeDef,
    )

logger = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
_DELETE_BATCH = 1000  # the most keys DeleteObjects takes at once
_HASH_BLOCK = 4 * MiB  # fewer, larger reads for the hash: fewer GIL round trips per GiB


def tos_s3_endpoint(region: str, *, internal: bool = False) -> str:
    """TOS's S3 endpoint for ``region``; ``internal`` for the one reachable from inside the region."""
    return f"https://tos-s3-{region}.{'ivolces' if internal else 'volces'}.com"


def part_size_for(size: int, preferred: int, url: str) -> int:
    """``preferred``, or the smallest whole number of MiB that fits ``size`` in 10,000 parts."""
    if size <= preferred * MAX_PARTS:
        return preferred
    if size > MAX_PART_SIZE * MAX_PARTS:
        raise TransferError(f"{url}: {size} bytes is more than 10,000 parts of 5 GiB can hold")
    return math.ceil(size / MAX_PARTS / MiB) * MiB


def _unquote(etag: str | None) -> str | None:
    return etag.strip('"') if etag else None


def _is_single_part_etag(etag: str | None) -> bool:
    # A multipart ETag is "md5-of-part-md5s-N"; only a plain 32-hex ETag is the MD5 of the content.
    return etag is not None and len(etag) == 32 and "-" not in etag


def _status(exc: ClientError) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


if sys.platform == "win32":  # no pread/pwrite: seek and read/write under one lock
    _seek_lock = threading.Lock()

    def _pread(fd: int, length: int, offset: int) -> bytes:
        with _seek_lock:
            os.lseek(fd, offset, os.SEEK_SET)
            return os.read(fd, length)

    def _pwrite(fd: int, data: memoryview, offset: int) -> int:
        with _seek_lock:
            os.lseek(fd, offset, os.SEEK_SET)
            return os.write(fd, data)

else:
    _pread = os.pread
    _pwrite = os.pwrite


def _pwrite_all(fd: int, data: bytes | memoryview, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = _pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def _ignore(_: int) -> None:
    pass


def _timestamp(text: str) -> datetime:
    """A timestamp of an S3 answer: ISO 8601 (listings) natively, anything else as botocore reads it.

    botocore's own parser (dateutil) spent ~50 µs on each ``LastModified`` of a listing: half of a
    1,000-object listing's client CPU, for a field the transfer layer never reads.
    """
    try:
        found = datetime.fromisoformat(text)
    except (TypeError, ValueError):  # e.g. a HEAD's RFC 1123 date
        found = None
    if found is not None and found.tzinfo is not None:
        return found
    parsed: datetime = DEFAULT_TIMESTAMP_PARSER(text)  # no zone: botocore decides which
    return parsed


def _add_content_md5(request: AWSRequest, **_: Any) -> None:
    # botocore >= 1.36 protects DeleteObjects with a CRC32 header only; S3-compatible stores (TOS
    # among them) may still insist on the Content-MD5 that S3 has always accepted.
    body = request.body
    if isinstance(body, bytes) and "Content-MD5" not in request.headers:
        request.headers["Content-MD5"] = base64.b64encode(hashlib.md5(body).digest()).decode()


class S3Store:
    """An :class:`~.base.ObjectStore` over the S3 protocol (for TOS, see :func:`tos_s3_endpoint`).

    Files above ``multipart_threshold`` go up in parallel parts of ``part_size`` (grown as needed to stay
    within 10,000 parts) and come down in parallel ranged GETs pinned to the listed ETag.
    ``max_concurrency`` is the size of the connection pools and the most requests in flight at once,
    however many files and parts the caller runs in parallel. Whole objects (up to
    ``multipart_threshold``) go up and come down in one native request each through obstore
    (:mod:`._obstore`); listings, HEADs, deletes and the parts of large files through botocore. Neither
    retries by itself: every request goes through ``retry`` (see
    :mod:`~volcengine_ml_platform.transfer.retry`).
    """

    def __init__(
        self,
        endpoint_url: str,
        access_key: str,
        secret_key: str,
        session_token: str | None = None,
        region: str = "cn-beijing",
        addressing_style: Literal["virtual", "path"] = "virtual",
        *,
        part_size: int = 8 * MiB,
        multipart_threshold: int | None = None,
        max_concurrency: int = 8,
        retry: RetryPolicy = DEFAULT_RETRY,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        renewing: RenewingKeys | None = None,
    ) -> None:
        """``renewing``: temporary keys asked for again before they expire (see :mod:`.credentials`);
        the three keys are then its first ones."""
        if addressing_style not in ("virtual", "path"):
            raise ValueError(f"addressing_style must be 'virtual' or 'path', not {addressing_style!r}")
        if not MIN_PART_SIZE <= part_size <= MAX_PART_SIZE:
            raise ValueError(f"part_size must be between 5 MiB and 5 GiB, not {part_size}")
        if max_concurrency < 1:
            raise ValueError("max_concurrency must be at least 1")
        self.endpoint_url = endpoint_url
        self.part_size = part_size
        self.multipart_threshold = part_size if multipart_threshold is None else multipart_threshold
        self.retry = retry
        self._slots = threading.BoundedSemaphore(max_concurrency)
        config = Config(
            region_name=region,
            signature_version="s3v4",
            # Our own checksum pins every body (see the module's docstring): no second hash to sign it.
            s3={"addressing_style": addressing_style, "payload_signing_enabled": False},
            max_pool_connections=max_concurrency,
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            tcp_keepalive=True,
            # Our own sha256 covers integrity end to end; botocore's default CRC trailers (1.36+) use
            # aws-chunked uploads that S3-compatible stores do not all accept.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        # A session of our own: the default one is shared, mutable global state.
        session = botocore.session.get_session()
        session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_timestamp)
        keys: dict[str, Any] = {
            "aws_access_key_id": access_key,
            "aws_secret_access_key": secret_key,
            "aws_session_token": session_token,
        }
        if renewing is not None:
            # The client signs with the session's credentials, from its resolver: ours, renewing.
            session.register_component("credential_provider", renewing.botocore_resolver())
            keys = {}
        self._client: S3Client = boto3.session.Session(botocore_session=session).client(
            "s3", endpoint_url=endpoint_url, region_name=region, config=config, **keys
        )
        self._client.meta.events.register("before-sign.s3.DeleteObjects", _add_content_md5)
        self._whole = WholeObjects(
            endpoint_url,
            access_key,
            secret_key,
            session_token,
            region,
            addressing_style,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            pool_size=max_concurrency,
            credential_provider=renewing.obstore() if renewing is not None else None,
        )

    def __repr__(self) -> str:
        return f"S3Store({self.endpoint_url!r})"

    @property
    def client(self) -> S3Client:
        """The underlying boto3 client (for bucket administration and tests)."""
        return self._client

    # -- the ObjectStore interface -------------------------------------------------------------

    def put_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        report = on_bytes or _ignore
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size > self.multipart_threshold:
                # The checksum goes in the metadata, which S3 takes when the upload starts: hash first
                # (the parts' re-reads then come from the page cache).
                digest = _digest_file(f.fileno(), st.st_size)
                return self._put_multipart(bucket, key, f.fileno(), st, digest, concurrency, report)
            # Small: one read, so the bytes hashed are the bytes sent even if the file is being changed.
            data = f.read()
        stored = self.put_bytes(bucket, key, data)
        report(len(data))
        return stored

    def get_file(
        self,
        bucket: str,
        obj: ObjectInfo,
        dest: Path,
        *,
        concurrency: int = 8,
        on_bytes: ByteCallback | None = None,
    ) -> ObjectInfo:
        url = tos_url(bucket, obj.key)
        report = on_bytes or _ignore
        versions = _VersionCheck(url, obj)
        with open(dest, "w+b") as f:  # read back by the hasher of a ranged download
            fd = f.fileno()
            if obj.size > self.multipart_threshold:
                ranges = _split(obj.size, part_size_for(obj.size, self.part_size, url))
                os.ftruncate(fd, obj.size)
                hasher = _OrderedHasher(fd, ranges, lambda: _algorithms(versions.first))

                def fetch(index: int, start: int, end: int) -> Callable[[], Awaitable[None]]:
                    async def run() -> None:
                        await self._fetch(bucket, obj, fd, start, end, report, versions.see)
                        hasher.range_done(index)

                    return run

                from . import _loop  # asyncio: only for large objects (~40 ms of import otherwise)

                jobs = [fetch(i, start, end) for i, (start, end) in enumerate(ranges)]
                _loop.run(lambda: _loop.run_all(jobs, concurrency))
                digests = hasher.hexdigests()
            else:
                digests = self._get_whole(bucket, obj, fd, report, versions.see)
        version = versions.first
        size = os.stat(dest).st_size
        if (recorded := recorded_checksum(version)) is not None:
            algorithm, expected = recorded
            check_download(
                url,
                size=size,
                expected_size=version.size,
                digest=digests.get(algorithm),
                expected_digest=expected,
                algorithm=algorithm,
            )
        elif "md5" in digests:
            md5 = digests["md5"]
            check_download(
                url,
                size=size,
                expected_size=version.size,
                digest=md5,
                expected_digest=version.etag,
                algorithm="md5",
            )
        else:
            logger.info("%s carries no checksum (uploaded by another tool?): verified its size only", url)
            check_download(url, size=size, expected_size=version.size)
        return version

    def put_bytes(self, bucket: str, key: str, data: bytes) -> ObjectInfo:
        """One PUT of bytes in memory (a small file's, or the platform's manifest): no scratch file."""
        hasher = new_hasher(BLAKE3)
        hasher.update(data)
        digest = hasher.hexdigest()

        def put() -> str | None:
            with self._slots:
                return self._whole.put(bucket, key, data, {BLAKE3: digest})

        etag = call_with_retry(put, what=f"upload of {tos_url(bucket, key)}", policy=self.retry)
        return ObjectInfo(key, len(data), etag=etag, blake3=digest)

    def get_bytes(self, bucket: str, key: str) -> tuple[ObjectInfo, bytes] | None:
        url = tos_url(bucket, key)

        def get() -> tuple[ObjectInfo, bytes] | None:
            try:
                with self._slots:
                    size, etag, metadata, body = self._whole.get(bucket, key, None)
            except FileNotFoundError:  # obstore's NotFoundError: a 404
                return None
            version = ObjectInfo(key, size, metadata.get("sha256"), etag, metadata.get(BLAKE3))
            data = bytes(body)
            if len(data) != size:
                raise ConnectionError(f"response ended at byte {len(data)} of {size}")  # transient
            if recorded_checksum(version) is None and _is_single_part_etag(etag):  # as get_file
                md5 = new_hasher("md5")
                md5.update(data)
                check_download(url, size=size, expected_size=size, digest=md5.hexdigest(),
                               expected_digest=etag, algorithm="md5")  # fmt: skip
            verify_bytes(url, data, version)
            return version, data

        return call_with_retry(get, what=f"download of {url}", policy=self.retry)

    def list_objects(self, bucket: str, prefix: str) -> Iterator[ObjectInfo]:
        token: str | None = None
        while True:
            page = self._list_page(bucket, prefix, token)
            for item in page.get("Contents", []):
                yield ObjectInfo(
                    item["Key"], item["Size"], None, _unquote(item.get("ETag")), modified=_posix(item)
                )
            if not page.get("IsTruncated"):
                return
            token = page["NextContinuationToken"]

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        def head() -> ObjectInfo | None:
            try:
                with self._slots:
                    resp = self._client.head_object(Bucket=bucket, Key=key)
            except ClientError as exc:
                if _status(exc) == 404:
                    return None
                raise
            return _described(key, resp["ContentLength"], resp)

        return call_with_retry(head, what=f"head of {tos_url(bucket, key)}", policy=self.retry)

    def delete_prefix(self, bucket: str, prefix: str) -> int:
        return self._delete(bucket, [info.key for info in self.list_objects(bucket, prefix)], prefix)

    def delete_keys(self, bucket: str, keys: Iterable[str]) -> int:
        """Delete exactly these objects (those already gone too); return how many were asked."""
        return self._delete(bucket, list(keys), "")

    def _delete(self, bucket: str, keys: list[str], prefix: str) -> int:
        for i in range(0, len(keys), _DELETE_BATCH):
            batch = keys[i : i + _DELETE_BATCH]

            def delete(batch: list[str] = batch) -> None:
                with self._slots:
                    resp = self._client.delete_objects(
                        Bucket=bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
                    )
                if errors := resp.get("Errors"):
                    first = errors[0]
                    raise TransferError(
                        f"could not delete {len(errors)} objects under {tos_url(bucket, prefix)}, e.g. "
                        f"{first.get('Key')}: {first.get('Code')} {first.get('Message')}"
                    )

            call_with_retry(delete, what=f"deletion under {tos_url(bucket, prefix)}", policy=self.retry)
        return len(keys)

    def _list_page(self, bucket: str, prefix: str, token: str | None) -> ListObjectsV2OutputTypeDef:
        request: ListObjectsV2RequestTypeDef = {"Bucket": bucket, "Prefix": prefix}
        if token:
            request["ContinuationToken"] = token

        def page() -> ListObjectsV2OutputTypeDef:
            with self._slots:
                return self._client.list_objects_v2(**request)

        return call_with_retry(page, what=f"listing of {tos_url(bucket, prefix)}", policy=self.retry)

    def _put_multipart(
        self,
        bucket: str,
        key: str,
        fd: int,
        st: os.stat_result,
        digest: str,
        concurrency: int,
        report: ByteCallback,
    ) -> ObjectInfo:
        url = tos_url(bucket, key)
        size = st.st_size
        ranges = _split(size, part_size_for(size, self.part_size, url))

        def create() -> str:
            with self._slots:
                resp = self._client.create_multipart_upload(Bucket=bucket, Key=key, Metadata={BLAKE3: digest})
            return resp["UploadId"]

        upload_id = call_with_retry(create, what=f"start of multipart upload of {url}", policy=self.retry)
        try:

            def part(number: int, start: int, end: int) -> Task[CompletedPartTypeDef]:
                def run(cancel: threading.Event) -> CompletedPartTypeDef:
                    if cancel.is_set():
                        raise Cancelled

                    def attempt() -> str:
                        with self._slots:  # read inside the slot: at most max_concurrency parts in memory
                            data = _pread(fd, end - start, start)
                            if len(data) != end - start:
                                raise TransferError(f"{url}: the local file shrank while it was uploaded")
                            resp = self._client.upload_part(
                                Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data
                            )
                        return resp["ETag"]

                    what = f"upload of part {number} of {len(ranges)} of {url}"
                    etag = call_with_retry(attempt, what=what, policy=self.retry)
                    checked(cancel, report)(end - start)
                    return {"PartNumber": number, "ETag": etag}

                return run

            tasks = [part(i + 1, start, end) for i, (start, end) in enumerate(ranges)]
            parts = run_parallel(tasks, concurrency=concurrency, name="mlp-part")
            now = os.fstat(fd)
            if (now.st_size, now.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                raise TransferError(f"{url}: the local file changed while it was uploaded")
            etag = self._complete(bucket, key, upload_id, parts, digest, size)
        except BaseException:
            self._abort(bucket, key, upload_id)
            raise
        return ObjectInfo(key, size, etag=_unquote(etag), blake3=digest)

    def _complete(
        self, bucket: str, key: str, upload_id: str, parts: list[CompletedPartTypeDef], digest: str, size: int
    ) -> str:
        url = tos_url(bucket, key)
        attempts = 0

        def complete() -> str:
            nonlocal attempts
            attempts += 1
            if attempts > 1:
                # The previous attempt may have succeeded and only its answer been lost; completing
                # again would then fail with NoSuchUpload.
                done = self.head(bucket, key)
                if done is not None and done.blake3 == digest and done.size == size and done.etag:
                    self._abort(bucket, key, upload_id, quiet=True)
                    return done.etag
            with self._slots:
                resp = self._client.complete_multipart_upload(
                    Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
            return resp["ETag"]

        return call_with_retry(complete, what=f"completion of multipart upload of {url}", policy=self.retry)

    def _abort(self, bucket: str, key: str, upload_id: str, *, quiet: bool = False) -> None:
        """Abort a multipart upload so that its parts do not linger (and cost) in the bucket."""

        def abort() -> None:
            with self._slots:
                self._client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

        try:
            call_with_retry(
                abort, what=f"abort of multipart upload of {tos_url(bucket, key)}", policy=self.retry
            )
        except Exception as exc:
            log = logger.debug if quiet else logger.warning
            log("could not abort multipart upload %s of %s: %s", upload_id, tos_url(bucket, key), exc)

    def _get_whole(
        self,
        bucket: str,
        obj: ObjectInfo,
        fd: int,
        on_bytes: ByteCallback,
        on_version: Callable[[ObjectInfo], None],
    ) -> dict[str, str]:
        """Write the whole (small) object at the start of ``fd`` in one GET pinned to the listed ETag;
        return the digests that can verify it (see :func:`_algorithms`)."""
        url = tos_url(bucket, obj.key)

        def attempt() -> dict[str, str]:
            with self._slots, _gone_or_changed(url):
                size, etag, metadata, data = self._whole.get(bucket, obj.key, obj.etag)
            version = ObjectInfo(obj.key, size, metadata.get("sha256"), etag, metadata.get(BLAKE3))
            on_version(version)
            if len(data) != size:
                raise ConnectionError(f"response ended at byte {len(data)} of {size}")  # transient
            view = memoryview(data)
            _pwrite_all(fd, view, 0)
            os.ftruncate(fd, size)  # a retry after a longer answer must not leave its tail
            on_bytes(size)
            digests: dict[str, str] = {}
            for name in _algorithms(version):
                hasher = new_hasher(name)
                hasher.update(view)
                digests[name] = hasher.hexdigest()
            return digests

        return call_with_retry(attempt, what=f"download of {url}", policy=self.retry)

    async def _fetch(
        self,
        bucket: str,
        obj: ObjectInfo,
        fd: int,
        start: int,
        end: int,
        on_bytes: ByteCallback,
        on_version: Callable[[ObjectInfo], None],
    ) -> None:
        """Write bytes ``[start, end)`` of ``obj`` at their offsets in ``fd``, resuming after failures
        where the last attempt stopped. Runs on the loop of :mod:`._loop`.

        Every response must be the listed version: the ETag is pinned with If-Match.
        """
        pos = start
        seen_version = False
        url = tos_url(bucket, obj.key)

        async def attempt() -> None:
            nonlocal pos, seen_version
            async with self._slot():
                with _gone_or_changed(url):
                    got = await self._whole.get_range(bucket, obj.key, obj.etag, pos, end)
                size, etag, metadata, chunks = got
                if not seen_version:
                    on_version(ObjectInfo(obj.key, size, metadata.get("sha256"), etag, metadata.get(BLAKE3)))
                    seen_version = True
                async for chunk in chunks:
                    _pwrite_all(fd, chunk, pos)
                    pos += len(chunk)
                    on_bytes(len(chunk))
            if pos != end:
                raise ConnectionError(f"response ended at byte {pos} of {end}")  # transient: resume

        what = f"download of {url} (bytes {start}-{end - 1})"
        await call_with_retry_async(attempt, what=what, policy=self.retry)

    @asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        """One of the ``max_concurrency`` request slots, for a request on the loop: the threads' requests
        take the same slots, so they are asked for without blocking the loop (again after a growing
        pause while all are taken)."""
        import asyncio

        pause = 0.001
        while not self._slots.acquire(blocking=False):
            await asyncio.sleep(pause)
            pause = min(2 * pause, 0.05)
        try:
            yield
        finally:
            self._slots.release()


def _split(size: int, part_size: int) -> list[tuple[int, int]]:
    return [(start, min(start + part_size, size)) for start in range(0, size, part_size)]


def _described(key: str, size: int, resp: HeadObjectOutputTypeDef) -> ObjectInfo:
    """The object a HEAD answer describes, with the checksum our metadata recorded (BLAKE3, or sha256
    for objects written before 0.3)."""
    metadata = resp.get("Metadata", {})
    etag = _unquote(resp.get("ETag"))
    return ObjectInfo(key, size, metadata.get("sha256"), etag, metadata.get(BLAKE3), _posix(resp))


def _posix(described: Mapping[str, Any]) -> float | None:
    """An answer's LastModified as POSIX seconds (None if it has none)."""
    when = described.get("LastModified")
    return when.timestamp() if isinstance(when, datetime) else None


def _digest_file(fd: int, size: int) -> str:
    """BLAKE3 of the first ``size`` bytes of ``fd``, read in large blocks (the hash releases the GIL)."""
    hasher = new_hasher(BLAKE3)
    pos = 0
    while pos < size and (data := _pread(fd, min(_HASH_BLOCK, size - pos), pos)):
        hasher.update(data)
        pos += len(data)
    return hasher.hexdigest()


def _algorithms(version: ObjectInfo) -> list[str]:
    """The digests that can verify ``version``: the checksum in our metadata, else MD5 of a single-part
    ETag, else none."""
    if (recorded := recorded_checksum(version)) is not None:
        return [recorded[0]]
    return ["md5"] if _is_single_part_etag(version.etag) else []


class _VersionCheck:
    """Checks that every response of one download describes the listed object, and the same version."""

    def __init__(self, url: str, listed: ObjectInfo) -> None:
        self._url = url
        self._listed = listed
        self._first: ObjectInfo | None = None
        self._lock = threading.Lock()

    @property
    def first(self) -> ObjectInfo:
        assert self._first is not None, "no response seen yet"
        return self._first

    def see(self, version: ObjectInfo) -> None:
        if version.size != self._listed.size:
            raise TransferError(f"{self._url} changed since it was listed ({version.size} bytes now)")
        with self._lock:
            if self._first is None:
                self._first = version
            elif (version.blake3, version.sha256, version.etag) != (
                self._first.blake3,
                self._first.sha256,
                self._first.etag,
            ):
                raise TransferError(f"{self._url} changed while it was downloaded")


class _OrderedHasher:
    """Hashes a file being written in parallel ranges, in order, as each leading run of ranges completes.

    This overlaps hashing with the download instead of reading the whole file again at the end. One
    thread hashes at a time; the others only record their range as done and go on downloading.
    """

    def __init__(self, fd: int, ranges: list[tuple[int, int]], algorithms: Callable[[], list[str]]) -> None:
        self._fd = fd
        self._ranges = ranges
        self._algorithms = algorithms
        self._hashes: dict[str, Hasher] | None = None
        self._done: set[int] = set()
        self._next = 0
        self._busy = False
        self._lock = threading.Lock()

    def range_done(self, index: int) -> None:
        with self._lock:
            self._done.add(index)
            if self._busy:
                return  # the thread that is hashing will get to this range
            self._busy = True
        while True:
            with self._lock:
                if self._next not in self._done:
                    self._busy = False
                    return
                start, end = self._ranges[self._next]
            self._hash(start, end)
            with self._lock:
                self._next += 1

    def hexdigests(self) -> dict[str, str]:
        assert self._next == len(self._ranges), "not every range was hashed"
        return {name: h.hexdigest() for name, h in (self._hashes or {}).items()}

    def _hash(self, start: int, end: int) -> None:
        if self._hashes is None:
            # Range 0 is complete, so its response has told which digests can verify the object.
            self._hashes = {name: new_hasher(name) for name in self._algorithms()}
        if not self._hashes:
            return
        for offset in range(start, end, _HASH_BLOCK):
            data = _pread(self._fd, min(_HASH_BLOCK, end - offset), offset)
            for h in self._hashes.values():
                h.update(data)


@contextmanager
def _gone_or_changed(url: str) -> Iterator[None]:
    """A GET's missing object, or one whose ETag no longer matches the listing, as a TransferError."""
    try:
        yield
    except FileNotFoundError as exc:
        raise TransferError(f"{url} does not exist") from exc
    except Exception as exc:
        if type(exc).__name__ == "PreconditionError":  # obstore's If-Match refusal
            raise TransferError(f"{url} changed since it was listed") from exc
        raise

"""Transient failures are retried with backoff, a bounded number of times, and logged."""

from __future__ import annotations

import logging
import os
import socket
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from volcengine_ml_platform.errors import TransferError
from volcengine_ml_platform.transfer import (
    RetryPolicy,
    S3Store,
    call_with_retry,
    download_prefix,
    is_transient,
    upload_path,
)

from .conftest import FAST_RETRY, PART, StoreCase
from .helpers import Flaky, leftovers, make_tree, read_tree

RETRY_LOGGER = "volcengine_ml_platform.transfer.retry"


def retries_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == RETRY_LOGGER and r.levelno == logging.WARNING]


def test_two_transient_failures_then_success(
    case: StoreCase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = make_tree(tmp_path / "m", small=3, big=PART + 1)
    store = Flaky(case.store, failures=2)

    with caplog.at_level(logging.WARNING, logger=RETRY_LOGGER):
        url = upload_path(store, tmp_path / "m", case.bucket, "p/", retry=FAST_RETRY)
        download_prefix(store, url, tmp_path / "out", retry=FAST_RETRY)

    assert read_tree(tmp_path / "out") == files
    assert leftovers(tmp_path) == []
    logged = retries_logged(caplog)
    assert len(logged) == 2 * 2 * len(files)  # two failures per file, each way
    assert any("upload of" in m and "weights/big.bin" in m and "attempt 1 of 3" in m for m in logged)
    assert any("download of" in m and "weights/big.bin" in m and "attempt 2 of 3" in m for m in logged)


def test_permanent_transient_failure_gives_up_after_bounded_attempts(
    case: StoreCase, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "model.bin").write_bytes(b"abc")
    store = Flaky(case.store, failures=10**6)

    with caplog.at_level(logging.WARNING, logger=RETRY_LOGGER), pytest.raises(TransferError) as err:
        upload_path(store, tmp_path / "model.bin", case.bucket, "p/", retry=FAST_RETRY)

    assert "p/model.bin failed after 3 attempts" in str(err.value)
    assert store.calls["put_file:p/model.bin"] == 3
    assert len(retries_logged(caplog)) == 2


def test_permanent_error_is_not_retried(case: StoreCase, tmp_path: Path) -> None:
    (tmp_path / "model.bin").write_bytes(b"abc")
    url = upload_path(case.store, tmp_path / "model.bin", case.bucket, "p/")

    class Denied(Flaky):
        def get_file(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
            self.count("get_file")
            raise PermissionError("access denied")

    store = Denied(case.store, failures=0)
    with pytest.raises(TransferError, match=r"p/model\.bin.*access denied"):
        download_prefix(store, url, tmp_path / "out", retry=FAST_RETRY)
    assert store.calls["get_file"] == 1


def test_s3_store_retries_each_request_itself_without_botocore_retries(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = S3Store(
        f"http://127.0.0.1:{port}", "k", "s", addressing_style="path", part_size=PART, retry=FAST_RETRY
    )
    sent: list[str] = []
    store.client.meta.events.register("before-send.s3", lambda **kw: sent.append(kw["event_name"]))
    (tmp_path / "f.bin").write_bytes(os.urandom(PART + 1))  # multipart: botocore's requests

    with pytest.raises(
        TransferError, match=r"start of multipart upload of tos://bucket/p/f\.bin failed after 3"
    ):
        upload_path(store, tmp_path / "f.bin", "bucket", "p/", retry=FAST_RETRY)

    assert len(sent) == 3  # exactly the policy's attempts: botocore adds none, the manager none on top


def test_s3_store_defaults() -> None:
    store = S3Store("https://tos-s3-cn-beijing.volces.com", "k", "s")
    config: Any = store.client.meta.config  # botocore's Config sets its attributes dynamically
    # Bodies are pinned by our own checksum, not hashed a second time by botocore to be signed.
    assert config.s3 == {"addressing_style": "virtual", "payload_signing_enabled": False}
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.max_pool_connections == 8


def _client_error(code: str, status: int) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, "Op")


@pytest.mark.parametrize(
    ("exc", "transient"),
    [
        (_client_error("SlowDown", 503), True),
        (_client_error("InternalError", 500), True),
        (_client_error("Throttling", 400), True),
        (_client_error("RequestTimeout", 400), True),
        (_client_error("Whatever", 502), True),
        (_client_error("Whatever", 429), True),
        (_client_error("AccessDenied", 403), False),
        (_client_error("NoSuchKey", 404), False),
        (_client_error("PreconditionFailed", 412), False),
        (EndpointConnectionError(endpoint_url="http://x"), True),
        (ReadTimeoutError(endpoint_url="http://x"), True),
        (ConnectionResetError(), True),
        (TimeoutError(), True),
        (FileNotFoundError(), False),
        (TransferError("gave up"), False),
        (ValueError(), False),
    ],
)
def test_transient_classification(exc: BaseException, transient: bool) -> None:
    assert is_transient(exc) is transient


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=8.0)
    for attempt, cap in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (9, 8.0)]:
        delays = {policy.delay(attempt) for _ in range(50)}
        assert all(cap / 2 <= d <= cap for d in delays)
        assert len(delays) > 1


def test_call_with_retry_returns_the_first_success() -> None:
    outcomes: list[BaseException | str] = [ConnectionResetError(), TimeoutError(), "ok"]

    def flaky() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert call_with_retry(flaky, what="test", policy=FAST_RETRY) == "ok"

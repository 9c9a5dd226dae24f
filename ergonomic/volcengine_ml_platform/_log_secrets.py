"""No secret of this library's requests reaches a log record.

httpx logs each request's URL at INFO (``HTTP Request: POST https://...?...``) and httpcore more at
DEBUG; the inner door's requests carry their ``Token`` in the query string, so a user who turned on
INFO logging (or ``mlp --debug``, DEBUG for every logger) would write live tokens to the log.
:class:`RedactSecrets`, a filter the sessions' clients put on httpx's and httpcore's loggers, rewrites
a record's secret query parameters (``Token=***``), and only while one of those clients is sending
(:data:`SENDING`, a context variable: the same thread, or the same task): the records of the user's
own httpx requests, the user's handlers and every other logger are left as they were.
"""

from __future__ import annotations

import logging
import re
from contextvars import ContextVar

# The query parameters that are credentials: the inner door's token, and the signature, credential
# and session token of an S3 presigned URL (should one be logged).
SECRET_PARAMS = ("Token", "X-Amz-Security-Token", "X-Amz-Signature", "X-Amz-Credential")
_SECRET = re.compile(r"(?i)\b(" + "|".join(re.escape(p) for p in SECRET_PARAMS) + r")=[^&\s\"'<>]*")
REDACTED = "***"
# True while a session's client sends a request (its records are the ones rewritten).
SENDING: ContextVar[bool] = ContextVar("volcengine_ml_platform_sending", default=False)
# Where httpx and httpcore log: a logger's filters see only the records logged to it (not those
# passed up from its children), so each logger that may name a URL gets the filter.
LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
)


def redact(text: str) -> str:
    """``text`` with the values of its secret query parameters replaced by ``***``."""
    return _SECRET.sub(lambda m: f"{m.group(1)}={REDACTED}", text)


class RedactSecrets(logging.Filter):
    """Rewrites the secret query parameters of the records logged while a session's client sends."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not SENDING.get():
            return True
        message = record.getMessage()
        if _SECRET.search(message) is not None:
            record.msg, record.args = redact(message), None
        return True


_FILTER = RedactSecrets()


def install() -> None:
    """Put the filter on httpx's and httpcore's loggers (once: adding it again is a no-op)."""
    for name in LOGGERS:
        logging.getLogger(name).addFilter(_FILTER)  # a filter already there is not added twice


# What else names a secret in the records ``mlp`` prints (``--debug`` logs every library at DEBUG):
# a header's value in botocore's request repr and canonical request (Authorization carries the
# request's signature, X-Amz-Security-Token the session token), and temporary credentials in an
# answer's body (STS's XML, a JSON object).
_SECRET_HEADERS = r"authorization|x-amz-security-token"
_SECRET_FIELDS = r"SecretAccessKey|SessionToken|SecretKey|SecretAccessKeyId|sk|Token"
_ANYWHERE = (
    (re.compile(rf"(?i)(['\"](?:{_SECRET_HEADERS})['\"]\s*:\s*b?['\"])[^'\"]*"), rf"\g<1>{REDACTED}"),
    (re.compile(rf"(?im)^((?:{_SECRET_HEADERS}):).*$"), rf"\g<1>{REDACTED}"),
    (re.compile(rf"<({_SECRET_FIELDS})>[^<]*</"), rf"<\g<1>>{REDACTED}</"),
    (re.compile(rf"(\"(?:{_SECRET_FIELDS})\"\s*:\s*\")[^\"]*"), rf"\g<1>{REDACTED}"),
)


def redact_all(text: str) -> str:
    """:func:`redact`, and the values of secret headers and credential fields too."""
    text = redact(text)
    for pattern, replacement in _ANYWHERE:
        text = pattern.sub(replacement, text)
    return text


class RedactEverySecret(logging.Filter):
    """For a handler of the ``mlp`` command's own: every record it prints, of any logger, with its
    secrets (:func:`redact_all`) replaced by ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_all(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True

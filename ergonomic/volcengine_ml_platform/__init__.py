"""Volcengine ml_platform model repository: the documented ``volcengine_ml_platform.models`` API."""

__version__ = "0.1.0"

import logging as _logging

from . import _httpx_cli

# Before anything imports httpx: its command-line client (click, rich, pygments) is loaded only if used.
_httpx_cli.defer()

# A library logs; the application decides where logs go (the CLI configures handlers).
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

"""Volcengine ml_platform model repository: the documented ``volcengine_ml_platform.models`` API."""

# The one place the version is written: pyproject reads it (setuptools' dynamic version), `mlp --version`,
# the User-Agent and the README's release line say it. Releases: 0.1.0 (the first, before schema
# migrations), then one per round of work on the performance issue (0.2, 0.3, 0.4); this is 0.5.
__version__ = "0.11.0"

import logging as _logging

from . import _httpx_cli

# Before anything imports httpx: its command-line client (click, rich, pygments) is loaded only if used.
_httpx_cli.defer()

# A library logs; the application decides where logs go (the CLI configures handlers).
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

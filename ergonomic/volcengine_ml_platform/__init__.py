"""Volcengine ml_platform model repository: the documented ``volcengine_ml_platform.models`` API."""

__version__ = "0.1.0"

import logging as _logging

# A library logs; the application decides where logs go (the CLI configures handlers).
_logging.getLogger(__name__).addHandler(_logging.NullHandler())

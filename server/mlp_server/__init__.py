"""The local ml_platform: a reference implementation of openapi/ml_platform-2021-07-01.yaml."""

import logging as _logging

_logging.getLogger(__name__).addHandler(_logging.NullHandler())

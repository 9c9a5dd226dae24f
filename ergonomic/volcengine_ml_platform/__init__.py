"""Volcengine ml_platform model repository: the documented ``volcengine_ml_platform.models`` API."""

__version__ = "0.1.0"

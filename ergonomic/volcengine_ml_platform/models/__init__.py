"""The documented ``volcengine_ml_platform.models`` package: ``model.Model``, ``inner_model.Model``,
``validation``."""

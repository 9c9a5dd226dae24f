"""The build step: regenerate ``generated_client/`` from ``openapi/`` (``python -m codegen``)."""

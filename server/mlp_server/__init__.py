"""The local ml_platform: a reference implementation of openapi/ml_platform-2021-07-01.yaml."""

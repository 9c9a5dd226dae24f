"""Alembic migrations of the store's schema (``mlp db upgrade``); see ``mlp_server.store.migrate``."""

"""The one way a perf task fails on purpose: a message for the task's ``Message``, naming the cause."""

from __future__ import annotations

# What a task that needs an optional package says to do (the `perf` extra brings them all).
INSTALL_HINT = "pip install 'volcengine-ml-platform-models[perf]'"


class TaskError(Exception):
    """The task cannot be done as asked (bad model, bad TensorConfig, missing GPU or runtime ...)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

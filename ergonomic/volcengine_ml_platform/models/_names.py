"""Addressing models by name and versions as ``latest``.

The platform lets several models share a name (CreateModel always creates a new model). A name
is an address only when exactly one model of the account carries it; otherwise we say so and list
the candidates rather than guess."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final, Literal

from ..errors import ConflictError, NotFoundError, ValidationError

if TYPE_CHECKING:  # annotations only: the CLI reads IF_EXISTS without loading the generated client
    from ml_platform_client.models import ModelSummary

IfExists = Literal["create", "new_version", "error"]
# What ``register(model_name=X)`` does when a model named X exists: create another model named X
# (the documented behaviour, the default), add a version to it, or refuse.
IF_EXISTS: Final[tuple[str, ...]] = ("create", "new_version", "error")
LATEST: Final = "latest"
_MODEL_ID = re.compile(r"^m-\d{14}-[0-9a-z]{5}$")


def check_version(model_version: object) -> str:
    """A version as the API takes it: a number (``3``, ``"3"``) or ``"latest"`` (any case), as text.

    Anything else is refused here, naming the argument and what it takes, rather than sent as a
    ``ModelVersionID`` the platform would refuse in its own words."""
    text = str(model_version).strip().lower()
    if text == LATEST:
        return text
    if not isinstance(model_version, bool) and text.isascii() and text.isdigit() and int(text) > 0:
        return str(int(text))
    raise ValidationError(
        f"model_version: {model_version!r} is not a version: expected a version number (1, 2, ...) or "
        f"{LATEST!r} (the model's highest version)",
        field="model_version",
    )


def looks_like_model_id(text: str) -> bool:
    return bool(_MODEL_ID.match(text))


def check_if_exists(value: str) -> IfExists:
    if value == "create":
        return "create"
    if value == "new_version":
        return "new_version"
    if value == "error":
        return "error"
    raise ValidationError(f"if_exists: {value!r} is not one of {', '.join(IF_EXISTS)}", field="if_exists")


def exact(name: str, candidates: Iterable[ModelSummary]) -> list[ModelSummary]:
    """The models named exactly ``name`` (ListModels filters by substring)."""
    return [m for m in candidates if m.model_name == name]


def the_one(name: str, found: list[ModelSummary]) -> ModelSummary:
    """The single model named ``name``; NotFoundError or ConflictError (listing the IDs) otherwise."""
    if not found:
        raise NotFoundError(f"no model is named {name!r}", code="NotFound")
    if len(found) > 1:
        ids = ", ".join(m.model_id for m in found)
        raise ConflictError(
            f"{len(found)} models are named {name!r} ({ids}); use a model ID", code="AmbiguousName"
        )
    return found[0]


def target_model(policy: IfExists, model_name: str, found: list[ModelSummary]) -> str | None:
    """The model a ``register(model_name=...)`` adds a version to under ``if_exists``, or None to
    create a new model; ``found`` are the models named ``model_name``."""
    if not found or policy == "create":
        return None
    if policy == "error":
        the_one(model_name, found)  # names them all when there are several
        raise ConflictError(
            f"a model named {model_name!r} exists ({found[0].model_id}); "
            "pass if_exists='new_version' to add a version to it",
            code="ModelNameExists",
        )
    return the_one(model_name, found).model_id

"""Import httpx without its command-line client.

httpx's ``__init__`` runs ``from ._main import main`` for its ``httpx`` console script, and that module
imports click, rich and pygments: about a fifth of this package's import time, for a command this
package never runs. :func:`defer` (called before anything imports httpx) serves a placeholder
``httpx._main`` instead. The placeholder behaves like the real module: calling its ``main`` or reading
any other attribute loads the real ``httpx._main`` and puts it in ``sys.modules``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec, PathFinder
from types import ModuleType
from typing import Any

NAME = "httpx._main"


def _real() -> ModuleType:
    """The real ``httpx._main``, loaded on first use."""
    module = sys.modules.get(NAME)
    if module is not None and not getattr(module, "_placeholder", False):
        return module
    import httpx

    spec = PathFinder.find_spec(NAME, list(httpx.__path__))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot find {NAME}", name=NAME)
    from importlib.util import module_from_spec

    real = module_from_spec(spec)
    placeholder = sys.modules.get(NAME)
    sys.modules[NAME] = real
    try:
        spec.loader.exec_module(real)
    except BaseException:
        if placeholder is not None:
            sys.modules[NAME] = placeholder
        else:
            sys.modules.pop(NAME, None)
        raise
    return real


def _main(*args: Any, **kwargs: Any) -> Any:
    return _real().main(*args, **kwargs)


def _getattr(name: str) -> Any:
    if name.startswith("__"):  # dunder probes (copy, pickle, inspect) must not load click and rich
        raise AttributeError(name)
    return getattr(_real(), name)


class _Loader:
    """Creates the placeholder module (nothing to execute). A plain class: importlib.abc would import
    importlib.resources, which costs more than it saves here."""

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        module = ModuleType(spec.name, "httpx's command-line client, loaded when first used")
        module.main = _main  # type: ignore[attr-defined]
        module.__getattr__ = _getattr  # type: ignore[method-assign]
        module._placeholder = True  # type: ignore[attr-defined]
        return module

    def exec_module(self, module: ModuleType) -> None:
        return None


class _Finder:
    """Answers for ``httpx._main`` once, then leaves ``sys.meta_path``."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != NAME:
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        return ModuleSpec(fullname, _Loader())  # type: ignore[arg-type]


def defer() -> None:
    """Serve the placeholder ``httpx._main`` if httpx is not imported yet (otherwise it is too late)."""
    if "httpx" in sys.modules or any(isinstance(finder, _Finder) for finder in sys.meta_path):
        return
    sys.meta_path.insert(0, _Finder())

"""Which files of a model folder are uploaded: gitignore-style patterns, as huggingface_hub's
``allow_patterns`` / ``ignore_patterns``.

- ``allow_patterns``: when given, only files matching one of them are uploaded.
- ``ignore_patterns``: files matching any of them are not uploaded.
- Always ignored: ``.git/``, ``__pycache__/``, ``.DS_Store`` and the ``.mlpignore`` file itself.
- ``.mlpignore`` at the top of the folder adds ignore patterns, one per line (``#`` comments),
  with .gitignore syntax (``*.ckpt``, ``logs/``, ``!keep.ckpt``).

Patterns match the path relative to the folder, with ``/`` separators; a pattern without ``/``
matches at any depth. Symlinks are followed (a symlinked file uploads the bytes it points to;
a link back to a containing folder is skipped), and they are matched by their own path in the folder.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ..errors import ValidationError

IGNORE_FILE: Final = ".mlpignore"
DEFAULT_IGNORES: Final = (".git/", "__pycache__/", ".DS_Store", f"/{IGNORE_FILE}")

if TYPE_CHECKING:
    import pathspec

FileFilter = Callable[[str], bool]
"""Whether the file at this relative POSIX path is uploaded."""


def _spec(patterns: Sequence[str], field: str) -> pathspec.GitIgnoreSpec:
    if isinstance(patterns, str) or not all(isinstance(p, str) for p in patterns):
        raise ValidationError(f"{field}: expected a list of glob strings", field=field)
    import pathspec  # ~20 ms to import: only when a folder is selected, not with the client

    try:
        return pathspec.GitIgnoreSpec.from_lines(patterns)
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{field}: {exc}", field=field) from None


@lru_cache(maxsize=64)
def _ignore_spec(lines: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    """The ignore patterns compiled once per set of lines: every register of the same folder (and
    every folder without a .mlpignore) selects its files with the same ones (~50 us to compile)."""
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def file_filter(
    folder: Path,
    allow_patterns: Sequence[str] | None = None,
    ignore_patterns: Sequence[str] | None = None,
) -> FileFilter:
    """The selection for ``folder`` (reads its ``.mlpignore``); bad patterns raise ValidationError."""
    allow = _spec(allow_patterns, "allow_patterns") if allow_patterns is not None else None
    ignores = [*DEFAULT_IGNORES, *(ignore_patterns or [])]
    if ignore_patterns is not None:
        _spec(ignore_patterns, "ignore_patterns")
    ignore_file = folder / IGNORE_FILE
    if ignore_file.is_file():
        ignores += ignore_file.read_text(encoding="utf-8").splitlines()
    ignore = _ignore_spec(tuple(ignores))

    def selected(rel: str) -> bool:
        if allow is not None and not allow.match_file(rel):
            return False
        return not ignore.match_file(rel)

    return selected

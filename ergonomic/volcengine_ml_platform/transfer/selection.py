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


def _ignore_file_lines(ignore_file: Path) -> list[str]:
    """The lines of a ``.mlpignore``; one that is not UTF-8 text or cannot be read raises
    ValidationError naming it (field ``ignore_patterns``: its lines add to them)."""
    try:
        return ignore_file.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{ignore_file}: not UTF-8 text (byte {exc.start}); save it as UTF-8", field="ignore_patterns"
        ) from None
    except OSError as exc:
        raise ValidationError(
            f"{ignore_file}: cannot be read ({exc.strerror})", field="ignore_patterns"
        ) from None


def _invalid_line(ignore_file: Path, lines: list[str], exc: Exception) -> ValidationError:
    """The error naming the first line of ``ignore_file`` that is no pattern (found only on failure)."""
    import pathspec

    for number, line in enumerate(lines, 1):
        try:
            pathspec.GitIgnoreSpec.from_lines([line])
        except (ValueError, TypeError) as line_exc:
            return ValidationError(
                f"{ignore_file}, line {number}: {line!r} is not a valid pattern ({line_exc})",
                field="ignore_patterns",
            )
    return ValidationError(f"{ignore_file}: {exc}", field="ignore_patterns")


class Selection:
    """Whether the file at a relative POSIX path is uploaded (a :data:`FileFilter`), and which
    patterns decide it, for an error that must say why no file was selected."""

    def __init__(
        self,
        allow: pathspec.GitIgnoreSpec | None,
        ignore: pathspec.GitIgnoreSpec,
        allow_patterns: Sequence[str] | None,
        ignore_patterns: Sequence[str] | None,
        ignore_file: Path | None,
    ) -> None:
        self._allow, self._ignore = allow, ignore
        self.allow_patterns = list(allow_patterns) if allow_patterns is not None else None
        self.ignore_patterns = list(ignore_patterns or [])
        self.ignore_file = ignore_file

    def __call__(self, rel: str) -> bool:
        if self._allow is not None and not self._allow.match_file(rel):
            return False
        return not self._ignore.match_file(rel)

    def describe(self) -> str:
        """The patterns in force, as the user gave them."""
        said = []
        if self.allow_patterns is not None:
            said.append(f"allow_patterns={self.allow_patterns!r}")
        if self.ignore_patterns:
            said.append(f"ignore_patterns={self.ignore_patterns!r}")
        if self.ignore_file is not None:
            said.append(f"the patterns of {self.ignore_file}")
        said.append("always left out: " + ", ".join(DEFAULT_IGNORES[:3]))
        return "; ".join(said)


def file_filter(
    folder: Path,
    allow_patterns: Sequence[str] | None = None,
    ignore_patterns: Sequence[str] | None = None,
) -> Selection:
    """The selection for ``folder`` (reads its ``.mlpignore``); bad patterns, or a ``.mlpignore`` that
    is not UTF-8 or holds an invalid pattern, raise ValidationError."""
    allow = _spec(allow_patterns, "allow_patterns") if allow_patterns is not None else None
    ignores = [*DEFAULT_IGNORES, *(ignore_patterns or [])]
    if ignore_patterns is not None:
        _spec(ignore_patterns, "ignore_patterns")
    ignore_file: Path | None = folder / IGNORE_FILE
    lines: list[str] = []
    if ignore_file is not None and ignore_file.is_file():
        lines = _ignore_file_lines(ignore_file)
    else:
        ignore_file = None
    try:
        ignore = _ignore_spec((*ignores, *lines))
    except (ValueError, TypeError) as exc:  # ignore_patterns were checked: a line of the file
        raise _invalid_line(folder / IGNORE_FILE, lines, exc) from None
    return Selection(allow, ignore, allow_patterns, ignore_patterns, ignore_file)

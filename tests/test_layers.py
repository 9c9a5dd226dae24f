"""Dependencies point one way: the server never imports the client's higher layers, and the modules
both sides share import neither side."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLIENT = ROOT / "ergonomic" / "volcengine_ml_platform"
# What the server may use of volcengine_ml_platform: the shared modules and the object stores.
SHARED = ("schema", "signing", "errors", "dtypes", "data_dir", "transfer", "file_locks", "perf_shapes")


def imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of every module ``path`` imports (relative imports resolved against ``package``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def package_of(path: Path, root: Path, top: str) -> str:
    """The package a module's relative imports start from (its folder, for ``__init__`` too)."""
    return ".".join((top, *path.relative_to(root).parent.parts))


def client_modules_used(path: Path, root: Path, top: str) -> set[str]:
    """The volcengine_ml_platform submodules (first level) that ``path`` imports."""
    used = set()
    for name in imported_modules(path, package_of(path, root, top)):
        parts = name.split(".")
        if parts[0] != "volcengine_ml_platform" or len(parts) < 2:
            continue
        if (CLIENT / parts[1]).is_dir() or (CLIENT / f"{parts[1]}.py").is_file():
            used.add(parts[1])
    return used


def test_the_server_imports_only_the_shared_modules_of_the_client() -> None:
    server = ROOT / "server" / "mlp_server"
    wrong = {
        str(path.relative_to(ROOT)): sorted(used - set(SHARED))
        for path in server.rglob("*.py")
        if (used := client_modules_used(path, server, "mlp_server")) - set(SHARED)
    }
    assert wrong == {}


def test_shared_modules_import_neither_side() -> None:
    for name in ("dtypes", "data_dir", "signing", "schema", "schema_quick"):
        path = CLIENT / f"{name}.py"
        names = imported_modules(path, "volcengine_ml_platform")
        assert not [n for n in names if n.startswith("mlp_server")], name
        used = {n.split(".")[1] for n in names if n.startswith("volcengine_ml_platform.")}
        assert used <= {"errors", "schema_quick"}, (name, used)

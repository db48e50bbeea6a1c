"""The layout rules that import-linter cannot express (its contracts, in pyproject.toml, run in
scripts/test.sh): no private name crosses a module boundary, the top level stays small, and the tests
mirror the package's folders."""

from __future__ import annotations

import ast
from pathlib import Path

import worker

PACKAGE = Path(worker.__file__).resolve().parent
TESTS = Path(__file__).resolve().parent


def private_imports(source: str, module: str) -> list[str]:
    """`from worker.x import _name` where `worker.x` is not `module` itself."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.ImportFrom) or not node.module or not node.module.startswith("worker"):
            continue
        if node.module == module:
            continue
        found += [f"{node.module}.{alias.name}" for alias in node.names if alias.name.startswith("_")]
    return found


def module_name(path: Path) -> str:
    return ".".join(("worker", *path.relative_to(PACKAGE).with_suffix("").parts))


def test_the_private_import_check_sees_one() -> None:
    source = "from worker.dialects.validation import _pointer, summary\n"
    assert private_imports(source, "worker.dialects.schemas") == ["worker.dialects.validation._pointer"]
    assert private_imports(source, "worker.dialects.validation") == []


def test_no_private_name_is_imported_across_modules() -> None:
    offenders = {
        module_name(path): names
        for path in PACKAGE.rglob("*.py")
        if (names := private_imports(path.read_text(), module_name(path)))
    }
    assert offenders == {}


def test_the_top_level_holds_only_the_process_wiring() -> None:
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 10, modules


def test_tests_mirror_the_package_folders() -> None:
    folders = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    missing = {name for name in folders if not (TESTS / name / "__init__.py").is_file()}
    assert missing == set()

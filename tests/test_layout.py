"""The tests are laid out like the package: each test module in the folder of the part of
isp_nlp it tests, the shared builders in tests/builders/, and no test module importing
another test module or a conftest.py."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.builders.paths import PACKAGE, REPO

TESTS = REPO / "tests"
#: Folders for tests no one part of isp_nlp owns: the top level (the project as a whole:
#: architecture, layout, docs, limits, offline, startup, the demo and its corpus), whole
#: flows through several stages, and the evaluation/ scripts.
CROSS_CUTTING = ("end_to_end", "evaluation")
#: Folders under tests/ that hold no test modules.
HELPERS = ("builders", "data")


def _parts() -> set[str]:
    """The parts of isp_nlp: its subpackages and the stems of its flat modules."""
    subpackages = {p.parent.name for p in PACKAGE.glob("*/__init__.py")}
    modules = {p.stem for p in PACKAGE.glob("*.py")} - {"__init__", "__main__"}
    return subpackages | modules


def _python_files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "__pycache__" not in p.parts)


def _test_modules() -> list[Path]:
    return [p for p in _python_files() if p.name.startswith("test_")]


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(source: str, package: str) -> list[tuple[str, int]]:
    """(module, line) for every import in ``source``, at the top or inside a function,
    of a module in ``package``: relative imports are resolved, and ``from X import Y``
    counts both X and X.Y (Y may be a module)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parents = package.split(".")
                parents = parents[: len(parents) - node.level + 1]
                base = ".".join([*parents, *([node.module] if node.module else [])])
            found.append((base, node.lineno))
            found += [(f"{base}.{alias.name}", node.lineno) for alias in node.names]
    return found


def _imported(path: Path) -> list[tuple[str, int]]:
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return _imports(path.read_text(encoding="utf-8"), package)


def _test_module_or_conftest(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and any(p.startswith("test_") or p == "conftest"
                                       for p in parts[1:])


def test_no_file_of_the_tests_imports_a_test_module_or_a_conftest() -> None:
    offenders = sorted(
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in _python_files()
        for module, line in _imported(path)
        if _test_module_or_conftest(module))
    assert offenders == [], "import from tests/builders/ instead:\n" + "\n".join(offenders)


def test_the_import_check_sees_every_form_of_import() -> None:
    source = ("from .test_store import CODEBOOK\n"
              "from ..conftest import CORPUS\n"
              "from . import conftest\n"
              "import tests.review.test_review\n"
              "from tests.builders.paths import SHARED\n"
              "def test_x():\n"
              "    from tests.suggest.test_suggest import synthetic\n")
    flagged = sorted({m for m, _ in _imports(source, "tests.store")
                      if _test_module_or_conftest(m)})
    assert flagged == ["tests.conftest", "tests.conftest.CORPUS", "tests.review.test_review",
                       "tests.store.conftest", "tests.store.test_store",
                       "tests.store.test_store.CODEBOOK", "tests.suggest.test_suggest",
                       "tests.suggest.test_suggest.synthetic"]


def test_every_test_module_sits_in_the_folder_of_a_part_of_isp_nlp() -> None:
    allowed = _parts() | set(CROSS_CUTTING)
    modules = _test_modules()
    assert len(modules) > 70, "the layout test found too few test modules to check"
    misplaced = []
    for path in modules:
        folders = path.relative_to(TESTS).parts[:-1]
        if folders == ():
            continue  # the top level: tests of the project as a whole
        if len(folders) != 1 or folders[0] not in allowed:
            misplaced.append(str(path.relative_to(REPO)))
    assert misplaced == [], (
        "put each test module in tests/<part of isp_nlp>/ (or tests/end_to_end/, "
        "tests/evaluation/, or the top level for the project as a whole):\n"
        + "\n".join(misplaced))


def test_every_folder_of_the_tests_is_a_part_a_cross_cutting_place_or_a_helper() -> None:
    allowed = _parts() | set(CROSS_CUTTING) | set(HELPERS)
    folders = sorted(p.name for p in TESTS.iterdir()
                     if p.is_dir() and not p.name.startswith((".", "__")))
    assert [f for f in folders if f not in allowed] == []
    assert not any(p.name.startswith("test_") for p in (TESTS / "builders").rglob("*.py")), \
        "tests/builders/ holds helpers, not tests"
    assert not list((TESTS / "data").rglob("*.py"))


def test_every_folder_holding_python_is_a_package() -> None:
    """pytest imports each test module by its package path (tests.store.test_store), so
    two folders may hold modules of one basename without a clash."""
    missing = sorted(str(folder.relative_to(REPO)) for folder in
                     {p.parent for p in _python_files()} if not (folder / "__init__.py").is_file())
    assert missing == []

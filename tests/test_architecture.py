"""The package layout the README promises: stage packages, no cycles, SQL only in store."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.builders.paths import PACKAGE

#: Third-party modules slow to import: the only ones a function may import lazily.
HEAVY = ("torch", "sentence_transformers", "spacy", "transformers", "sklearn", "scipy", "pandas",
         "matplotlib", "textual")
STAGES = ("store", "ingest", "codebook", "coded", "suggest", "review", "agreement",
          "analysis", "report", "interchange", "cli")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path) -> list[tuple[str, bool, int]]:
    """(imported module, at top level?, line) for every import in the module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    top = set(map(id, tree.body))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            found.append((base, id(node) in top, node.lineno))
            found += [(f"{base}.{a.name}", id(node) in top, node.lineno) for a in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for name, path in modules.items():
        for target, _, _ in _imports(name, path):
            if target in modules and target != name:
                graph[name].add(target)
    return graph


def test_at_most_eight_modules_directly_in_the_package() -> None:
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(flat) <= 8, flat


def test_one_package_per_pipeline_stage() -> None:
    for stage in STAGES:
        assert (PACKAGE / stage / "__init__.py").is_file(), stage


def test_no_import_cycles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert cycles == [], cycles


def test_lazy_imports_only_keep_heavy_libraries_off() -> None:
    modules = _modules()
    lazy = []
    for name, path in modules.items():
        for target, at_top, line in _imports(name, path):
            root = target.split(".")[0]
            if not at_top and root not in HEAVY and target.rsplit(".", 1)[0] not in modules \
                    and target not in modules:
                continue  # a name imported from a module counted on its own row
            if not at_top and (target in modules) and not _heavy_module(target, modules):
                lazy.append(f"{path.relative_to(PACKAGE.parent)}:{line} {target}")
    assert lazy == [], "\n".join(sorted(set(lazy)))


def _heavy_module(name: str, modules: dict[str, Path]) -> bool:
    """True when importing ``name`` pulls in a heavy library at import time."""
    seen: set[str] = set()
    todo = [name]
    while todo:
        m = todo.pop()
        if m in seen:
            continue
        seen.add(m)
        for target, at_top, _ in _imports(m, modules[m]):
            if not at_top:
                continue
            if target.split(".")[0] in HEAVY:
                return True
            if target in modules:
                todo.append(target)
    return False


def test_sql_only_in_the_store_package() -> None:
    offenders = []
    for name, path in _modules().items():
        if name.startswith("isp_nlp.store"):
            continue
        text = path.read_text(encoding="utf-8")
        if "import sqlite3" in text or ".execute(" in text or ".executemany(" in text:
            offenders.append(name)
    assert offenders == []


def test_package_inits_hold_no_re_exports() -> None:
    for init in PACKAGE.glob("*/__init__.py"):
        if init.parent.name == "cli":
            continue  # assembles the command groups
        tree = ast.parse(init.read_text(encoding="utf-8"))
        names = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)
                 and not (isinstance(n, ast.ImportFrom) and n.module == "__future__")]
        assert names == [], init


def test_only_the_cli_imports_click() -> None:
    offenders = sorted(
        f"{path.relative_to(PACKAGE.parent)}:{line}"
        for name, path in _modules().items() if not name.startswith("isp_nlp.cli")
        for target, _, line in _imports(name, path) if target.split(".")[0] == "click"
    )
    assert offenders == []


#: The layer order, lowest first: a package may import only packages before it (and
#: itself). Plain records and errors at the bottom; storage and reading files; the
#: codebook and coded data; the statistics and the model; what works on a project; the
#: whole pipeline; what writes reports and waves; the command line on top.
LAYERS = ("records", "errors", "embed", "store", "ingest", "codebook", "coded", "agreement",
          "suggest", "review", "interchange", "project", "analysis", "pipeline", "report",
          "precode", "demo", "cli", "__main__")


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_import_goes_down_the_layers() -> None:
    modules = _modules()
    rank = {name: i for i, name in enumerate(LAYERS)}
    assert {_layer(m) for m in modules} - {""} == set(LAYERS), "a package not in LAYERS"
    upward = sorted(
        f"{path.relative_to(PACKAGE.parent)}:{line} ({_layer(name)} -> {_layer(target)})"
        for name, path in modules.items()
        for target, _, line in _imports(name, path)
        if target in modules and _layer(target) not in ("", _layer(name))
        and rank[_layer(target)] > rank[_layer(name)])
    assert upward == [], "\n".join(upward)

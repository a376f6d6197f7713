"""The import graph, read from the source (every import statement, lazy and TYPE_CHECKING ones included):

- what the Airflow image runs (`dags/` and all of `include/` it can reach) never imports local-only tooling
  (`devtools/`, `tests/`, `bench/`) nor pandas, which the image does not install;
- no module of `include/` or `devtools/` imports one that imports it back, and no package of `include/` needs a
  package that needs it.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from include.settings import REPO_ROOT

LOCAL_ONLY = ("devtools", "tests", "bench")
NOT_IN_IMAGE = ("pandas",)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO_ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(*tops: str) -> dict[str, Path]:
    return {module_name(p): p for top in tops for p in (REPO_ROOT / top).rglob("*.py")}


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module `path` imports anywhere in it: `from pkg import mod` counts as `pkg.mod` when that is a module
    of `known`, else as `pkg` (importing a submodule is no dependency on its package's own code)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            subs = {f"{base}.{alias.name}" for alias in node.names} & known
            found |= subs if len(subs) == len(node.names) else subs | {base}
    return found - {name}


def graph(*tops: str) -> dict[str, set[str]]:
    mods = modules(*tops)
    return {name: imported(name, path, set(mods)) for name, path in mods.items()}


def reachable(edges: dict[str, set[str]], roots: list[str]) -> set[str]:
    """The modules of `edges` that `roots` import, directly or not (roots included)."""
    seen, todo = set(), list(roots)
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo += [n for n in edges.get(node, ()) if n in edges]
    return seen


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Every group of two or more nodes that each reach all the others, sorted."""
    reach = {node: reachable(edges, sorted(edges[node] & set(edges))) for node in edges}
    groups = {tuple(sorted({node} | {m for m in reach[node] if node in reach[m]}))
              for node in edges if node in reach[node]}
    return sorted(list(g) for g in groups if len(g) > 1)


def test_the_dags_reach_no_local_only_module_and_no_pandas():
    edges = graph("dags", "include", "devtools", "tests", "bench")
    image = reachable(edges, [m for m in edges if m.startswith(("dags.", "include"))])
    assert not any(m.startswith(LOCAL_ONLY) for m in image)
    offending = sorted(f"{m} imports {i}" for m in image for i in edges[m]
                       if i.split(".")[0] in (*LOCAL_ONLY, *NOT_IN_IMAGE))
    assert offending == [], "the Airflow image ships dags/ and include/ only"


def test_no_module_cycle_in_include_or_devtools():
    assert cycles(graph("include", "devtools")) == []


def test_no_package_cycle_in_include():
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    packages: dict[str, set[str]] = {}
    for module, targets in graph("include").items():
        packages.setdefault(package(module), set()).update(
            package(t) for t in targets if t.startswith("include.") and package(t) != package(module))
    assert cycles(packages) == []


def test_the_graph_sees_a_cycle_hidden_behind_type_checking(tmp_path, monkeypatch):
    """The checks above would pass on a blind graph: here two modules import each other, one only for typing."""
    pkg = tmp_path / "include" / "demo"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "run.py").write_text("from include.demo.variations import vary\n")
    (pkg / "variations.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                       "    from include.demo.run import Run\n")
    monkeypatch.setattr(sys.modules[__name__], "REPO_ROOT", tmp_path)
    assert cycles(graph("include")) == [["include.demo.run", "include.demo.variations"]]

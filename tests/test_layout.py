"""The shape of the code: imports run one way and form no circle, folders stay small, every
module says what it owns.

Every module of `actors/` and `bridge/` is parsed, not imported, so imports under
`if TYPE_CHECKING:` and inside functions count too: a circle only the type checker walks is
still a circle a reader has to untangle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("actors", "bridge")
MAX_TOP_LEVEL_MODULES = 12


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def parse_modules() -> dict[str, tuple[Path, ast.Module]]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            modules[module_name(path)] = (path, ast.parse(path.read_text(), str(path)))
    return modules


MODULES = parse_modules()


def imported_names(name: str, path: Path, tree: ast.Module) -> set[str]:
    """Every dotted name `name` imports, anywhere in the file; `from pkg import x` gives
    `pkg.x` when that is one of our modules, else `pkg`."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
    return found


def import_graph() -> dict[str, set[str]]:
    """Edges from each of our modules to each of our modules it imports (no implicit
    parent-package edges: importing `a.b.c` is an edge to `a.b.c` alone)."""
    graph = {}
    for name, (path, tree) in MODULES.items():
        graph[name] = {target for target in imported_names(name, path, tree)
                       if target in MODULES and target != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: fully explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_bridge_never_imports_the_actors():
    offenders = {name: sorted(t for t in imported_names(name, path, tree)
                              if t == "actors" or t.startswith("actors."))
                 for name, (path, tree) in MODULES.items() if name.split(".")[0] == "bridge"}
    offenders = {name: targets for name, targets in offenders.items() if targets}
    assert not offenders, (
        f"bridge modules import actors (imports go run.py -> actors -> bridge): {offenders}")


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or ())


def test_the_graph_sees_imports_of_every_kind():
    """The cycle check is only as good as the edges it finds."""
    graph = import_graph()
    assert "bridge.trade_server.account" in graph["bridge.trade_server.server"]  # from m import f
    assert "bridge.mt5" in graph["bridge.trade_server.server"]  # from pkg import module
    assert "actors.indicators.kernels" in graph["actors.indicators.batch"]
    assert sum(len(targets) for targets in graph.values()) > len(graph)


def test_a_cycle_is_found_and_named():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


@pytest.mark.parametrize("package", PACKAGES)
def test_top_level_folders_stay_small(package):
    modules = sorted(path.name for path in (ROOT / package).glob("*.py"))
    assert len(modules) <= MAX_TOP_LEVEL_MODULES, (
        f"{package}/ has {len(modules)} top-level modules (at most {MAX_TOP_LEVEL_MODULES}): "
        f"{modules}; group them into packages by component")


def test_every_module_has_a_docstring():
    missing = sorted(str(path.relative_to(ROOT)) for path, tree in MODULES.values()
                     if not ast.get_docstring(tree))
    assert not missing, f"modules without a docstring saying what they own: {missing}"

"""sr_lib's modules import each other in one direction: the graph of imports has no cycle.

Every ``import`` and ``from ... import`` in every module counts, including those inside
functions (a lazy import hides a cycle from Python, not from a reader). Only imports under
``if TYPE_CHECKING:`` are left out: they never run, they name a type for the reader."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sr_lib"


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _targets(module: str, node: ast.AST, modules: dict[str, Path]) -> list[str]:
    """The sr_lib modules an import statement in ``module`` reads names from."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names if a.name in modules]
    package = module if modules[module].name == "__init__.py" else module.rsplit(".", 1)[0]
    if node.level:
        base = package.split(".")
        base = base[:len(base) - (node.level - 1)]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    found = []
    for alias in node.names:
        if f"{source}.{alias.name}" in modules:  # from . import train
            found.append(f"{source}.{alias.name}")
        elif source in modules:  # from .train import Trainer
            found.append(source)
    return found


def _imports(tree: ast.AST):
    """Every import statement of a module, except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for node in _imports(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[module].update(t for t in _targets(module, node, modules) if t != module)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_lazy_imports_are_edges_too():
    graph = import_graph()
    assert "sr_lib.foreign" in graph["sr_lib.weights"]  # a top-level import
    assert "sr_lib.models" in graph["sr_lib.weights"]  # inside load_foreign
    assert "sr_lib.checkpoint" in graph["sr_lib.train"]
    assert "sr_lib.train" not in graph["sr_lib.checkpoint"]  # only under TYPE_CHECKING


def test_sr_lib_has_no_import_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)

"""The layout keeps its direction and has no cycles: interfaces (server, cli) → core packages → store.

The store imports no core package, the core imports no interface (nor the MCP library or argparse),
interfaces reach a core package only through its `__init__` API, SQLite SQL stays in the store and
DuckDB SQL in the data room (the only package that imports duckdb), and the module graph — built
from the AST, imports inside functions included — has no import cycle. An `if TYPE_CHECKING:` import
never runs, so it cannot fail at import time, but it is still a dependency: two modules that name
each other's types want the shared type in a module of its own (store/rows/), so the directions and
the cycle check count those imports too.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rlm_mcp"
ROOT = "rlm_mcp"
INTERFACES = ("server", "cli", "__main__")
KERNEL = ("__init__", "config", "errors", "hashing", "ids", "answers", "owners", "workspace")
STORE = "store"
SQL = re.compile(
    r"\b(SELECT\s.+\sFROM|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+TABLE)\b", re.I | re.S
)

Graph = dict[str, set[str]]


def _module_name(path: Path) -> str:
    parts = [ROOT, *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _room(module: str) -> str:
    """The top-level room a module belongs to: 'store', 'search', 'cli', 'config'…"""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(tree: ast.AST, typing: bool = True) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import at any depth (functions too); without `typing`, not those under `if TYPE_CHECKING:`
    (what runs: the only-the-data-room-imports-duckdb check is about what loads)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node) and not typing:
            children = list(node.orelse)
        stack.extend(children)


def _targets(module: str, node: ast.Import | ast.ImportFrom) -> set[str]:
    """The modules of this package that an import names (the most specific one, like grimp)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
        base = node.module or ""
        if node.level:
            anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
            base = ".".join([*anchor, base] if base else anchor)
        names = [
            f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names
        ]
    found = set()
    for name in names:
        while name and name not in MODULES:  # `import rlm_mcp.store.jobs as db` names a module
            name = name.rpartition(".")[0]
        if name.startswith(ROOT):
            found.add(name)
    return found


def _graph() -> Graph:
    graph: Graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        graph[module] = {t for node in _import_nodes(tree) for t in _targets(module, node)} - {module}
    return graph


def _external_imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        alias.name.split(".")[0] if isinstance(node, ast.Import) else (node.module or "").split(".")[0]
        for node in _import_nodes(tree, typing=False)
        if isinstance(node, ast.Import) or node.level == 0
        for alias in node.names
    }


def _cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            nxt = next(edges, None)
            if nxt is not None:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


GRAPH = _graph()


def _edges(where: str) -> Iterator[tuple[str, str]]:
    for module, targets in GRAPH.items():
        if _room(module) == where or (where == "core" and _room(module) not in (*INTERFACES, STORE)):
            for target in sorted(targets):
                yield module, target


def test_the_module_graph_has_no_import_cycle() -> None:
    assert _cycles(GRAPH) == []


def test_the_cycle_check_finds_a_cycle_through_an_import_inside_a_function_or_for_types() -> None:
    source = "def f():\n    from .b import x\nif TYPE_CHECKING:\n    from .c import y\nelse:\n    import d\n"

    def named(typing: bool) -> list[str]:
        nodes = _import_nodes(ast.parse(source), typing=typing)
        return sorted(n.module or "" if isinstance(n, ast.ImportFrom) else n.names[0].name for n in nodes)

    assert named(typing=True) == ["b", "c", "d"]
    assert named(typing=False) == ["b", "d"]
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_a_cycle_through_an_import_under_type_checking_is_found() -> None:
    # store/postgres/copies.py imported store/copies.py's CopyRow for its annotations while store/copies.py
    # imported it, until CopyRow moved to store/rows/: put that import back and the graph has a cycle.
    module = "rlm_mcp.store.postgres.copies"
    old = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..copies import CopyRow\n")
    edges = {t for node in _import_nodes(old) for t in _targets(module, node)}
    assert edges == {"rlm_mcp.store.copies"}
    assert module in GRAPH["rlm_mcp.store.copies"]
    graph = {**GRAPH, module: GRAPH[module] | edges}
    assert ["rlm_mcp.store.copies", module] in _cycles(graph)


def test_the_store_imports_no_core_package_and_no_interface() -> None:
    bad = [(m, t) for m, t in _edges(STORE) if _room(t) not in (STORE, *KERNEL) or _room(t) == "workspace"]
    assert bad == []


def test_the_core_imports_no_interface_nor_mcp_nor_argparse() -> None:
    bad = [(m, t) for m, t in _edges("core") if _room(t) in INTERFACES]
    assert bad == []
    external = {
        str(path.relative_to(PACKAGE)): sorted(_external_imports(path) & {"mcp", "argparse"})
        for module, path in MODULES.items()
        if _room(module) not in INTERFACES
    }
    assert {name: found for name, found in external.items() if found} == {}


def test_interfaces_reach_core_packages_only_through_their_init() -> None:
    bad = [
        (m, t)
        for room in INTERFACES
        for m, t in _edges(room)
        if _room(t) not in (*INTERFACES, *KERNEL)
        and t.count(".") > 1  # rlm_mcp.search.modes, not rlm_mcp.search
    ]
    assert bad == []


def test_sql_lives_only_in_the_store_package_and_the_data_room() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.relative_to(PACKAGE).parts[0] in (STORE, "data"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert offenders == []


def test_only_the_data_room_imports_duckdb() -> None:
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in PACKAGE.rglob("*.py")
        if path.relative_to(PACKAGE).parts[0] != "data"
        and any(
            name.split(".")[0] == "duckdb"
            for node in _import_nodes(ast.parse(path.read_text(encoding="utf-8")), typing=False)
            for name in (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""] * (not node.level)
            )
        )
    ]
    assert offenders == []

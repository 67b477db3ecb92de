"""The package's import graph: no module imports in a circle, and no kernel module imports a stage.

Every ``import`` counts, including those inside functions (deferred to keep start-up fast): a
deferred import still ties the two modules together. Imports under ``if TYPE_CHECKING:`` are
for annotations only and never run, so they do not count.
"""

from __future__ import annotations

import ast
from pathlib import Path

import riskml

ROOT = Path(riskml.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(tree: ast.AST):
    """Import nodes of ``tree``, leaving out ``if TYPE_CHECKING:`` blocks."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in _imports_in(child))
            continue
        yield from _imports_in(node)


def _imports_in(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def import_graph() -> dict[str, set[str]]:
    """``{module: riskml modules it imports}``, one node per module file."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text("utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import module` names the module; `from module import name` the module
                targets = [
                    f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                    for alias in node.names
                ]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_in_a_circle():
    assert cycles(import_graph()) == []


# Bottom to top: a module imports only its own package and the layers below it; the kernel's
# modules and the CLI's may also import each other.
LAYERS = [
    # the kernel
    {
        "errors",
        "config",
        "jsonvalue",
        "fmt",
        "locks",
        "processes",
        "gitio",
        "tables",
        "snapshot",
        "budget",
    },  # fmt: skip
    {"mine", "label"},
    {"synth", "train"},
    {"fleet"},
    {"score"},
    {"serve", "trends", "ci"},
    {"run"},
    {"cli", "__main__"},
]


def _layer(module: str) -> tuple[int, str]:
    part = module.split(".")[1] if "." in module else ""
    for level, names in enumerate(LAYERS):
        if part in names:
            return level, part
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_nothing_imports_upward_or_sideways():
    graph = import_graph()
    wrong = []
    for module, targets in graph.items():
        if module == "riskml":
            continue
        level, part = _layer(module)
        for target in targets:
            if target == "riskml":
                continue
            other_level, other_part = _layer(target)
            sideways_ok = other_level == level and level in (0, len(LAYERS) - 1)
            if other_part != part and other_level >= level and not sideways_ok:
                wrong.append(f"{module} -> {target}")
    assert wrong == []

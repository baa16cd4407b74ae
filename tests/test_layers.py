"""The package's import graph: no circle, and no module importing one of a layer above it (the
domain core never reads the config). Read from the source with ``ast``, so it costs no import."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "recinfluence"

# Lowest first. A module may import its own layer or those below; the config reader and the
# composition of a study come last, so nothing in the library depends on them.
LAYERS = [
    ("vocabulary", {"", "errors", "registry", "progress", "io", "stats"}),  # "": the package itself
    ("data", {"data", "split", "metrics", "models.base"}),
    ("models", {"models", "retrain"}),
    ("estimators", {"estimators", "pruning", "analysis", "plots", "detection"}),
    ("report", {"summary"}),
    ("study", {"settings", "compose", "jobs"}),
]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer_of(module: str) -> int:
    """The layer of ``module``: that of its longest listed prefix (``models.svd`` is in models)."""
    best = max(
        (prefix for _, names in LAYERS for prefix in names if module == prefix or module.startswith(f"{prefix}.")),
        key=len,
    )
    return next(index for index, (_, names) in enumerate(LAYERS) if best in names)


def runtime_imports(path: Path) -> set[str]:
    """The package modules ``path`` imports when it runs (imports under ``if TYPE_CHECKING`` are
    for annotations only), as names relative to the package."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    tree = ast.parse(path.read_text())
    skipped = {
        id(node)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for node in ast.walk(node)
    }
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1] if node.level > 1 else package
                target = [part for part in [*base, *(node.module or "").split(".")] if part]
            elif (node.module or "").startswith("recinfluence"):
                target = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:  # `from . import x` and `from .models import svd` name modules
                candidate = ".".join([*target, alias.name])
                found.add(candidate if _exists(candidate) else ".".join(target))
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".", 1)[1] for alias in node.names if alias.name.startswith("recinfluence.")}
    return {name for name in found if name} - {module_name(path)}


def _exists(module: str) -> bool:
    path = PACKAGE.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    return {module_name(path): runtime_imports(path) for path in sorted(PACKAGE.rglob("*.py"))}


def upward_imports(graph) -> list[str]:
    return sorted(f"{a} -> {b}" for a, targets in graph.items() for b in targets if layer_of(b) > layer_of(a))


def circles(graph) -> list[list[str]]:
    """Every strongly connected set of more than one module (Tarjan)."""
    index, low, stack, on_stack, found, counter = {}, {}, [], set(), [], [0]

    def visit(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
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

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_every_module_has_a_layer():
    for module in import_graph():
        layer_of(module)  # raises when no layer lists it


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports(import_graph()) == []


def test_the_package_has_no_import_circle():
    assert circles(import_graph()) == []


def test_the_reading_of_imports_sees_relative_absolute_and_deferred_imports():
    graph = import_graph()
    assert "registry" in graph["settings"]  # from .registry import ...
    assert "models" in graph["compose"]  # deferred: inside a function
    assert "models.base" in graph["models.svd"]
    assert "settings" not in graph["summary"]  # only under TYPE_CHECKING
    assert (
        "data.loading" in graph["data"] and "data.synthetic" not in graph["data.loading"]
    )  # loaders are named by string

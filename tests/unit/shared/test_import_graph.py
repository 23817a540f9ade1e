"""services/ and shared/ import one way: no module reaches itself again through its imports (type-only
imports included: a circle there still says a seam sits in the wrong file), and shared/ never imports
services/."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("services", "shared")


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            found[name] = path
    return found


def _imported(name: str, path: Path) -> Iterator[str]:
    """Every module name `path` imports, with `from m import n` giving both m and m.n."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _graph() -> dict[str, set[str]]:
    """Each module of services/ and shared/ with the modules of theirs it imports."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for imported in _imported(name, path):
            target = imported
            while target and target not in modules:
                target = target.rpartition(".")[0]
            # A module's own packages run first when it is imported: no edge, no circle, to them.
            if target and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    return graph


def test_no_module_imports_itself_through_others() -> None:
    try:
        TopologicalSorter(_graph()).prepare()
    except CycleError as exc:
        raise AssertionError(f"an import circle: {' -> '.join(exc.args[1])}") from None


def test_shared_never_imports_services() -> None:
    reaching = sorted(
        (module, target)
        for module, targets in _graph().items()
        for target in targets
        if module.startswith("shared") and target.startswith("services")
    )
    assert reaching == []

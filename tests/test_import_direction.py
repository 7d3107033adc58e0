"""The apps form floors and imports only go down (DESIGN.md, "Apps and what each owns"):
`kernel` (the shared kernel, no app) < `posti_accounts` < `organizations` < `notifications`,
`migration`, `sso` < `config`.

This walks every module of every app, including imports inside functions and models reached
by name through `apps.get_model("app", ...)`, and fails on any that runs up a floor. Apps on
the same floor may use each other, but never both ways (no circle between two apps).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOORS = {
    "kernel": 0,
    "posti_accounts": 1,
    "organizations": 2,
    "notifications": 3,
    "migration": 3,
    "sso": 3,
    "config": 4,
}


def _modules(app: str):
    for path in sorted((ROOT / app).rglob("*.py")):
        if "migrations" in path.relative_to(ROOT).parts:
            continue  # generated: dependencies are strings Django resolves, not imports
        yield path


def _targets(tree: ast.AST, importer: str):
    """(line, app) for every reference of `tree` to another app of the project."""
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get_model"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value.split(".")[0]]
        for name in names:
            app = name.split(".")[0]
            if app in FLOORS and app != importer:
                yield node.lineno, app


def _references() -> list[tuple[str, str, int, str]]:
    found = []
    for app in FLOORS:
        for path in _modules(app):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for line, target in _targets(tree, app):
                found.append((app, str(path.relative_to(ROOT)), line, target))
    return found


def test_no_module_imports_a_higher_app():
    upward = [
        f"{path}:{line}: {app} (floor {FLOORS[app]}) uses {target} (floor {FLOORS[target]})"
        for app, path, line, target in _references()
        if FLOORS[target] > FLOORS[app]
    ]
    assert upward == []


def test_apps_on_one_floor_do_not_use_each_other_both_ways():
    pairs = {(app, target) for app, _path, _line, target in _references()}
    both_ways = sorted(
        f"{a} <-> {b}" for a, b in pairs if (b, a) in pairs and FLOORS[a] == FLOORS[b] and a < b
    )
    assert both_ways == []


def test_the_walk_sees_function_level_imports_and_get_model(tmp_path):
    """The checker itself: an import inside a function and a get_model string both count."""
    source = (
        "def f():\n"
        "    from organizations.services import x\n"
        "    return apps.get_model('migration', 'LegacyAccount')\n"
    )
    found = list(_targets(ast.parse(source), "posti_accounts"))
    assert sorted(found) == [
        (2, "organizations"),
        (3, "migration"),
    ]


# --- Circles between modules of one app ------------------------------------------------------
def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _module_imports(path: Path, known: set[str]) -> set[str]:
    """Project modules `path` imports (absolute or relative, at any depth of the code)."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        candidates: list[str] = []
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            candidates = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for candidate in candidates:
            if candidate in known and candidate != name:
                found.add(candidate)
    return found


def _import_graph() -> dict[str, set[str]]:
    paths = [path for app in FLOORS for path in _modules(app)]
    known = {_module_name(path) for path in paths}
    return {_module_name(path): _module_imports(path, known) for path in paths}


def _circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _without_package_reexports(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """A package's `__init__` re-exporting its submodules is not a circle with them."""
    return {
        module: {t for t in targets if not module.startswith(t + ".")}
        for module, targets in graph.items()
    }


def test_no_import_circles_between_modules():
    """Services never import the tasks that call them (they enqueue by name), so no two
    modules import each other, directly or round a longer loop."""
    assert _circles(_without_package_reexports(_import_graph())) == []


def test_the_circle_finder_finds_a_circle():
    graph = {"a.services": {"a.tasks"}, "a.tasks": {"a.services"}, "a.models": set()}
    assert _circles(graph) == [["a.services", "a.tasks"]]

"""The layer lines of docs/architecture.md, checked from the code's own imports.

Every ``import`` and ``from … import`` of the shipped code counts: at module level, inside
functions (deferred imports hide cycles, they do not remove them) and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Each module belongs to the layer of the longest prefix listed here.
LAYERS: dict[str, str] = {
    "function_app": "trigger",
    "functions": "trigger",
    "shared.__main__": "trigger",
    "shared.cli": "trigger",
    "shared.local": "trigger",
    "shared.hosts": "trigger",
    "shared.runtime": "composition",
    "shared.api": "handler",
    "shared.http": "handler",
    "shared.jobs": "handler",
    "shared.services": "handler",
    "shared.scan": "handler",
    "shared.core": "core",
    "shared.reports": "core",  # pure rendering of a report object (fpdf2 and the bundled fonts), no I/O
    "shared.store": "adapter",
    "shared.queues": "adapter",
    "shared.redis": "adapter",
    "shared.integrations": "adapter",
    "shared.dns": "adapter",
    "shared.demo": "adapter",
    "shared": "base",  # the package itself (its version)
    "shared.config": "base",
    "shared.logs": "base",
    "shared.aio": "base",
    "shared.metrics": "base",
    "shared.telemetry": "base",
    "shared.triggers": "base",  # the registry and schedules: declarations every layer may read
}
# Who may import whom (besides itself and the base).
ALLOWED: dict[str, set[str]] = {
    "trigger": {"trigger", "composition", "handler", "core", "adapter"},
    "composition": {"adapter"},
    "handler": {"handler", "core", "adapter", "composition"},
    "core": {"core"},
    "adapter": {"adapter", "core"},
    "base": set(),
}
DEV_ONLY = ("devtools", "tests", "bench", "trustme")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def shipped_modules() -> dict[str, Path]:
    files = [ROOT / "function_app.py", *(ROOT / "functions").rglob("*.py"), *(ROOT / "shared").rglob("*.py")]
    return {module_name(path): path for path in files if "migrations" not in path.parts}


def imported_names(path: Path, module: str) -> set[str]:
    """Every module name ``path`` imports, anywhere in it (``from a import b`` names ``a`` and ``a.b``)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            names.add(source)
            names.update(f"{source}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module → the shipped modules it imports, plus the external top-level names under ``"<external>"``."""
    modules = shipped_modules()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        names = imported_names(path, module)
        graph[module] = {name for name in names if name in modules and name != module}
        graph[module] |= {f"<external>{name.split('.')[0]}" for name in names if name not in modules}
    return graph


def layer_of(module: str) -> str:
    best = max((prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")), key=len)
    return LAYERS[best]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in graph.get(node, ()):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return {module: {n for n in names if not n.startswith("<external>")} for module, names in import_graph().items()}


def test_every_shipped_module_has_a_layer(graph):
    for module in graph:
        assert layer_of(module) in ALLOWED


def test_no_import_cycle_between_modules(graph):
    assert cycles(graph) == []


def test_no_import_cycle_between_packages(graph):
    """``shared.store`` → ``shared.services`` → ``shared.store`` is a knot even if no two modules form a cycle."""

    def package(module: str) -> str:
        parts = module.split(".")
        return ".".join(parts[:2]) if parts[0] == "shared" else parts[0]

    packages: dict[str, set[str]] = defaultdict(set)
    for module, targets in graph.items():
        packages[package(module)] |= {package(t) for t in targets if package(t) != package(module)}
    assert cycles(packages) == []


def test_layers_only_import_inward(graph):
    wrong = []
    for module, targets in graph.items():
        mine = layer_of(module)
        for target in targets:
            theirs = layer_of(target)
            if theirs != "base" and theirs not in ALLOWED[mine]:
                wrong.append(f"{module} ({mine}) imports {target} ({theirs})")
    assert wrong == []


@pytest.mark.parametrize(
    ("importer", "forbidden"),
    [
        ("shared.store", "shared.integrations"),  # the store never reaches up into a client
        ("shared.store", "shared.services"),
        ("shared.queues", "shared.http"),
        ("shared.queues", "shared.api"),
        ("shared.integrations", "shared.services"),
        ("shared.core", "shared.config"),  # the pure core takes its inputs as arguments
        ("functions", "shared.api"),  # function folders are glue: the registry names the handlers
    ],
)
def test_named_lines_are_not_crossed(graph, importer, forbidden):
    crossing = [
        f"{module} imports {target}"
        for module, targets in graph.items()
        if module == importer or module.startswith(importer + ".")
        for target in targets
        if target == forbidden or target.startswith(forbidden + ".")
    ]
    assert crossing == []


def test_shipped_code_never_imports_development_code():
    leaks = [
        f"{module} imports {name.removeprefix('<external>')}"
        for module, names in import_graph().items()
        for name in names
        if name.removeprefix("<external>") in DEV_ONLY
    ]
    assert leaks == []


def test_the_checker_sees_deferred_imports(tmp_path):
    """A cycle hidden behind an import inside a function is still a cycle (the rule this file enforces)."""
    (tmp_path / "a.py").write_text("def f():\n    from b import g\n")
    (tmp_path / "b.py").write_text("import a\n")
    graph = {"a": imported_names(tmp_path / "a.py", "a") & {"b"}, "b": imported_names(tmp_path / "b.py", "b") & {"a"}}
    assert cycles(graph) == [["a", "b"]]


def test_function_folders_are_one_blueprint_each():
    for folder in sorted((ROOT / "functions").iterdir()):
        if not (folder / "__init__.py").exists():
            continue
        tree = ast.parse((folder / "__init__.py").read_text(encoding="utf-8"))
        code = [node for node in tree.body if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
        assert len(code) <= 2, f"functions/{folder.name} holds more than glue"


def _requirement_names(path: Path) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-"):
            names.add(line.split("[")[0].split("=")[0].split("<")[0].split(">")[0].strip().lower().replace("_", "-"))
    return names


def test_every_imported_package_is_declared():
    """Shipped code imports only what requirements.in names (a transitive dependency is not a promise)."""
    import sys
    from importlib.metadata import packages_distributions

    distributions = packages_distributions()
    declared = _requirement_names(ROOT / "requirements.in")
    missing = set()
    for names in import_graph().values():
        for name in names:
            top = name.removeprefix("<external>")
            first_party = top in ("shared", "functions", "function_app", "__future__")
            if not name.startswith("<external>") or top in sys.stdlib_module_names or first_party:
                continue
            owners = {d.lower().replace("_", "-") for d in distributions.get(top, [top])}
            if not owners & declared:
                missing.add(f"{top} ({', '.join(sorted(owners))})")
    assert sorted(missing) == []


def test_funcignore_keeps_development_code_out_of_a_publish():
    ignored = {
        line.strip().rstrip("/")
        for line in (ROOT / ".funcignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {"tests", "bench", "tools", "devtools", "scripts", "infra", ".venv"} <= ignored
    assert not ignored & {"shared", "functions", "function_app.py", "host.json", "requirements.txt"}


def test_the_lock_files_pin_every_package_with_hashes():
    """requirements.txt (runtime, what the Azure build installs) and requirements-dev.txt are pip-compile
    output: every line a pinned package with at least one hash, every direct dependency in both."""
    for lock, source in (("requirements.txt", "requirements.in"), ("requirements-dev.txt", "requirements-dev.in")):
        text = (ROOT / lock).read_text(encoding="utf-8")
        packages = {}
        current = None
        for line in text.splitlines():
            if line and not line.startswith((" ", "#", "-")):
                current = line.split(" ")[0].split("==")[0].split("[")[0].lower().replace("_", "-")
                assert "==" in line, line
                packages[current] = 0
            elif line.strip().startswith("--hash=sha256:") and current:
                packages[current] += 1
        assert packages and all(count > 0 for count in packages.values()), lock
        assert _requirement_names(ROOT / source) - {"-r", "-c"} <= set(packages), lock

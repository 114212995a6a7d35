"""The layers show in the folders and hold: service and workers stand on core, core on schemas; no
module imports upwards and no import loop exists, counting imports deferred into functions."""

import ast
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("schemas", "core", "service", "workers")
# What each layer may import from the project (besides itself).
ALLOWED = {
    "schemas": set(),
    "core": {"schemas"},
    "service": {"core", "schemas"},
    "workers": {"core", "schemas"},
}


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports_of(path: Path, name: str, known: dict[str, Path]) -> set[str]:
    """Project modules `name` imports anywhere in its file (top level or deferred into a function)."""
    out: set[str] = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                )
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports_of(path, name, known) for name, path in known.items()}


def test_no_layer_imports_upwards():
    wrong = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        for target in targets
        if (layer := module.split(".")[0]) != (other := target.split(".")[0]) and other not in ALLOWED[layer]
    ]
    assert wrong == []


def test_no_import_loops_even_deferred_ones():
    edges = graph()
    # a package's __init__ importing its own submodule is how a package is built, not a loop back
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(edges[node]):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    assert cycles == []


def test_importing_every_worker_module_loads_no_http_server_code():
    # workers.bridge is skipped: it runs under the system Python that has LibreOffice's `uno`, not in this one.
    probe = (
        "import importlib, json, pkgutil, sys\n"
        "import workers, core\n"
        "for pkg in (workers, core):\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        if info.name != 'workers.bridge':\n"
        "            importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'aiohttp.web' or m.split('.')[0] == 'service')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []

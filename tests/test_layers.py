"""The architecture, checked: the pure core imports no I/O library, and the code is lint- and
type-clean (ruff, mypy --strict) so that a slip fails the suite, not a later reader."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parent.parent
# Every module of the core, found on disk: a new one cannot be forgotten here.
PURE = sorted(
    f"relay.core.{p.stem}" for p in (ROOT / "relay" / "core").glob("*.py") if p.stem != "__init__"
)
IO_LIBRARIES = [
    "httpx",
    "sqlite3",
    "psycopg",
    "psycopg_pool",
    "telegram",
    "apscheduler",
    "aiohttp",
    "prometheus_client",
]


def test_pure_modules_import_no_io_library() -> None:
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in PURE)
        + f"print(','.join(m for m in {IO_LIBRARIES!r} if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "relay", "tests", "bench"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy"], capture_output=True, text=True, cwd=ROOT
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- import direction ------------------------------------------------------------------------

PACKAGE = ROOT / "relay"
# Lower layers never import higher ones. relay/__init__ (version, user agent) is below all;
# the simulator stands beside the adapters: a fake outside system that may use the core only.
LAYERS = {"": 0, "core": 1, "adapters": 2, "sim": 2, "pipeline": 3, "service": 4, "entry": 5}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str:
    parts = module.split(".")
    if module == "relay.__main__":
        return "entry"
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ""


def _relay_imports(path: Path, module: str) -> set[str]:
    """Every relay module `path` imports, at the top or inside a function (lazy imports count:
    they are how a cycle hides)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "relay"}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "relay":
                continue
            for alias in node.names:  # `from relay.x import y`: y may be a module itself
                candidate = f"{base}.{alias.name}"
                found.add(candidate if _is_module(candidate) else base)
    return {name for name in found if name != module}


def _is_module(name: str) -> bool:
    path = ROOT.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _import_graph() -> dict[str, set[str]]:
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        module = _module_name(path)
        graph[module] = _relay_imports(path, module)
    return graph


def test_imports_point_down_the_layers() -> None:
    upward = [
        f"{source} ({_layer(source) or 'relay'}) imports {target} ({_layer(target) or 'relay'})"
        for source, targets in _import_graph().items()
        for target in sorted(targets)
        if LAYERS[_layer(target)] > LAYERS[_layer(source)]
        or (_layer(source) == "sim" and _layer(target) not in ("", "core", "sim"))
        or (_layer(target) == "sim" and _layer(source) not in ("sim", "entry"))
    ]
    assert upward == []


def test_no_import_cycle_among_relay_modules() -> None:
    graph = _import_graph()
    # A package's __init__ importing its own submodules (relay.sim) is not a cycle of layers.
    edges = {
        m: {t for t in ts if t in graph and not (m.startswith(t + ".") and t != "relay")}
        for m, ts in graph.items()
    }
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in sorted(edges[node]):
            if state.get(target) == 1:
                cycles.append([*stack[stack.index(target) :], target])
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module)
    assert cycles == []


def test_the_layer_checks_see_a_planted_upward_import(tmp_path: Path) -> None:
    """The checks above must be able to fail: a core module importing the service is found."""
    planted = tmp_path / "planted.py"
    planted.write_text("def f():\n    from relay.service.daemon import Service\n")
    assert _relay_imports(planted, "relay.core.planted") == {"relay.service.daemon"}

"""edge stands alone: importing every edge module and running a frame through the pipeline loads neither TensorFlow
nor the packages above edge (`quantization`, `firmware_bridge`, `clinic`); only the command line's plug-ins reach up."""

import json
import subprocess
import sys
import textwrap

HEAVY = ("tensorflow", "tf_keras", "keras")
ABOVE = ("quantization", "firmware_bridge", "clinic")

_SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import edge

    names = sorted(m.name for m in pkgutil.walk_packages(edge.__path__, "edge."))
    for name in names:
        importlib.import_module(name)
    if sys.argv[1] == "segment":
        from edge.live.phantom import Phantom
        from edge.live.pipeline import FramePipeline

        FramePipeline()(Phantom().frame(0).image)
    elif sys.argv[1] == "cli":
        from edge.tools.cli import build_parser

        build_parser()  # registers every subcommand, plug-ins from other packages included
    top = {{m.split(".")[0] for m in sys.modules}}
    print(json.dumps({{"modules": names, "heavy": sorted(top & {heavy!r}), "above": sorted(top & {above!r})}}))
    """
).format(heavy=set(HEAVY), above=set(ABOVE))


def _loaded(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_edge_modules_and_inference_load_nothing_above_edge():
    out = _loaded("segment")
    layers = {"edge.core.engine", "edge.core.interpreter", "edge.live.pipeline", "edge.live.loop", "edge.tools.cli"}
    assert layers | {"edge.measurement.measure", "edge.tools.commands.predict"} <= set(out["modules"])
    assert out["heavy"] == [], f"edge loaded {out['heavy']}"
    assert out["above"] == [], f"edge imported {out['above']}: edge must not depend on the packages built on it"


def test_cli_parser_with_all_plugins_loads_no_tensorflow():
    out = _loaded("cli")
    assert out["heavy"] == [], f"building the tlfseg parser loaded {out['heavy']}"


def _project_imports() -> dict[str, set[str]]:
    """Each project module -> the project modules it imports (at module level or inside functions)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    files = {}
    for package in ("edge", "quantization", "firmware_bridge", "clinic"):
        for path in (root / package).rglob("*.py"):
            name = ".".join(path.relative_to(root).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in files.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                found |= {m for m in (node.module, *(f"{node.module}.{a.name}" for a in node.names)) if m in files}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in files}
        graph[name] = found - {name}
    return graph


#: edge's floors, lowest first: a module imports only from its own floor and those below it
EDGE_FLOORS = ("edge.core", "edge.measurement", "edge.live", "edge.tools")


def _floor(module: str) -> int:
    return next((i for i, f in enumerate(EDGE_FLOORS) if module == f or module.startswith(f + ".")), -1)


def test_edge_floors_import_only_downwards():
    graph = _project_imports()
    up = [(m, d) for m, deps in graph.items() if _floor(m) >= 0 for d in deps if _floor(d) > _floor(m)]
    assert not up, f"imports reaching a higher floor of edge ({' < '.join(EDGE_FLOORS)}): {up}"
    placed = [m for m in graph if m.startswith("edge.") and _floor(m) < 0]
    assert placed == [], f"edge modules outside the floors {EDGE_FLOORS}: {placed}"


def test_no_import_cycles_and_edge_imports_nothing_above_it():
    graph = _project_imports()
    assert not [(m, d) for m, deps in graph.items() if m.startswith("edge") for d in deps if not d.startswith("edge")]
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dep in sorted(graph[module]):
            assert state.get(dep) != 1, "import cycle: " + " -> ".join([*path[path.index(dep) :], dep])
            if dep not in state:
                visit(dep, [*path, dep])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])


def test_only_test_tooling_imports_the_bridges_test_tooling():
    graph = _project_imports()
    testing = "firmware_bridge.testing"
    outside = {m for m in graph if m != testing and not m.startswith(f"{testing}.")}
    assert not [(m, d) for m in outside for d in graph[m] if d == testing or d.startswith(f"{testing}.")]

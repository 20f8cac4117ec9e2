"""edge stands alone: importing every edge module and running a frame through the pipeline loads neither TensorFlow
nor the packages above edge (`quantization`, `firmware_bridge`); only the command line's plug-ins reach up."""

import json
import subprocess
import sys
import textwrap

HEAVY = ("tensorflow", "tf_keras", "keras")
ABOVE = ("quantization", "firmware_bridge")

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

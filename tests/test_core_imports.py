"""edge runs without TensorFlow: importing every edge module and segmenting a frame loads none of it."""

import json
import subprocess
import sys
import textwrap

HEAVY = ("tensorflow", "tf_keras", "keras")

_SCRIPT = textwrap.dedent(
    """
    import importlib, json, pkgutil, sys
    import edge

    names = sorted(m.name for m in pkgutil.walk_packages(edge.__path__, "edge."))
    for name in names:
        importlib.import_module(name)
    if sys.argv[1] == "segment":
        from edge.phantom import Phantom
        from edge.segmenter import Segmenter

        Segmenter()(Phantom().frame(0).image)
    elif sys.argv[1] == "cli":
        from edge.cli import build_parser

        build_parser()  # registers every subcommand, plug-ins from other packages included
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
    print(json.dumps({{"modules": names, "heavy": heavy}}))
    """
).format(heavy=set(HEAVY))


def _loaded(mode: str) -> dict:
    done = subprocess.run([sys.executable, "-c", _SCRIPT, mode], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_edge_modules_and_inference_load_no_tensorflow():
    out = _loaded("segment")
    core = {"edge.cli", "edge.engine", "edge.interpreter", "edge.segmenter", "edge.predict", "edge.commands.predict"}
    assert core <= set(out["modules"])
    assert out["heavy"] == [], f"edge loaded {out['heavy'][:5]}"


def test_cli_parser_with_all_plugins_loads_no_tensorflow():
    out = _loaded("cli")
    assert out["heavy"] == [], f"building the tlfseg parser loaded {out['heavy'][:5]}"

"""quantization.edgetpu: every op of the bundled int8 model listed, and what the Edge TPU compiler cannot map."""

import re

import pytest

import quantization.edgetpu as edgetpu
from edge.core.engine import DEFAULT_MODEL
from edge.tools.cli import main


def test_bundled_model_is_ready(bundled_engine):
    report = edgetpu.check()
    ops = [op for op in bundled_engine.op_details() if op["op_name"] != "DELEGATE"]
    assert [c.name for c in report.ops] == [op["op_name"] for op in ops]  # every op, in execution order
    assert {c.name for c in report.ops} >= {"CONV_2D", "MAX_POOL_2D", "RESIZE_NEAREST_NEIGHBOR", "CONCATENATION"}
    assert report.ready and report.errors == []
    # the model ends in logits (the runtime applies the softmax, which Coral takes only 1-D): every op maps
    assert not [c.name for c in report.ops if c.on_cpu] and report.mapped == len(report.ops)
    assert report.ops[-1].name == "CONV_2D" and report.warnings == []


def test_fused_activations_read_from_the_flatbuffer():
    codes = edgetpu._fused_activations(DEFAULT_MODEL)
    assert codes is not None and len(codes) == 8  # 4 MAX_POOL_2D + 4 CONCATENATION
    assert set(codes.values()) == {0}  # none fused


def test_an_unmappable_op_mid_graph_makes_it_not_ready(monkeypatch):
    supported = dict(edgetpu.SUPPORTED_OPS)
    del supported["MAX_POOL_2D"]
    monkeypatch.setattr(edgetpu, "SUPPORTED_OPS", supported)
    report = edgetpu.check()
    assert not report.ready
    first = next(c for c in report.ops if c.name == "MAX_POOL_2D")
    assert report.mapped == report.ops.index(first)
    assert all(c.on_cpu for c in report.ops[report.mapped :])
    assert any("mappable ops after op" in e for e in report.errors)


def test_cli_lists_ops_and_exits_0(capsys):
    assert main(["edgetpu-check"]) == 0
    out = capsys.readouterr().out
    assert str(DEFAULT_MODEL) in out
    assert out.count("CONV_2D") >= 23 and "SOFTMAX" not in out  # the runtime applies the softmax
    verdict = re.match(r"READY for edgetpu_compiler: (\d+) of (\d+) ops", out.strip().splitlines()[-1])
    assert verdict and verdict[1] == verdict[2]  # every op maps to the Edge TPU


def test_cli_missing_model(tmp_path, capsys):
    assert main(["edgetpu-check", "--model", str(tmp_path / "none.tflite")]) == 1
    assert "model file not found" in capsys.readouterr().err


def test_supported_op_names_are_tflite_builtins():
    schema = pytest.importorskip("ai_edge_litert.schema_py_generated")
    assert [n for n in edgetpu.SUPPORTED_OPS if not hasattr(schema.BuiltinOperator, n)] == []

"""Edge TPU readiness: list every op of an int8 .tflite model and flag what `edgetpu_compiler` cannot map.

The rules are Coral's ("TensorFlow models on the Edge TPU", coral.ai/docs/edgetpu/models-intro): every
tensor 8-bit quantized (int32 only for constant biases and shape parameters), shapes fixed at compile time,
only the innermost 3 dimensions larger than 1, and only the operations of Coral's supported-op table, with
their limitations. The compiler maps the graph up to the first op it cannot map; that op and every op after
it run on the CPU. So an unsupported op at the very end (nothing mappable after it) only costs that op on the
CPU, while one in the middle strands the rest of the network on the CPU.

Reads the model with the edge `Engine` (the interpreter's op and tensor details) and, where the LiteRT
schema module is installed, the op options (fused activations) straight from the flatbuffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge.core.engine import Engine

#: Coral's supported-operation table (Edge TPU compiler 16), TFLite op name -> known limitation.
SUPPORTED_OPS = {
    "ADD": "",
    "AVERAGE_POOL_2D": "no fused activation function",
    "CONCATENATION": "no fused activation function; a constant input only as a 2-input zero pad",
    "CONV_2D": "same dilation in x and y",
    "DEPTHWISE_CONV_2D": "same dilation in x and y",
    "EXPAND_DIMS": "",
    "FULLY_CONNECTED": "default weight format only; one-dimensional output",
    "L2_NORMALIZATION": "",
    "LOGISTIC": "",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "unidirectional LSTM only",
    "MAXIMUM": "",
    "MAX_POOL_2D": "no fused activation function",
    "MEAN": "no reduction in the batch dimension; a z-reduction needs a multiple of 4 channels",
    "MINIMUM": "",
    "MUL": "",
    "PACK": "no packing in the batch dimension",
    "PAD": "no padding in the batch dimension",
    "PRELU": "alpha varies along the innermost dimension only",
    "QUANTIZE": "",
    "REDUCE_MAX": "not over the batch dimension",
    "REDUCE_MIN": "not over the batch dimension",
    "RELU": "",
    "RELU6": "",
    "RELU_N1_TO_1": "",
    "RESHAPE": "large reshapes may stay on the CPU",
    "RESIZE_BILINEAR": "3-D input/output; may stay on the CPU at some sizes to avoid loss of precision",
    "RESIZE_NEAREST_NEIGHBOR": "3-D input/output; may stay on the CPU at some sizes to avoid loss of precision",
    "RSQRT": "",
    "SLICE": "",
    "SOFTMAX": "1-D input of at most 16,000 elements",
    "SPACE_TO_DEPTH": "",
    "SPLIT": "no splitting in the batch dimension",
    "SQUARED_DIFFERENCE": "",
    "SQUEEZE": "",
    "STRIDED_SLICE": "",
    "SUB": "",
    "SUM": "no reduction in the batch dimension",
    "TANH": "",
    "TRANSPOSE": "",
    "TRANSPOSE_CONV": "",
}
SOFTMAX_MAX_ELEMENTS = 16_000
#: ops whose Coral limitation is "no fused activation function"
NO_FUSED_ACTIVATION = ("AVERAGE_POOL_2D", "CONCATENATION", "MAX_POOL_2D")
EIGHT_BIT = (np.int8, np.uint8)
#: nodes the runtime adds when it hands partitions to its CPU delegate (XNNPACK); not ops of the model file
RUNTIME_NODES = ("DELEGATE",)
MAX_LISTED = 12  #: errors printed in full (a float model has one per tensor)


@dataclass
class OpCheck:
    index: int
    name: str
    inputs: str  #: "shape dtype" of each input
    outputs: str
    problems: list[str] = field(default_factory=list)  #: why the compiler cannot map it (empty: it can)
    on_cpu: bool = False  #: runs on the CPU: unmappable itself, or after an unmappable op


@dataclass
class Report:
    model: Path
    ops: list[OpCheck]
    errors: list[str]  #: what keeps the model from compiling well (or at all)
    warnings: list[str]  #: what compiles but leaves an op on the CPU
    mapped: int  #: ops the compiler maps to the Edge TPU

    @property
    def ready(self) -> bool:
        return not self.errors


def _fused_activations(path: Path) -> dict[int, int] | None:
    """Op index -> fused activation code for the ops Coral wants without one; None if the schema is missing."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        return None
    model = schema.Model.GetRootAs(path.read_bytes(), 0)
    graph = model.Subgraphs(0)
    codes = {}
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        table = op.BuiltinOptions()
        options_cls = {
            schema.BuiltinOptions.ConcatenationOptions: schema.ConcatenationOptions,
            schema.BuiltinOptions.Pool2DOptions: schema.Pool2DOptions,
        }.get(op.BuiltinOptionsType())
        if table is not None and options_cls is not None:
            options = options_cls()
            options.Init(table.Bytes, table.Pos)
            codes[i] = options.FusedActivationFunction()
    return codes


def _shape(tensor: dict, key: str = "shape") -> list[int]:
    return [int(d) for d in tensor.get(key, tensor["shape"])]


def _describe(tensors: dict, indices: list[int]) -> str:
    return ", ".join(f"{_shape(tensors[i])} {np.dtype(tensors[i]['dtype']).name}" for i in indices)


def _tensor_problems(tensor: dict, constant: bool) -> list[str]:
    name, dtype = tensor["name"], np.dtype(tensor["dtype"])
    kind = "constant" if constant else "activation"
    problems = []
    if dtype in EIGHT_BIT:
        if not len(tensor["quantization_parameters"]["scales"]):  # per-tensor or per-channel scales
            problems.append(f"{kind} tensor {name!r} is {dtype.name} without quantization parameters")
    elif not (constant and dtype == np.int32):  # int32 constants: biases and shape parameters
        problems.append(f"{kind} tensor {name!r} is {dtype.name}, not 8-bit quantized")
    if any(d < 0 for d in _shape(tensor, "shape_signature")):
        problems.append(f"{kind} tensor {name!r} has a dynamic shape {_shape(tensor, 'shape_signature')}")
    shape = _shape(tensor)
    if not constant and len(shape) > 3 and any(d > 1 for d in shape[:-3]):  # filters are [out, h, w, in]
        problems.append(f"{kind} tensor {name!r} {shape}: only the 3 innermost dimensions may be larger than 1")
    return problems


def _op_limits(name: str, inputs: list[dict], fused: int | None) -> list[str]:
    """Coral's per-op limitations that the model file lets us check."""
    if name == "SOFTMAX":
        shape = _shape(inputs[0])
        if sum(d > 1 for d in shape) > 1 or int(np.prod(shape)) > SOFTMAX_MAX_ELEMENTS:
            return [f"softmax over {shape}; the Edge TPU takes a 1-D input of at most {SOFTMAX_MAX_ELEMENTS:,}"]
    if name in NO_FUSED_ACTIVATION and fused:
        return [f"fused activation (code {fused}); the Edge TPU takes this op without one"]
    return []


def check(model: str | Path | None = None) -> Report:
    """Check a .tflite model (default: the bundled one) against the Edge TPU compiler's rules."""
    engine = Engine(model)
    path = engine.model_path
    tensors = {t["index"]: t for t in engine.interpreter.get_tensor_details()}
    ops = [op for op in engine.op_details() if op["op_name"] not in RUNTIME_NODES]
    produced = {int(i) for op in ops for i in op["outputs"]}
    produced |= {d["index"] for d in engine.interpreter.get_input_details()}
    fused = _fused_activations(path)
    errors, warnings, checks = [], [], []
    seen: set[int] = set()
    for op in ops:
        ins = [int(i) for i in op["inputs"] if i >= 0]
        outs = [int(i) for i in op["outputs"]]
        problems = [] if op["op_name"] in SUPPORTED_OPS else [f"{op['op_name']} is not an Edge TPU operation"]
        problems += _op_limits(op["op_name"], [tensors[i] for i in ins], (fused or {}).get(op["index"]))
        for i in ins + outs:
            if i not in seen:
                seen.add(i)
                errors += _tensor_problems(tensors[i], constant=i not in produced)
        checks.append(OpCheck(op["index"], op["op_name"], _describe(tensors, ins), _describe(tensors, outs), problems))
    first_bad = next((k for k, c in enumerate(checks) if c.problems), len(checks))
    tail = checks[first_bad:]
    stranded = sum(not c.problems for c in tail)  # mappable ops left on the CPU behind an unmappable one
    for c in tail:
        c.on_cpu = True
        if c.problems:
            message = f"op {c.index} {c.name}: {'; '.join(c.problems)}"
            (errors if stranded else warnings).append(message if stranded else f"{message} (runs on the CPU)")
    if stranded:
        errors.append(f"{stranded} mappable ops after op {tail[0].index} {tail[0].name} would run on the CPU too")
    if fused is None:
        warnings.append("fused activations not checked (the LiteRT schema module, ai-edge-litert, is not installed)")
    return Report(path, checks, errors, warnings, first_bad)


def format_report(report: Report) -> str:
    rows = [f"{report.model}", f"{'#':>3}  {'op':<24}{'where':<9}inputs -> outputs"]
    for c in report.ops:
        where = "cpu" if c.on_cpu else "edgetpu"
        rows.append(f"{c.index:>3}  {c.name:<24}{where:<9}{c.inputs} -> {c.outputs}")
        rows += [f"{'':>5}! {p}" for p in c.problems]
    rows += [f"error: {e}" for e in report.errors[:MAX_LISTED]]
    if len(report.errors) > MAX_LISTED:
        rows.append(f"error: ... and {len(report.errors) - MAX_LISTED} more")
    rows += [f"warning: {w}" for w in report.warnings]
    verdict = "READY" if report.ready else "NOT READY"
    rows.append(
        f"{verdict} for edgetpu_compiler: {report.mapped} of {len(report.ops)} ops map to the Edge TPU"
        + (f", {len(report.ops) - report.mapped} run on the CPU" if report.mapped < len(report.ops) else "")
    )
    return "\n".join(rows)

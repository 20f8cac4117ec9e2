"""`Engine`: one LiteRT interpreter running a segmentation model, float32 or int8, on CPU or Edge TPU."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from edge.core.interpreter import make_interpreter
from edge.core.labels import NUM_CLASSES

DEFAULT_MODEL = Path(__file__).resolve().parents[1] / "models" / "tlfseg_unet_int8.tflite"
_TFLITE_ID = b"TFL3"
_EDGETPU_OP = "edgetpu-custom-op"


class ModelError(ValueError):
    """The model file is missing, corrupt, or not a segmentation model this runtime can serve."""


@dataclass(frozen=True)
class TensorSpec:
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.dtype in (np.int8, np.uint8) and self.scale > 0


def _spec(detail: dict) -> TensorSpec:
    scale, zero = detail.get("quantization", (0.0, 0))
    return TensorSpec(tuple(int(v) for v in detail["shape"]), np.dtype(detail["dtype"]), float(scale), int(zero))


def _divides(part: int, whole: int) -> bool:
    return 0 < part <= whole and whole % part == 0


TINY = np.float32(1e-30)  #: probabilities below this are 0
_ONES = np.ones((1, NUM_CLASSES), np.float32)


def _normalise(exp: np.ndarray) -> np.ndarray:
    """(H, W, C) float32 positive scores -> scores over their per-pixel sum (OpenCV: ~5x numpy's keepdims sum)."""
    total = cv2.transform(exp, _ONES)
    return cv2.divide(exp, cv2.merge([total] * NUM_CLASSES))


class Engine:
    """Runs a `.tflite` model mapping a (1, H, W, 1) image to (1, H, W, NUM_CLASSES) class scores."""

    def __init__(self, model_path: str | Path | None = None, threads: int | None = 1, delegate: str | None = None):
        self.model_path = Path(model_path) if model_path is not None else DEFAULT_MODEL
        self._check_file(self.model_path)
        try:
            self.interpreter, self.backend = make_interpreter(str(self.model_path), threads, delegate)
            self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            if "delegate" in str(exc).lower() or "Edge TPU" in str(exc):
                raise
            raise ModelError(f"{self.model_path}: not a loadable .tflite model ({exc})") from None
        self.delegate = delegate
        self.threads = threads
        self._check_edgetpu(delegate)
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1:
            raise ModelError(f"{self.model_path}: expected 1 input and 1 output, got {len(inputs)} and {len(outputs)}")
        self._in_index, self._out_index = inputs[0]["index"], outputs[0]["index"]
        self.input, self.output = _spec(inputs[0]), _spec(outputs[0])
        self._check_shapes()
        #: the model ends in logits (no SOFTMAX op): `dequantize` applies the softmax
        self.outputs_logits = self._final_op() != "SOFTMAX"
        self._exp_table = self._softmax_table()

    @staticmethod
    def _check_file(path: Path) -> None:
        if path.is_dir():
            raise ModelError(f"{path} is a folder: give the .tflite model file in it")
        if not path.is_file():
            raise ModelError(f"model file not found: {path}")
        with path.open("rb") as fh:
            head = fh.read(8)
        if len(head) < 8 or head[4:8] != _TFLITE_ID:
            raise ModelError(f"{path}: not a TensorFlow Lite flatbuffer (missing 'TFL3' identifier)")

    def _check_edgetpu(self, delegate: str | None) -> None:
        ops = {op["op_name"] for op in self.op_details()}
        compiled = _EDGETPU_OP in ops
        if delegate == "edgetpu" and not compiled:
            raise ModelError(
                f"{self.model_path}: not compiled for the Edge TPU; run `edgetpu_compiler` on the int8 model first"
            )
        if compiled and delegate != "edgetpu":
            raise ModelError(f"{self.model_path}: compiled for the Edge TPU; run it with --delegate edgetpu")

    def _check_shapes(self) -> None:
        i, o = self.input.shape, self.output.shape
        if len(i) != 4 or i[0] != 1 or i[3] != 1:
            raise ModelError(f"{self.model_path}: input shape {list(i)} is not [1, H, W, 1]")
        if len(o) != 4 or o[0] != 1 or o[3] != NUM_CLASSES or not _divides(o[1], i[1]) or not _divides(o[2], i[2]):
            raise ModelError(
                f"{self.model_path}: output shape {list(o)} is not [1, {i[1]}, {i[2]}, {NUM_CLASSES}] "
                f"(or the input's size divided by a whole number)"
            )
        for name, spec in (("input", self.input), ("output", self.output)):
            if spec.dtype not in (np.float32, np.int8, np.uint8):
                raise ModelError(f"{self.model_path}: {name} type {spec.dtype} is not float32, int8 or uint8")

    def _final_op(self) -> str | None:
        producers = (op for op in self.op_details() if op["op_name"] != "DELEGATE")  # delegated ops stay listed
        return next((op["op_name"] for op in producers if self._out_index in list(op["outputs"])), None)

    def op_details(self) -> list[dict]:
        """The model's operators (name, inputs, outputs), as the interpreter reports them."""
        return self.interpreter._get_ops_details()

    @property
    def input_size(self) -> tuple[int, int]:
        """(height, width) the model takes."""
        return self.input.shape[1], self.input.shape[2]

    @property
    def output_size(self) -> tuple[int, int]:
        """(height, width) of the class probabilities: the input's, or a whole fraction of it."""
        return self.output.shape[1], self.output.shape[2]

    @property
    def precision(self) -> str:
        return str(self.input.dtype) if self.input.quantized else "float32"

    def _quantize(self, x: np.ndarray) -> np.ndarray:
        spec = self.input
        if not spec.quantized:
            return x.astype(np.float32, copy=False)
        depth = cv2.CV_8S if spec.dtype == np.int8 else cv2.CV_8U
        # x / scale + zero point, rounded to nearest and saturated, in one pass (numpy's rint/clip/astype: 8x slower)
        return cv2.addWeighted(x, 1.0 / spec.scale, x, 0.0, spec.zero_point, dtype=depth)

    def run_raw(self, x: np.ndarray) -> np.ndarray:
        """Run on a float32 (H, W) input in [0, 1]; return the raw output tensor (H, W, C) in its own dtype."""
        if x.shape != self.input_size:
            raise ValueError(f"input is {x.shape}, the model takes {self.input_size}")
        self.interpreter.set_tensor(self._in_index, self._quantize(x)[None, :, :, None])
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._out_index)[0]

    def _softmax_table(self) -> np.ndarray | None:
        """exp(logit - largest representable logit) for each of the 256 raw int8/uint8 logit codes, or None.

        Used where every code's exponential is a normal float32 (range x scale <= 60): the softmax becomes a
        table lookup, a sum and a division, with no exp and no denormal numbers (which would make every
        later float operation on the probabilities many times slower).
        """
        spec = self.output
        if not (self.outputs_logits and spec.quantized):
            return None
        info = np.iinfo(spec.dtype)
        if (info.max - info.min) * spec.scale > 60:
            return None
        codes = np.arange(256, dtype=np.uint8).view(spec.dtype).astype(np.float32)  # indexed by the raw bytes
        return np.exp((codes - info.max) * np.float32(spec.scale)).astype(np.float32)

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        """Raw output -> float32 class probabilities (softmax applied here when the model ends in logits)."""
        if self._exp_table is not None:
            return _normalise(cv2.LUT(raw.view(np.uint8), self._exp_table))
        spec = self.output
        values = raw.astype(np.float32, copy=False)
        if spec.quantized:
            values = (values - spec.zero_point) * np.float32(spec.scale)
        if not self.outputs_logits:
            return values
        probs = _normalise(np.exp(values - values.max(axis=-1, keepdims=True)))
        probs[probs < TINY] = 0.0  # no denormal numbers downstream (see `_softmax_table`)
        return probs

    def infer(self, x: np.ndarray) -> np.ndarray:
        """float32 (H, W) input -> float32 (H, W, C) class probabilities."""
        return self.dequantize(self.run_raw(x))

    def describe(self) -> str:
        h, w = self.input_size
        return (
            f"{self.model_path.name}: {self.precision} {h}x{w}, backend {self.backend}, "
            f"threads {self.threads}, delegate {self.delegate or 'none (CPU, XNNPACK)'}"
        )

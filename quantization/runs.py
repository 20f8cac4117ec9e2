"""A run directory's model files, by the names the evaluation reports them under, and where shipping puts them."""

from __future__ import annotations

from pathlib import Path

from edge.core.engine import DEFAULT_MODEL

#: The run directory's .tflite models, by the name the evaluation reports them under.
MODELS = {"float32": "float32.tflite", "ptq_int8": "ptq_int8.tflite", "qat_int8": "qat_int8.tflite"}


def int8_model(names) -> str | None:
    """The int8 model that speaks for a run among its model `names`: QAT where there is one, else post-training."""
    return next((n for n in ("qat_int8", "ptq_int8") if n in names), None)


def model_paths(run_dir: str | Path) -> dict[str, Path]:
    return {name: Path(run_dir) / file for name, file in MODELS.items()}


#: where `--ship` installs a run's models, and under which names
SHIP_DIR = DEFAULT_MODEL.parent
SHIPPED = {"qat_int8": DEFAULT_MODEL.name, "float32": "tlfseg_unet_float32.tflite"}

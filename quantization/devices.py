"""Where training runs: every visible accelerator at once under `tf.distribute.MirroredStrategy` (each batch split
between them, the gradients summed), or the default strategy on one device, as before.

Without accelerators the logical CPUs count: one unless a process has split its CPU into several
(`tf.config.set_logical_device_configuration`, as the test of this path does)."""

from __future__ import annotations

import functools

from quantization.tfenv import tf


def training_devices() -> list[str]:
    """The logical GPUs, or the logical CPUs where there is none."""
    return [d.name for d in tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU")]


@functools.cache
def strategy():
    """MirroredStrategy over `training_devices` where there are several, else the default strategy. Models are built
    and compiled under its scope; batches keep their size (split between the devices)."""
    devices = training_devices()
    if len(devices) < 2:
        return tf.distribute.get_strategy()
    print(f"training on {len(devices)} devices (MirroredStrategy): {', '.join(devices)}", flush=True)
    return tf.distribute.MirroredStrategy(devices)

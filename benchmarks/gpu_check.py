"""On a CUDA machine: train on the GPU, check the tensors live there, compare with the CPU.

    python -m benchmarks.gpu_check

Runs well under three minutes. Without CUDA it says so and exits with status 0.
"""

from __future__ import annotations

import sys
import time

import torch

from models.data.datasets import prepare, shapes
from models.device import device_name
from models.network.build import build_model
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.training.engine import TrainConfig, train


def speed(device: str, data, spec) -> tuple[float, float, torch.nn.Module]:
    """Images per second over one epoch (after a warm-up epoch) and the final val accuracy."""
    model = build_model(spec, 0)
    config = TrainConfig(epochs=2, device=device, log_every=10)
    marks = {}
    for report in train(model, data, config):
        if report.kind == "epoch":
            marks[report.epoch] = (time.perf_counter(), report.examples, report.val_acc)
    (t1, n1, _), (t2, n2, acc) = marks[1], marks[2]
    return (n2 - n1) / (t2 - t1), acc, model


def main() -> int:
    if not torch.cuda.is_available():
        print("No CUDA GPU here: nothing to check (this is not an error).")
        return 0
    cuda = torch.device("cuda")
    print(f"Device: {device_name(cuda)}; torch {torch.__version__}")
    spec = PRESETS[DEFAULT_PRESET].spec
    data = prepare(shapes(4000, 0), spec.input_shape, 0.2, 0)
    gpu, gpu_acc, model = speed("cuda", data, spec)
    on_gpu = {p.device.type for p in model.parameters()}
    print(
        f"parameters on: {on_gpu}; AMP dtype: "
        f"{'bfloat16' if torch.cuda.is_bf16_supported() else 'float16'}"
    )
    assert on_gpu == {"cuda"}, "the model was not trained on the GPU"
    cpu, cpu_acc, _ = speed("cpu", data, spec)
    print(
        f"GPU {gpu:.0f} img/s (val acc {gpu_acc:.3f}); CPU {cpu:.0f} img/s "
        f"(val acc {cpu_acc:.3f}); ratio {gpu / cpu:.1f}×"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

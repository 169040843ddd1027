"""How long each attribution method takes, against one plain forward and backward pass.

For TinyVGG at 64×64 and ResNet-18 at 224×224 (torchvision, weights=None), on this machine, in
one process: the baseline is one forward pass plus the backward pass of one logit to the pixels;
every method then runs with its default settings (integrated gradients with 50 steps too). It
prints the median time of each and its ratio to the baseline. Goal: integrated gradients with
50 steps on TinyVGG under 0.5 s.

    python -m benchmarks.attribution_speed [--repeats 3] [--models tinyvgg resnet18]
"""

from __future__ import annotations

import argparse
import warnings

import torch

from benchmarks.timing import median_s
from models.bundle import ModelBundle, untrained_bundle
from models.explain.attribution import ATTRIBUTION_METHODS
from models.inputs import pixel_model
from models.network.presets import PRESETS
from models.zoo import build_zoo_model


def baseline(bundle: ModelBundle, x: torch.Tensor) -> None:
    pixels = x.clone().requires_grad_(True)
    torch.autograd.grad(pixel_model(bundle)(pixels)[0, 0], pixels)


def cases() -> list[tuple[str, dict]]:
    out = [(name, {}) for name in ATTRIBUTION_METHODS]
    out.insert(2, ("Integrated gradients", {"steps": 50}))
    return out


def run(label: str, bundle: ModelBundle, repeats: int) -> None:
    x = torch.rand(1, *bundle.input_shape, generator=torch.Generator().manual_seed(0))
    base = median_s(lambda: baseline(bundle, x), max(repeats, 5))
    print(f"\n{label}: baseline forward+backward {base * 1000:.1f} ms")
    print(f"{'method':45s} {'time':>10s} {'× baseline':>11s}")
    for name, settings in cases():
        method = ATTRIBUTION_METHODS[name]
        t = median_s(lambda m=method, s=settings: m.attribute(bundle, x, 0, **s), repeats)
        shown = name + (f" ({settings['steps']} steps)" if settings else "")
        print(f"{shown:45s} {t * 1000:8.1f} ms {t / base:10.1f}×")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="+", default=["tinyvgg", "resnet18"])
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # Captum's notes about input gradients and hooks
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    if "tinyvgg" in args.models:
        run(
            "TinyVGG 64×64", untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec), args.repeats
        )
    if "resnet18" in args.models:
        run("ResNet-18 224×224", build_zoo_model("resnet18", pretrained=False), args.repeats)


if __name__ == "__main__":
    main()

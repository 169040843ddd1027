"""How long the Feature maps page's work takes: capture every layer and draw one layer's grid.

For TinyVGG at 64×64 (target: under 150 ms) and ResNet-18 at 224×224 (target: under 1 s), it
times, in the same process and on the same image: a bare forward pass (the baseline), the
capture of every layer's maps, and the capture plus the grid figure of the widest layer
serialized as Streamlit does. It prints medians and the ratio to the baseline.

    python -m benchmarks.feature_maps_speed [--repeats 7] [--threads 1]

On a shared, busy CPU, `--threads 1` (like CNNLAB_TORCH_THREADS=1 for the app) avoids torch's
threads fighting each other and gives steadier figures.
"""

from __future__ import annotations

import argparse

import numpy as np
import plotly.io as pio
import torch
from PIL import Image

from benchmarks.timing import median_s
from models.bundle import ModelBundle, untrained_bundle
from models.inspect.activations import (
    channel_order,
    color_ranges,
    compute_feature_maps,
    prepare_input,
)
from models.network.presets import PRESETS
from models.zoo import build_zoo_model
from viz.feature_maps import channel_grid_figure


def page_work(bundle: ModelBundle, image: Image.Image) -> int:
    """What one page run does: capture all layers, draw the widest layer's grid, serialize."""
    fm = compute_feature_maps(bundle, image)
    name = max(fm.layers, key=lambda ly: ly.maps.size).name
    maps = fm.layer(name).maps
    fig = channel_grid_figure(maps, color_ranges(fm, name, "layer"), channel_order(maps))
    return len(pio.to_json(fig, validate=False))


def run(label: str, bundle: ModelBundle, image: Image.Image, target_ms: float, n: int) -> None:
    x = prepare_input(image, bundle)

    def forward() -> None:
        with torch.no_grad():
            bundle.model(x)

    base = 1000 * median_s(forward, n)
    capture = 1000 * median_s(lambda: compute_feature_maps(bundle, image), n)
    full = 1000 * median_s(lambda: page_work(bundle, image), n)
    size = page_work(bundle, image) / 1e6
    print(
        f"{label}: forward {base:.1f} ms | capture all layers {capture:.1f} ms "
        f"(×{capture / base:.1f}) | capture + grid figure + JSON {full:.1f} ms "
        f"(×{full / base:.1f}; {size:.2f} MB) | target {target_ms:.0f} ms: "
        f"{'met' if full < target_ms else 'MISSED'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    rng = np.random.default_rng(0)
    image = Image.fromarray((rng.random((256, 256, 3)) * 255).astype(np.uint8))
    tiny = untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec)
    run("TinyVGG 64×64", tiny, image, 150, args.repeats)
    run("ResNet-18 224×224", build_zoo_model("resnet18"), image, 1000, args.repeats)


if __name__ == "__main__":
    main()

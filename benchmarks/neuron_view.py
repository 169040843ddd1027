"""How long opening the Neuron view for one conv channel takes, beside a plain forward pass.

Times what a page run does when a channel is opened: one forward pass with the layer hooked,
the channel taken apart (product maps, the strongest unit's window, batch norm and activation
after it), and the page's three figures (the layer overview, the input | kernel | product
figure, the sum row) serialized as Streamlit sends them. TinyVGG 64×64 (target < 150 ms) and
ResNet-18 224×224, layer1.0.conv1 (target < 1 s; built with weights=None, no download).

    python -m benchmarks.neuron_view [--repeats 7] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import plotly.io as pio
import torch
from PIL import Image

from benchmarks.timing import best_s, median_s
from models.bundle import ModelBundle, untrained_bundle
from models.inspect import neuron as nr
from models.inspect.activations import prepare_input
from models.network.presets import PRESETS
from models.zoo import build_zoo_model
from viz import neuron as nviz

ROWS_DRAWN, GRID_MAX = 6, 16  # as ui/panels/neuron_views.py and ui/panels/neuron.py


def open_view(bundle: ModelBundle, image: Image.Image, layer: str, channel: int) -> int:
    """One page run's work for a conv channel; returns the bytes of figure JSON sent."""
    cap = nr.capture_layer(bundle, prepare_input(image, bundle), layer)
    conv = nr.conv_module(bundle.model, layer)
    neuron = nr.compute_conv_neuron(conv, cap, channel)
    r, c = np.unravel_index(int(np.argmax(neuron.real)), neuron.real.shape)
    unit = nr.unit_window(neuron, int(r), int(c))
    steps = nr.apply_steps(nr.following_steps(bundle.model, layer), neuron.pre, channel)
    order = nr.top_channels(cap.output, GRID_MAX)
    shown = np.sort(np.argsort(-neuron.contributions, kind="stable")[:ROWS_DRAWN])
    figures = [
        nviz.overview_figure(cap.output.numpy(), order),
        nviz.conv_channel_figure(neuron, unit, shown),
        nviz.maps_row_figure([("sum", neuron.pre), *steps], (unit.row, unit.col)),
    ]
    return sum(len(pio.to_json(f, validate=False)) for f in figures)


def cpu_ms(fn, n: int) -> float:
    """Mean CPU milliseconds of this process per call: steadier than wall time on a busy CPU."""
    start = time.process_time()
    for _ in range(n):
        fn()
    return 1000 * (time.process_time() - start) / n


def run(
    label: str, bundle: ModelBundle, image: Image.Image, layer: str, target_ms: float, n: int
) -> None:
    x = prepare_input(image, bundle)

    def forward() -> None:
        with torch.no_grad():
            bundle.model(x)

    base = 1000 * median_s(forward, n)
    view = 1000 * median_s(lambda: open_view(bundle, image, layer, 3), n)
    best = 1000 * best_s(lambda: open_view(bundle, image, layer, 3), n)
    size = open_view(bundle, image, layer, 3) / 1e6
    cpu = cpu_ms(lambda: open_view(bundle, image, layer, 3), n)
    print(
        f"{label}, {layer} channel 3: forward {base:.1f} ms | open the view: median "
        f"{view:.1f} ms (×{view / base:.1f} the forward pass), best {best:.1f} ms, CPU time "
        f"{cpu:.1f} ms; "
        f"{size:.2f} MB of figures | target {target_ms:.0f} ms: "
        f"{'met' if view < target_ms else 'MISSED'} (median)"
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
    run("TinyVGG 64×64", tiny, image, "conv2", 150, args.repeats)
    resnet = build_zoo_model("resnet18")
    run("ResNet-18 224×224", resnet, image, "layer1.0.conv1", 1000, args.repeats)


if __name__ == "__main__":
    main()

"""Time one redraw of the Convolution page on a 512×512 image, against a bare F.conv2d.

A redraw is what moving a slider on the page costs in script time: the models/ calls and the
viz/ figures, serialised to JSON as Streamlit does. The baseline is one 3×3 F.conv2d over the
same image in the same process, so the ratio is comparable across machines.

    python -m benchmarks.convolution_redraw [--repeats 15]
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import plotly.io as pio
import torch
import torch.nn.functional as F
from PIL import Image

from benchmarks.timing import median_s
from models.operations import convolution as conv
from models.operations import convolution_step as cstep
from models.operations import kernels as kern
from viz import convolution as cviz

SIDE = 512
LAYER = ["Sobel x", "Sobel y", "Laplacian", "Gaussian"]


def sample_image(side: int = SIDE) -> Image.Image:
    """scikit-learn's bundled photo, resized to side×side (offline)."""
    from sklearn.datasets import load_sample_image

    return Image.fromarray(load_sample_image("china.jpg")).resize((side, side))


def image_redraw(image: Image.Image, angle: float) -> int:
    """The "Kernels on your image" tab after a slider move; returns the JSON size."""
    pixels = kern.image_array(image)
    kernel = kern.build_kernel(kern.KernelSpec("Gabor", 7, 2.0, angle, 0.25))
    result = kern.apply_kernel(pixels, kernel, 0.1, True)
    layer = kern.compute_layer(pixels, [kern.KernelSpec(n, 3) for n in LAYER], True)
    maps = np.concatenate([result.channels, result.summed[None]])
    figures = [
        cviz.kernel_figure(kernel),
        cviz.maps_figure(maps, ["r", "g", "b", "sum"]),
        cviz.maps_figure(layer.maps, LAYER),
    ]
    return sum(len(pio.to_json(f, validate=False)) for f in figures)


def step_redraw(image: Image.Image, position: int) -> int:
    """The "Step by step" tab after the position slider moves (12×12 crop, 3×3, padding 1)."""
    grid = cstep.image_grid(image, 12, 12)
    spec = conv.StepSpec(stride=2, padding=1, dilation=2)
    step = cstep.compute_step(grid, kern.build_kernel(kern.KernelSpec("Sobel x")), spec, position)
    return len(pio.to_json(cviz.step_figure(step), validate=False))


def timed(fn: Callable[[int], object], repeats: int) -> float:
    """Median seconds per call; each call gets a new index, so no two redraws are the same."""
    calls = iter(range(repeats + 1))
    return median_s(lambda: fn(next(calls)), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    image = sample_image()
    x = torch.from_numpy(kern.image_array(image))[None]  # (1, 3, 512, 512)
    w = torch.ones(1, 3, 3, 3) / 27

    def baseline(_: int) -> None:
        with torch.inference_mode():
            F.conv2d(x, w, padding=1)

    base = timed(baseline, args.repeats)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, image {SIDE}×{SIDE}")
    print(f"baseline F.conv2d 3×3:        {base * 1e3:8.2f} ms")
    for name, fn in (
        ("image tab redraw", lambda i: image_redraw(image, 15.0 * i)),
        ("step-by-step redraw", lambda i: step_redraw(image, i)),
    ):
        t = timed(fn, args.repeats)
        print(f"{name + ':':30s}{t * 1e3:8.2f} ms  ({t / base:6.1f}× baseline, target 200 ms)")


if __name__ == "__main__":
    main()

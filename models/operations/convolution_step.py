"""One position of the convolution window: what it reads, the products, their sum, the output.

The output itself always comes from `torch.nn.functional.conv2d` or `conv_transpose2d`; tests
check the sums over the canvas (models/operations/convolution.py) against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from models.network import formulas
from models.operations.convolution import (
    MAX_GRID,
    MAX_KERNEL_SIDE,
    Canvas,
    ConvolutionError,
    StepSpec,
    _check_int,
    _check_numbers,
    _step,
    build_canvas,
    compute_output_size,
)


def torch_output(grid: np.ndarray, kernel: np.ndarray, spec: StepSpec) -> np.ndarray:
    """The output as PyTorch computes it (float64), the reference for every number shown."""
    x = torch.from_numpy(np.array(grid, dtype=np.float64))[None, None]  # (1, 1, H, W)
    w = torch.from_numpy(np.array(kernel, dtype=np.float64))[None, None]  # (1, 1, K, K)
    b = torch.tensor([float(spec.bias)], dtype=torch.float64)
    if spec.transposed:
        y = F.conv_transpose2d(
            x, w, b, spec.stride, spec.padding, spec.output_padding, dilation=spec.dilation
        )
    else:
        y = F.conv2d(x, w, b, spec.stride, spec.padding, spec.dilation)
    return y[0, 0].numpy()


@dataclass(frozen=True)
class ConvStep:
    """The window at one position: what it reads, the products, their sum, the output so far."""

    canvas: Canvas
    taps: np.ndarray  # (K, K) the kernel as laid on the canvas (flipped when transposed)
    output: np.ndarray  # (OH, OW) from PyTorch
    position: int
    row: int  # output row and column of this step
    col: int
    tap_rows: np.ndarray  # (K,) canvas rows the taps read
    tap_cols: np.ndarray  # (K,)
    products: np.ndarray  # (K, K) canvas value × tap
    total: float  # sum of products + bias

    @property
    def n_steps(self) -> int:
        return self.output.size


def compute_step(grid: np.ndarray, kernel: np.ndarray, spec: StepSpec, position: int) -> ConvStep:
    """Lay the kernel at step `position` (row-major over the output) and do the arithmetic."""
    grid = _check_numbers("input grid", grid, False, MAX_GRID)
    kernel = _check_numbers("kernel", kernel, True, MAX_KERNEL_SIDE)
    k = kernel.shape[0]
    report = compute_output_size(grid.shape, k, spec)
    if report.problem:
        raise ConvolutionError(report.problem)
    output = torch_output(grid, kernel, spec)
    _check_int("position", position, 0, output.size - 1)
    canvas = build_canvas(grid, k, spec)
    taps = kernel[::-1, ::-1] if spec.transposed else kernel
    row, col = divmod(position, output.shape[1])
    tap_rows = row * _step(spec) + np.arange(k) * spec.dilation
    tap_cols = col * _step(spec) + np.arange(k) * spec.dilation
    read = canvas.values[np.ix_(tap_rows, tap_cols)]
    products = read * taps
    total = float(formulas.weighted_sum(read, taps, spec.bias).value)
    return ConvStep(
        canvas,
        taps.copy(),
        output,
        position,
        row,
        col,
        tap_rows,
        tap_cols,
        products,
        total,
    )


def step_latex(step: ConvStep, bias: float, max_terms: int = 16) -> str:
    """The step's sum written out: value·tap + ... + bias = total (shortened for big kernels)."""
    values = step.canvas.values[np.ix_(step.tap_rows, step.tap_cols)]
    return formulas.weighted_sum(values, step.taps, bias, max_terms).latex


# ---- input grids --------------------------------------------------------------------------


def random_grid(rows: int, cols: int, seed: int, high: int = 9) -> np.ndarray:
    """Whole numbers 0..high, reproducible from `seed`."""
    _check_int("rows", rows, 1, MAX_GRID)
    _check_int("columns", cols, 1, MAX_GRID)
    return np.random.default_rng(seed).integers(0, high + 1, size=(rows, cols)).astype(float)


def image_grid(image: Image.Image, rows: int, cols: int, levels: int = 10) -> np.ndarray:
    """The image's centre square, shrunk to rows×cols, as brightness 0..levels−1."""
    _check_int("rows", rows, 1, MAX_GRID)
    _check_int("columns", cols, 1, MAX_GRID)
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    gray = image.convert("L").crop((left, top, left + side, top + side))
    small = np.asarray(gray.resize((cols, rows), Image.Resampling.BOX), dtype=float)
    return np.round(small / 255 * (levels - 1))


def to_csv(array: np.ndarray) -> str:
    """A table of numbers as CSV text, for downloads."""
    return "\n".join(",".join(f"{v:g}" for v in row) for row in np.asarray(array)) + "\n"

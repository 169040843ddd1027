"""Convolution with every number visible: one window at a time, output sizes, dilation, kernels.

The step-by-step view slides a kernel over a "canvas": the input with its padding for a
convolution, or, for a transposed convolution, the input with (stride − 1) zeros between cells
and D·(K−1) − P cells of padding around it, read by the flipped kernel (Dumoulin and Visin, "A
guide to convolution arithmetic for deep learning", 2016). The output itself always comes from
`torch.nn.functional.conv2d` or `conv_transpose2d`; tests check the canvas sums against it.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from models.geometry import dense_equivalent_params, naive_output_size
from models.spec import conv_out, pool_out

INPUT, PADDING, HOLE = 0, 1, 2  # what a canvas cell is: an input value, padding, an inserted zero
MAX_GRID = 12
MAX_KERNEL_SIDE = 7
MAX_SETTING = 8  # stride, padding and dilation of the step-by-step view


class ConvolutionError(ValueError):
    """Settings or numbers that cannot be convolved, with a reason a user can read."""


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConvolutionError(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ConvolutionError(f"{name} must be between {low} and {high}, not {value}")


@dataclass(frozen=True)
class StepSpec:
    """How the window moves; the kernel and the input grid come separately."""

    stride: int = 1  # conv: cells the window jumps; transposed: gap between spread-out inputs
    padding: int = 0  # conv: cells added on each side; transposed: cells cut from each side
    dilation: int = 1  # distance between kernel taps; 1 means touching
    transposed: bool = False
    output_padding: int = 0  # transposed only: extra rows/columns at the bottom and right
    bias: float = 0.0  # added to every output cell

    def __post_init__(self) -> None:
        _check_int("stride", self.stride, 1, MAX_SETTING)
        _check_int("padding", self.padding, 0, MAX_SETTING)
        _check_int("dilation", self.dilation, 1, MAX_SETTING)
        _check_int("output padding", self.output_padding, 0, MAX_SETTING)
        if not np.isfinite(self.bias):
            raise ConvolutionError("the bias must be a finite number")
        if self.output_padding and not self.transposed:
            raise ConvolutionError("output padding only exists for transposed convolution")
        if self.output_padding >= max(self.stride, self.dilation):
            raise ConvolutionError(
                f"output padding ({self.output_padding}) must be smaller than the stride "
                f"({self.stride}) or the dilation ({self.dilation}), as PyTorch requires"
            )


@dataclass(frozen=True)
class ConvCase:
    """One of conv_arithmetic's animations: input side, kernel side and settings."""

    side: int
    kernel_size: int
    spec: StepSpec


def _cases() -> dict[str, ConvCase]:
    forward = {
        "No padding, unit strides": ConvCase(4, 3, StepSpec()),
        "Arbitrary padding, unit strides": ConvCase(5, 4, StepSpec(padding=2)),
        "Half (same) padding": ConvCase(5, 3, StepSpec(padding=1)),
        "Full padding": ConvCase(5, 3, StepSpec(padding=2)),
        "No padding, strides": ConvCase(5, 3, StepSpec(stride=2)),
        "Padding, strides": ConvCase(5, 3, StepSpec(stride=2, padding=1)),
        "Padding, strides (odd)": ConvCase(6, 3, StepSpec(stride=2, padding=1)),
        "Dilation": ConvCase(7, 3, StepSpec(dilation=2)),
    }
    cases = dict(forward)
    for name, case in forward.items():  # each transposed case undoes the shape of its forward one
        s = case.spec
        side = conv_out(case.side, case.kernel_size, s.stride, s.padding, s.dilation)
        back = StepSpec(s.stride, s.padding, s.dilation, True)
        extra = case.side - transposed_out(side, case.kernel_size, back)
        spec = StepSpec(s.stride, s.padding, s.dilation, True, output_padding=extra)
        cases[f"{name}, transposed"] = ConvCase(side, case.kernel_size, spec)
    return cases


# ---- output size --------------------------------------------------------------------------


@dataclass(frozen=True)
class AxisSize:
    """The output length along one axis, the formula with its numbers, and what is never read."""

    exact: int
    latex: str
    naive: Fraction | None  # the textbook (W − K + 2P)/S + 1; None for transposed
    unread: tuple[int, ...]  # input indices along this axis that no window reads
    reads: tuple[int, ...]  # how many windows read each input index along this axis
    pool_floor: int | None  # max pooling with the same K, S, P; None when PyTorch refuses
    pool_ceil: int | None


def _conv_latex(w: int, k: int, s: StepSpec, out: int) -> str:
    top = w + 2 * s.padding - s.dilation * (k - 1) - 1
    return (
        r"\left\lfloor \frac{W + 2P - D(K-1) - 1}{S} \right\rfloor + 1 = "
        rf"\left\lfloor \frac{{{w} + 2\cdot{s.padding} - {s.dilation}\cdot({k}-1) - 1}}"
        rf"{{{s.stride}}} \right\rfloor + 1 = \left\lfloor {Fraction(top, s.stride)} "
        rf"\right\rfloor + 1 = {out}"
    )


def _transposed_latex(w: int, k: int, s: StepSpec, out: int) -> str:
    return (
        r"(W-1)S - 2P + D(K-1) + P_{out} + 1 = "
        rf"({w}-1)\cdot{s.stride} - 2\cdot{s.padding} + {s.dilation}\cdot({k}-1) + "
        rf"{s.output_padding} + 1 = {out}"
    )


def transposed_out(w: int, k: int, s: StepSpec) -> int:
    """PyTorch's conv_transpose2d output length."""
    return (w - 1) * s.stride - 2 * s.padding + s.dilation * (k - 1) + s.output_padding + 1


def _pool(w: int, k: int, s: StepSpec, ceil: bool) -> int | None:
    if s.transposed or 2 * s.padding > k:
        return None
    out = pool_out(w, k, s.stride, s.padding, ceil)
    return out if out >= 1 else None


def axis_size(length: int, kernel_size: int, spec: StepSpec) -> AxisSize:
    """Everything the page says about one axis (height or width)."""
    k = kernel_size
    if spec.transposed:
        out = transposed_out(length, k, spec)
        latex, naive = _transposed_latex(length, k, spec, out), None
    else:
        out = conv_out(length, k, spec.stride, spec.padding, spec.dilation)
        latex = _conv_latex(length, k, spec, out)
        naive = naive_output_size(length, k, spec.stride, spec.padding)
    counts = np.zeros(length, dtype=int)
    if out >= 1:
        counts = _read_counts(_axis(length, k, spec)[0], length, k, spec, out)
    unread = tuple(int(i) for i in np.flatnonzero(counts == 0))
    pools = (_pool(length, k, spec, False), _pool(length, k, spec, True))
    return AxisSize(out, latex, naive, unread, tuple(int(c) for c in counts), *pools)


@dataclass(frozen=True)
class SizeReport:
    rows: AxisSize
    cols: AxisSize

    @property
    def coverage(self) -> np.ndarray:
        """(H, W) how many windows read each input cell; 0 means never."""
        return np.outer(self.rows.reads, self.cols.reads)

    @property
    def problem(self) -> str | None:
        """Why there is no output, in plain words, or None when there is one."""
        h, w = self.rows.exact, self.cols.exact
        if h >= 1 and w >= 1:
            return None
        return (
            f"These settings give an output of {h}×{w}, smaller than 1×1: the dilated kernel "
            "does not fit inside the (padded) input. Use a smaller kernel or dilation, more "
            "padding, or a bigger input."
        )


def compute_output_size(shape: tuple[int, int], kernel_size: int, spec: StepSpec) -> SizeReport:
    """Output height and width, with formulas, for an input of `shape` (rows, columns)."""
    _check_int("kernel size", kernel_size, 1, MAX_KERNEL_SIDE)
    return SizeReport(*(axis_size(n, kernel_size, spec) for n in shape))


# ---- the canvas the window slides over ----------------------------------------------------


def _axis(length: int, k: int, spec: StepSpec) -> tuple[np.ndarray, np.ndarray]:
    """Per canvas cell along one axis: the input index it holds (−1 for none) and its kind."""
    if spec.transposed:
        margin = spec.dilation * (k - 1) - spec.padding  # negative: the canvas is cropped
        pos = np.arange(-margin, (length - 1) * spec.stride + margin + spec.output_padding + 1)
        inside = (pos >= 0) & (pos <= (length - 1) * spec.stride)
        on_input = inside & (pos % spec.stride == 0)
        kind = np.where(on_input, INPUT, np.where(inside, HOLE, PADDING))
        return np.where(on_input, pos // spec.stride, -1), kind
    pos = np.arange(-spec.padding, length + spec.padding)
    inside = (pos >= 0) & (pos < length)
    return np.where(inside, pos, -1), np.where(inside, INPUT, PADDING)


def _step(spec: StepSpec) -> int:
    return 1 if spec.transposed else spec.stride


def _read_counts(source: np.ndarray, length: int, k: int, spec: StepSpec, out: int) -> np.ndarray:
    """How many windows read each of the `length` input indices along one axis."""
    taps = (np.arange(out)[:, None] * _step(spec) + np.arange(k)[None, :] * spec.dilation).ravel()
    hits = source[taps]
    return np.bincount(hits[hits >= 0], minlength=length)


@dataclass(frozen=True)
class Canvas:
    values: np.ndarray  # (Hc, Wc) the numbers the window reads
    kinds: np.ndarray  # (Hc, Wc) INPUT, PADDING or HOLE
    row_source: np.ndarray  # (Hc,) input row of each canvas row, −1 for none
    col_source: np.ndarray  # (Wc,)


def build_canvas(grid: np.ndarray, kernel_size: int, spec: StepSpec) -> Canvas:
    """The input laid out as the window sees it (padding, and zeros between cells if transposed)."""
    (rows, row_kind), (cols, col_kind) = (_axis(n, kernel_size, spec) for n in grid.shape)
    kinds = np.maximum(row_kind[:, None], col_kind[None, :])  # padding beats hole beats input
    values = np.where(kinds == INPUT, grid[np.maximum(rows, 0)][:, np.maximum(cols, 0)], 0.0)
    return Canvas(values.astype(float), kinds, rows, cols)


# ---- one step -----------------------------------------------------------------------------


def _check_numbers(name: str, array: np.ndarray, square: bool, limit: int) -> np.ndarray:
    array = np.asarray(array, dtype=float)
    if array.ndim != 2 or min(array.shape) < 1 or max(array.shape) > limit:
        raise ConvolutionError(f"the {name} must be a table of 1 to {limit} rows and columns")
    if square and array.shape[0] != array.shape[1]:
        raise ConvolutionError(f"the {name} must be square, not {array.shape[0]}×{array.shape[1]}")
    if not np.isfinite(array).all():
        raise ConvolutionError(f"every cell of the {name} needs a number")
    return array


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
    products = canvas.values[np.ix_(tap_rows, tap_cols)] * taps
    total = float(products.sum() + spec.bias)
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


# ---- input grids --------------------------------------------------------------------------


def step_latex(step: ConvStep, bias: float, max_terms: int = 16) -> str:
    """The step's sum written out: value·tap + ... + bias = total (shortened for big kernels)."""
    values = step.canvas.values[np.ix_(step.tap_rows, step.tap_cols)].ravel()
    pairs = [(v, t) for v, t in zip(values, step.taps.ravel(), strict=True)]
    terms = [rf"{_num(v)}\cdot{_paren(t)}" for v, t in pairs[:max_terms]]
    if len(pairs) > max_terms:
        terms.append(rf"\dots ({len(pairs) - max_terms}\text{{ more}})")
    return " + ".join(terms) + rf" + {_paren(bias)} = {_num(step.total)}"


def _num(value: float) -> str:
    return f"{value:.4g}" if abs(value - round(value)) > 1e-9 else str(int(round(value)))


def _paren(value: float) -> str:
    return f"({_num(value)})" if value < 0 else _num(value)


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


# ---- dilated kernels ----------------------------------------------------------------------

MAX_RATE, MAX_LAYERS, MAX_FIELD = 16, 8, 257


def effective_size(kernel_size: int, dilation: int) -> int:
    """The span a dilated kernel covers: D·(K−1) + 1."""
    return dilation * (kernel_size - 1) + 1


def dilated_footprint(kernel_size: int, dilation: int) -> np.ndarray:
    """(E, E) booleans: True where a K×K kernel at dilation D reads a pixel."""
    _check_int("kernel size", kernel_size, 1, MAX_KERNEL_SIDE)
    _check_int("dilation", dilation, 1, MAX_RATE)
    mask = np.zeros((effective_size(kernel_size, dilation),) * 2, dtype=bool)
    mask[::dilation, ::dilation] = True
    return mask


@dataclass(frozen=True)
class StackResult:
    rates: tuple[int, ...]
    kernel_size: int
    fields: tuple[int, ...]  # receptive field side after each dilated layer
    plain_fields: tuple[int, ...]  # the same stack with every rate 1
    paths: np.ndarray  # (RF, RF) number of paths from each input pixel to the last unit

    @property
    def seen_share(self) -> float:
        """The share of pixels inside the receptive field that the unit can see at all."""
        return float((self.paths > 0).mean())


def parse_rates(text: str) -> tuple[int, ...]:
    """Dilation rates typed as "1, 2, 4, 8"."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise ConvolutionError(
            'type the rates as whole numbers separated by commas, e.g. "1, 2, 4"'
        )
    rates = tuple(int(p) for p in parts)
    if len(rates) > MAX_LAYERS or not all(1 <= r <= MAX_RATE for r in rates):
        raise ConvolutionError(f"use 1 to {MAX_LAYERS} rates, each from 1 to {MAX_RATE}")
    return rates


def compute_dilated_stack(kernel_size: int, rates: tuple[int, ...]) -> StackResult:
    """Receptive fields of a stack of stride-1 dilated convs, and the exact pixels it sees.

    Each layer's full (transposed) convolution with a ones kernel spreads one unit back over
    the pixels it reads, so the final map counts the paths from each input pixel.
    """
    _check_int("kernel size", kernel_size, 1, MAX_KERNEL_SIDE)
    fields = tuple(
        1 + sum(r * (kernel_size - 1) for r in rates[: i + 1]) for i in range(len(rates))
    )
    if fields and fields[-1] > MAX_FIELD:
        raise ConvolutionError(
            f"that stack sees {fields[-1]} pixels across; keep it under {MAX_FIELD}"
        )
    ones = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    paths = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    for rate in rates:
        paths = F.conv_transpose2d(paths, ones, dilation=rate)
    plain = tuple(1 + (i + 1) * (kernel_size - 1) for i in range(len(rates)))
    return StackResult(rates, kernel_size, fields, plain, paths[0, 0].round().long().numpy())


# ---- kernels on real images ---------------------------------------------------------------


@dataclass(frozen=True)
class KernelSpec:
    name: str = "Sobel x"
    size: int = 3  # side of the kernel; the fixed 3×3 kernels sit in the middle of bigger ones
    sigma: float = 1.0  # Gaussian and Gabor: width of the bell, in pixels
    angle: float = 0.0  # Gabor: direction of the stripes, in degrees
    frequency: float = 0.25  # Gabor: stripes per pixel


_FIXED = {
    "Sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "Sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "Emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def _grid(spec: KernelSpec) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(spec.size) - (spec.size - 1) / 2
    return np.meshgrid(r, r, indexing="ij")  # (y, x)


def _gaussian(spec: KernelSpec) -> np.ndarray:
    y, x = _grid(spec)
    g = np.exp(-(x**2 + y**2) / (2 * spec.sigma**2))
    return g / g.sum()


def _gabor(spec: KernelSpec) -> np.ndarray:
    y, x = _grid(spec)
    theta = np.deg2rad(spec.angle)
    along = x * np.cos(theta) + y * np.sin(theta)
    g = np.exp(-(x**2 + y**2) / (2 * spec.sigma**2)) * np.cos(2 * np.pi * spec.frequency * along)
    return g - g.mean()  # zero mean: flat regions give 0, only stripes answer


def _identity(spec: KernelSpec) -> np.ndarray:
    k = np.zeros((spec.size, spec.size))
    k[spec.size // 2, spec.size // 2] = 1.0
    return k


KERNELS = {
    "Identity": _identity,
    "Ones": lambda s: np.ones((s.size, s.size)),
    "Box blur": lambda s: np.full((s.size, s.size), 1 / s.size**2),
    "Gaussian": _gaussian,
    **{name: None for name in _FIXED},
    "Gabor": _gabor,
}


def build_kernel(spec: KernelSpec) -> np.ndarray:
    """The (K, K) kernel a preset describes."""
    if spec.name not in KERNELS:
        raise ConvolutionError(f"unknown kernel {spec.name!r}; choose one of {', '.join(KERNELS)}")
    _check_int("kernel size", spec.size, 1, MAX_KERNEL_SIDE)
    if not (0.1 <= spec.sigma <= 10 and 0 <= spec.frequency <= 1):
        raise ConvolutionError("sigma must be 0.1 to 10 pixels and frequency 0 to 1 per pixel")
    if spec.name in _FIXED:
        if spec.size < 3:
            raise ConvolutionError(f"{spec.name} is a 3×3 kernel; choose a size of 3 or more")
        k = np.zeros((spec.size, spec.size))
        at = (spec.size - 3) // 2
        k[at : at + 3, at : at + 3] = _FIXED[spec.name]
        return k
    return np.asarray(KERNELS[spec.name](spec), dtype=float)


def image_array(image: Image.Image, max_side: int = 512) -> np.ndarray:
    """(3, H, W) float32 pixels in [0, 1], shrunk so the longer side is at most `max_side`."""
    image = image.convert("RGB")
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0


@dataclass(frozen=True)
class FilterResult:
    channels: np.ndarray  # (3, H, W) the kernel on red, green and blue alone
    summed: np.ndarray  # (H, W) their sum plus bias, after ReLU if asked


def apply_kernel(pixels: np.ndarray, kernel: np.ndarray, bias: float, relu: bool) -> FilterResult:
    """One output channel of a conv layer whose three input kernels are all `kernel`."""
    kernel = _check_numbers("kernel", kernel, True, MAX_KERNEL_SIDE)
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]  # (1, 3, H, W)
    w = torch.from_numpy(kernel.astype(np.float32))[None, None].expand(3, 1, -1, -1)
    with torch.inference_mode():
        per = F.conv2d(x, w, padding="same", groups=3)[0]  # (3, H, W)
        summed = per.sum(0) + float(bias)
        if relu:
            summed = summed.clamp_min(0)
    return FilterResult(per.numpy(), summed.numpy())


@dataclass(frozen=True)
class LayerResult:
    maps: np.ndarray  # (N, H, W) one map per kernel
    kernel_size: int  # every kernel padded to this side, as one layer needs
    conv_params: int  # N·(3·K·K + 1)
    dense_params: int  # a dense layer from the same image to the same N maps

    @property
    def ratio(self) -> float:
        """How many times more numbers the dense layer needs."""
        return self.dense_params / self.conv_params


def compute_layer(pixels: np.ndarray, specs: list[KernelSpec], relu: bool) -> LayerResult:
    """Several kernels as one conv layer (3 input channels, one output per kernel)."""
    if not specs:
        raise ConvolutionError("choose at least one kernel for the layer")
    kernels = [build_kernel(spec) for spec in specs]
    k = max(kern.shape[0] for kern in kernels)
    stack = np.zeros((len(kernels), 3, k, k), dtype=np.float32)
    for i, kern in enumerate(kernels):
        at = (k - kern.shape[0]) // 2
        stack[i, :, at : at + kern.shape[0], at : at + kern.shape[0]] = kern
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]
    with torch.inference_mode():
        maps = F.conv2d(x, torch.from_numpy(stack), padding="same")[0]
        maps = maps.clamp_min(0) if relu else maps
    _, h, w = pixels.shape
    n = len(kernels)
    return LayerResult(
        maps.numpy(), k, n * (3 * k * k + 1), dense_equivalent_params((3, h, w), (n, h, w))
    )


def map_png(array: np.ndarray) -> bytes:
    """A response map stretched to 0..255 grey, as PNG bytes for download."""
    lo, hi = float(array.min()), float(array.max())
    scaled = (array - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(array)
    buffer = io.BytesIO()
    Image.fromarray(scaled.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


CASES: dict[str, ConvCase] = _cases()

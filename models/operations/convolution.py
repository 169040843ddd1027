"""Convolution arithmetic with every number visible: the settings, output sizes and the canvas.

The step-by-step view slides a kernel over a "canvas": the input with its padding for a
convolution, or, for a transposed convolution, the input with (stride − 1) zeros between cells
and D·(K−1) − P cells of padding around it, read by the flipped kernel (Dumoulin and Visin, "A
guide to convolution arithmetic for deep learning", 2016). models/operations/convolution_step.py
lays the window on the canvas; models/operations/kernels.py holds dilated stacks, preset
kernels and real images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.errors import CNNLabError
from models.network import formulas
from models.network.formulas import Formula

INPUT, PADDING, HOLE = 0, 1, 2  # what a canvas cell is: an input value, padding, an inserted zero
MAX_GRID = 12
MAX_KERNEL_SIDE = 7
MAX_SETTING = 8  # stride, padding and dilation of the step-by-step view


class ConvolutionError(CNNLabError):
    """Settings or numbers that cannot be convolved, with a reason a user can read."""


def _check_int(name: str, value: int, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConvolutionError(f"{name} must be a whole number, not {value!r}")
    if not low <= value <= high:
        raise ConvolutionError(f"{name} must be between {low} and {high}, not {value}")


def _check_numbers(name: str, array: np.ndarray, square: bool, limit: int) -> np.ndarray:
    array = np.asarray(array, dtype=float)
    if array.ndim != 2 or min(array.shape) < 1 or max(array.shape) > limit:
        raise ConvolutionError(f"the {name} must be a table of 1 to {limit} rows and columns")
    if square and array.shape[0] != array.shape[1]:
        raise ConvolutionError(f"the {name} must be square, not {array.shape[0]}×{array.shape[1]}")
    if not np.isfinite(array).all():
        raise ConvolutionError(f"every cell of the {name} needs a number")
    return array


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
        side = int(
            formulas.conv_output_size(
                case.side, case.kernel_size, s.stride, s.padding, s.dilation
            ).value
        )
        back = StepSpec(s.stride, s.padding, s.dilation, True)
        extra = case.side - transposed_out(side, case.kernel_size, back)
        spec = StepSpec(s.stride, s.padding, s.dilation, True, output_padding=extra)
        cases[f"{name}, transposed"] = ConvCase(side, case.kernel_size, spec)
    return cases


# ---- output size --------------------------------------------------------------------------


@dataclass(frozen=True)
class AxisSize:
    """The output length along one axis, its formula, and what is never read."""

    formula: Formula  # PyTorch's rule with this axis's numbers; its value is the length
    naive: Formula | None  # the textbook (W − K + 2P)/S + 1, unrounded; None for transposed
    note: str  # what rounding did, in words ("" when the division is exact)
    unread: tuple[int, ...]  # input indices along this axis that no window reads
    reads: tuple[int, ...]  # how many windows read each input index along this axis
    pool_floor: Formula | None  # max pooling with the same K, S, P; None when PyTorch refuses
    pool_ceil: Formula | None

    @property
    def exact(self) -> int:
        return int(self.formula.value)


def transposed_out(w: int, k: int, s: StepSpec) -> int:
    """PyTorch's conv_transpose2d output length."""
    f = formulas.transposed_output_size(w, k, s.stride, s.padding, s.dilation, s.output_padding)
    return int(f.value)


def _pool(w: int, k: int, s: StepSpec, ceil: bool) -> Formula | None:
    if s.transposed or 2 * s.padding > k:
        return None
    out = formulas.pool_output_size(w, k, s.stride, s.padding, ceil)
    return out if out.value >= 1 else None


def axis_size(length: int, kernel_size: int, spec: StepSpec) -> AxisSize:
    """Everything the page says about one axis (height or width)."""
    k, s = kernel_size, spec
    if spec.transposed:
        formula = formulas.transposed_output_size(
            length, k, s.stride, s.padding, s.dilation, s.output_padding
        )
        naive, note = None, ""
    else:
        formula = formulas.conv_output_size(length, k, s.stride, s.padding, s.dilation)
        naive = formulas.textbook_output_size(length, k, s.stride, s.padding)
        note = formulas.rounding_note(length, k, s.stride, s.padding, s.dilation)
    out = int(formula.value)
    counts = np.zeros(length, dtype=int)
    if out >= 1:
        counts = _read_counts(_axis(length, k, spec)[0], length, k, spec, out)
    unread = tuple(int(i) for i in np.flatnonzero(counts == 0))
    pools = (_pool(length, k, spec, False), _pool(length, k, spec, True))
    return AxisSize(formula, naive, note, unread, tuple(int(c) for c in counts), *pools)


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


CASES: dict[str, ConvCase] = _cases()

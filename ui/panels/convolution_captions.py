"""The Convolution page's captions: each figure's key numbers, in words, computed from the
same arrays the figure draws (issue 21: a text equivalent beside every figure)."""

from __future__ import annotations

import numpy as np

from models.operations import kernels as kern


def _times(n: int, word: str = "time") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def coverage_caption(coverage: np.ndarray, out_shape: tuple[int, int]) -> str:
    """The coverage figure's key numbers: the output size, the most and least read input
    cells, and how many input cells no window reads. `coverage` is what the figure draws."""
    h, w = coverage.shape
    most = int(coverage.max())
    r, c = (int(i) for i in np.argwhere(coverage == most)[0])
    ties = int((coverage == most).sum())
    read = coverage[coverage > 0]
    least = int(read.min()) if read.size else 0
    never = int((coverage == 0).sum())
    shared = f" (and {ties - 1} more as often)" if ties > 1 else ""
    return (
        f"Output {out_shape[0]}×{out_shape[1]} from a {h}×{w} input. The most-read input cell, "
        f"row {r}, column {c}{shared}, is read {_times(most)}; the least-read one, "
        f"{_times(least)}. {never} of the {h * w} input cells "
        f"{'is' if never == 1 else 'are'} never read."
    )


def footprint_caption(mask: np.ndarray) -> str:
    """The footprint figure's key numbers: taps, span, pixels skipped and the gap between taps."""
    side, taps = mask.shape[0], int(mask.sum())
    cols = np.flatnonzero(mask[0])
    gap = int(cols[1] - cols[0] - 1) if cols.size > 1 else 0
    return (
        f"{_times(taps, 'tap')} spread over a {side}×{side} span: {taps} of its {side * side} "
        f"pixels ({taps / (side * side):.0%}) are read and {side * side - taps} skipped, with "
        f"{_times(gap, 'pixel')} between neighbouring taps."
    )


def layer_caption(maps: np.ndarray, names: list[str]) -> str:
    """The layer figure's numbers: each kernel's map range on the one shared colour scale, and
    which kernel answers most strongly."""
    if not len(names):
        return "Pick kernels above to see one map per kernel."
    ranges = "; ".join(
        f"{name} from {m.min():.3g} to {m.max():.3g}" for name, m in zip(names, maps, strict=True)
    )
    strongest = int(np.abs(maps).reshape(len(names), -1).max(axis=1).argmax())
    return (
        f"One {maps.shape[1]}×{maps.shape[2]} map per kernel, on one colour scale: {ranges}. "
        f"The strongest response is {names[strongest]}'s."
    )


def growth_caption(stack: kern.StackResult) -> str:
    """The receptive-field growth figure's numbers: the field after each layer, both ways."""
    rates = ", ".join(map(str, stack.rates))
    return (
        f"Receptive field side after each layer, rates {rates}: "
        f"{', '.join(map(str, stack.fields))} pixels; with every rate 1: "
        f"{', '.join(map(str, stack.plain_fields))}."
    )


def paths_caption(stack: kern.StackResult) -> str:
    """The paths figure's numbers: how much of the field the last unit sees, and how unevenly."""
    side = stack.paths.shape[0]
    seen = int((stack.paths > 0).sum())
    return (
        f"The last unit's field is {side}×{side} = {side * side} pixels; it sees {seen} of them "
        f"({stack.seen_share:.0%}). The best-connected pixel reaches it by "
        f"{_times(int(stack.paths.max()), 'path')}."
    )

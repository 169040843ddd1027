"""Pooling: shrink a map by keeping one number per window (the largest, the mean or a p-norm).

Everything here runs PyTorch's own pooling (`F.max_pool2d`, `F.avg_pool2d`, `F.lp_pool2d`, the
adaptive pools); the index maths only says which inputs each output looked at, so a page can
show the windows next to the numbers torch produced.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models.errors import CNNLabError
from models.spec import pool_out

MODES = {"max": "max pooling", "avg": "average pooling", "lp": "power-average (LP) pooling"}


class PoolError(CNNLabError):
    """Pooling settings that PyTorch refuses, with a reason a user can read."""


@dataclass(frozen=True)
class PoolSettings:
    mode: str = "max"  # a key of MODES
    kernel: int = 2  # window side in cells
    stride: int = 2  # step between windows in cells
    padding: int = 0  # cells added on each side (-inf for max, 0 for average)
    ceil_mode: bool = False  # keep a last window that hangs over the edge
    norm: float = 2.0  # the p of LP pooling: 1 is a sum, large p approaches max

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise PoolError(f"pooling mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.kernel < 1 or self.stride < 1 or self.padding < 0:
            raise PoolError("the window and the stride must be at least 1, padding at least 0")
        if self.padding * 2 > self.kernel:
            raise PoolError(
                f"padding ({self.padding}) can be at most half the window ({self.kernel}); "
                "PyTorch refuses more, since a window could then hold only padding"
            )
        if self.mode == "lp" and self.padding:
            raise PoolError("PyTorch's LP pooling has no padding; set padding to 0")
        if self.mode == "lp" and not 0 < self.norm <= 64:
            raise PoolError("the LP norm p must be above 0 and at most 64")

    def out_side(self, size: int) -> int:
        """Output length along a side of `size` cells (spec.pool_out: PyTorch's formula)."""
        return pool_out(size, self.kernel, self.stride, self.padding, self.ceil_mode)


def apply_pool(x: torch.Tensor, s: PoolSettings) -> torch.Tensor:
    """Pool an (N, C, H, W) tensor with torch; raises PoolError when the input is too small."""
    h, w = x.shape[-2:]
    if s.out_side(h) < 1 or s.out_side(w) < 1:
        raise PoolError(f"a {s.kernel}×{s.kernel} window does not fit a {h}×{w} input")
    if s.mode == "max":
        return F.max_pool2d(x, s.kernel, s.stride, s.padding, ceil_mode=s.ceil_mode)
    if s.mode == "avg":
        return F.avg_pool2d(x, s.kernel, s.stride, s.padding, ceil_mode=s.ceil_mode)
    if s.norm != int(s.norm) and bool((x < 0).any()):
        raise PoolError("LP pooling with a fractional p is undefined for negative values "
                        "(this map has some); pick a whole-number p or another map")  # fmt: skip
    return F.lp_pool2d(x, s.norm, s.kernel, s.stride, ceil_mode=s.ceil_mode)


def to_csv(values: np.ndarray) -> str:
    """A 2-D array as CSV text, one row per line."""
    return "\n".join(",".join(f"{v:.6g}" for v in row) for row in np.atleast_2d(values)) + "\n"


@dataclass(frozen=True)
class GridPooling:
    """A small grid pooled: the output, each output's window, and the winners of max pooling."""

    grid: np.ndarray  # (H, W) input
    output: np.ndarray  # (OH, OW)
    windows: tuple[tuple[tuple[int, int, int, int], ...], ...]  # [i][j] = (r0, r1, c0, c1)
    winners: np.ndarray | None  # (OH, OW) flat index into the input of the winning cell

    def cells(self, i: int, j: int) -> list[tuple[int, int]]:
        """The input cells (row, col) under output (i, j)'s window, padding left out."""
        r0, r1, c0, c1 = self.windows[i][j]
        return [(r, c) for r in range(r0, r1) for c in range(c0, c1)]


def _window(index: int, s: PoolSettings, size: int) -> tuple[int, int]:
    start = index * s.stride - s.padding
    return max(start, 0), min(start + s.kernel, size)


def pool_grid(grid: np.ndarray, s: PoolSettings) -> GridPooling:
    """Pool a 2-D grid with torch and say which cells each output pooled (and which won)."""
    x = torch.as_tensor(np.asarray(grid, dtype=np.float32))[None, None]
    h, w = x.shape[-2:]
    out = apply_pool(x, s)
    winners = None
    if s.mode == "max":
        _, idx = F.max_pool2d(x, s.kernel, s.stride, s.padding, ceil_mode=s.ceil_mode,
                              return_indices=True)  # fmt: skip
        winners = idx[0, 0].numpy()
    oh, ow = out.shape[-2:]
    windows = tuple(tuple(_window(i, s, h) + _window(j, s, w) for j in range(ow))
                    for i in range(oh))  # fmt: skip
    return GridPooling(np.asarray(grid), out[0, 0].numpy(), windows, winners)


def sample_grid(side: int = 6, seed: int = 0) -> np.ndarray:
    """A side×side grid of whole numbers 0..9, the same for the same seed."""
    return np.random.default_rng(seed).integers(0, 10, size=(side, side)).astype(np.float32)


@dataclass(frozen=True)
class PoolReport:
    """What pooling did to a map: sizes, how many inputs were never looked at or never won."""

    in_shape: tuple[int, int]
    out_shape: tuple[int, int]
    unseen_share: float  # inputs no window covers (stride larger than the window, dropped edge)
    kept_share: float  # outputs ÷ inputs: how much smaller the map is
    discarded_share: float  # inputs that reach no output: never won (max), or unseen (avg, LP)
    output: np.ndarray  # (OH, OW): the first channel of the pooled map


def _covered(s: PoolSettings, size: int) -> np.ndarray:
    seen = np.zeros(size, dtype=bool)
    for i in range(s.out_side(size)):
        a, b = _window(i, s, size)
        seen[a:b] = True
    return seen


def pool_report(x: torch.Tensor, s: PoolSettings) -> PoolReport:
    """Sizes and shares for pooling an (N, C, H, W) tensor; max pooling counts real winners."""
    h, w = x.shape[-2:]
    out = apply_pool(x, s)
    oh, ow = out.shape[-2:]
    seen = np.outer(_covered(s, h), _covered(s, w))
    unseen = 1.0 - float(seen.mean())
    discarded = unseen
    if s.mode == "max":
        _, idx = F.max_pool2d(x, s.kernel, s.stride, s.padding, ceil_mode=s.ceil_mode,
                              return_indices=True)  # fmt: skip
        flat = idx.flatten(2)  # (N, C, OH*OW) indices into each H*W map
        won = torch.zeros(*flat.shape[:2], h * w, dtype=torch.bool).scatter_(2, flat, True)
        discarded = 1.0 - won.float().mean().item()
    return PoolReport((h, w), (oh, ow), unseen, oh * ow / (h * w), discarded, out[0, 0].numpy())


def size_formula(size: int, s: PoolSettings) -> str:
    """PyTorch's output-length formula with the numbers filled in, as LaTeX."""
    left, right = ("lceil", "rceil") if s.ceil_mode else ("lfloor", "rfloor")
    value, plain = s.out_side(size), -(-(size + 2 * s.padding - s.kernel) // s.stride) + 1
    dropped = s.ceil_mode and value != plain  # the last window would start in the padding
    note = r" \;(\text{a last window starting in the padding is dropped})" if dropped else ""
    return (
        rf"O = \left\{left} \frac{{W + 2P - K}}{{S}} \right\{right} + 1 = "
        rf"\left\{left} \frac{{{size} + 2 \cdot {s.padding} - {s.kernel}}}{{{s.stride}}}"
        rf" \right\{right} + 1 = {value}{note}"
    )


def global_pool(x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Global average and global max of each channel of one (1, C, H, W) map: two (C,) arrays."""
    avg = F.adaptive_avg_pool2d(x, 1).flatten()
    top = F.adaptive_max_pool2d(x, 1).flatten()
    return avg.numpy(), top.numpy()


def spatial_pyramid(x: torch.Tensor, levels: tuple[int, ...], mode: str = "max") -> torch.Tensor:
    """Spatial pyramid pooling (He et al., 2014): an n×n grid of pools per level, concatenated.

    (N, C, H, W) -> (N, C · Σ n²), whatever H and W are.
    """
    if not levels or min(levels) < 1:
        raise PoolError("pick at least one pyramid level, each at least 1")
    pool = F.adaptive_max_pool2d if mode == "max" else F.adaptive_avg_pool2d
    return torch.cat([pool(x, n).flatten(1) for n in levels], dim=1)


@dataclass(frozen=True)
class PyramidResult:
    sizes: tuple[tuple[int, int], ...]  # input (H, W) of each version
    vectors: np.ndarray  # (len(sizes), C · Σ n²)
    levels: tuple[int, ...]


def compute_pyramid(x: torch.Tensor, levels: tuple[int, ...],
                    scales: tuple[float, ...] = (1.0, 0.75, 0.5)) -> PyramidResult:  # fmt: skip
    """The same map resized to several sizes, each pooled into one fixed-length vector."""
    h, w = x.shape[-2:]
    sizes = tuple((max(1, round(h * f)), max(1, round(w * f))) for f in scales)
    vectors = [spatial_pyramid(F.interpolate(x, size=sz, mode="bilinear"), levels)[0]
               for sz in sizes]  # fmt: skip
    return PyramidResult(sizes, torch.stack(vectors).numpy(), tuple(levels))


# ---------------------------------------------------------------- sources and translation

EDGE_KERNELS = torch.tensor([
    [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],  # vertical edges (Sobel)
    [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],  # horizontal edges
    [[0, 1, 2], [-1, 0, 1], [-2, -1, 0]],  # one diagonal
    [[2, 1, 0], [1, 0, -1], [0, -1, -2]],  # the other
], dtype=torch.float32)[:, None]  # (4, 1, 3, 3)  # fmt: skip


def image_map(image, max_side: int = 96, gray: bool = True) -> torch.Tensor:
    """A PIL image as a (1, C, H, W) map in [0, 1] (C = 1 gray or 3), longer side ≤ max_side."""
    picture = image.convert("L" if gray else "RGB")
    scale = min(1.0, max_side / max(picture.size))
    if scale < 1.0:
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        picture = picture.resize(size)
    pixels = np.asarray(picture, dtype=np.float32) / 255.0
    return torch.from_numpy(pixels.reshape(*pixels.shape[:2], -1)).permute(2, 0, 1)[None]


def conv_layer_names(model: torch.nn.Module) -> list[str]:
    """The `named_modules()` names of the model's 2-D convolutions, in order."""
    return [name for name, m in model.named_modules() if isinstance(m, torch.nn.Conv2d)]


def feature_map(bundle, image, layer: str) -> torch.Tensor:
    """A conv layer's output for the image, (1, C, H, W); hooks run under the model's lock."""
    from models.activations import ActivationError, capture_activations, prepare_input

    try:
        cap = capture_activations(bundle, prepare_input(image, bundle), [layer])
    except (ActivationError, RuntimeError) as err:
        raise PoolError(f"the model could not give {layer}'s output: {err}") from None
    return cap.outputs[layer].float().cpu()


def channel(maps: torch.Tensor, index: int) -> torch.Tensor:
    """Channel `index` of a (1, C, H, W) map as (1, 1, H, W)."""
    if not 0 <= index < maps.shape[1]:
        raise PoolError(f"the map has {maps.shape[1]} channels; channel {index} does not exist")
    return maps[:, index : index + 1]


@dataclass(frozen=True)
class TranslationResult:
    shifts: np.ndarray  # (S,) pixels
    similarity: dict[str, np.ndarray]  # method -> (S,) cosine similarity to the unshifted


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return min(1.0, F.cosine_similarity(a.flatten(), b.flatten(), dim=0, eps=1e-8).item())


def translation_similarity(gray: torch.Tensor, max_shift: int, kernel: int = 2,
                           seed: int = 0) -> TranslationResult:  # fmt: skip
    """How much downsampled features change as the view slides 0..max_shift pixels right.

    Edge features (fixed Sobel-like kernels, ReLU) are downsampled by `kernel` three ways: max
    pooling, average pooling and a strided convolution with seeded random weights; each is
    compared with the unshifted view by cosine similarity.
    """
    width = gray.shape[-1] - max_shift
    if max_shift < 0 or width < kernel:
        raise PoolError(f"the image is too narrow to shift it by {max_shift} pixels")
    feats = F.relu(F.conv2d(gray, EDGE_KERNELS, padding=1))  # (1, 4, H, W)
    weight = torch.randn(4, 4, kernel, kernel, generator=torch.Generator().manual_seed(seed))
    methods = {
        "max pooling": lambda f: F.max_pool2d(f, kernel),
        "average pooling": lambda f: F.avg_pool2d(f, kernel),
        "strided convolution": lambda f: F.conv2d(f, weight, stride=kernel),
    }
    views = [feats[..., s : s + width] for s in range(max_shift + 1)]
    sims = {name: np.array([_cosine(down(v), down(views[0])) for v in views])
            for name, down in methods.items()}  # fmt: skip
    return TranslationResult(np.arange(max_shift + 1), sims)

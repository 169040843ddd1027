"""Pooling: shrink a map by keeping one number per window (the largest, the mean or a p-norm).

Everything here runs PyTorch's own pooling (`F.max_pool2d`, `F.avg_pool2d`, `F.lp_pool2d`, the
adaptive pools); the index maths only says which inputs each output looked at, so a page can
show the windows next to the numbers torch produced. The shift experiment at the end measures
what downsampling does to shifted pictures, after Zhang, "Making convolutional networks
shift-invariant again" (ICML 2019).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.network import formulas

# LP pooling is a power sum, (Σ x^p)^(1/p), not a mean: p = 1 adds the window up.
MODES = {"max": "max pooling", "avg": "average pooling", "lp": "LP pooling (p-norm of the window)"}


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

    def size_formula(self, size: int) -> formulas.Formula:
        """PyTorch's output-length formula for a side of `size` cells, with its numbers."""
        return formulas.pool_output_size(
            size, self.kernel, self.stride, self.padding, self.ceil_mode
        )

    def size_note(self, size: int) -> str:
        """What rounding did to that side's output length, in words ("" when nothing)."""
        return formulas.rounding_note(
            size, self.kernel, self.stride, self.padding, ceil_mode=self.ceil_mode
        )

    def out_side(self, size: int) -> int:
        """Output length along a side of `size` cells: the value of `size_formula`."""
        return int(self.size_formula(size).value)


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
        raise PoolError(
            "LP pooling with a fractional p is undefined for negative values "
            "(this map has some); pick a whole-number p or another map"
        )
    # float64: x**p overflows float32 for p = 64 and values above 4
    out = F.lp_pool2d(x.double(), s.norm, s.kernel, s.stride, ceil_mode=s.ceil_mode)
    return out.to(x.dtype)


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
        _, idx = F.max_pool2d(
            x, s.kernel, s.stride, s.padding, ceil_mode=s.ceil_mode, return_indices=True
        )
        winners = idx[0, 0].numpy()
    oh, ow = out.shape[-2:]
    windows = tuple(
        tuple(_window(i, s, h) + _window(j, s, w) for j in range(ow)) for i in range(oh)
    )
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
        _, idx = F.max_pool2d(
            x, s.kernel, s.stride, s.padding, ceil_mode=s.ceil_mode, return_indices=True
        )
        flat = idx.flatten(2)  # (N, C, OH*OW) indices into each H*W map
        won = torch.zeros(*flat.shape[:2], h * w, dtype=torch.bool).scatter_(2, flat, True)
        discarded = 1.0 - won.float().mean().item()
    return PoolReport((h, w), (oh, ow), unseen, oh * ow / (h * w), discarded, out[0, 0].numpy())


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

    @property
    def length(self) -> formulas.Formula:
        """C·(n₁² + n₂² + …), the vectors' length as a formula; its value is vectors.shape[1]."""
        per_channel = sum(n * n for n in self.levels)
        return formulas.pyramid_length(self.vectors.shape[1] // per_channel, self.levels)


def compute_pyramid(
    x: torch.Tensor, levels: tuple[int, ...], scales: tuple[float, ...] = (1.0, 0.75, 0.5)
) -> PyramidResult:
    """The same map resized to several sizes, each pooled into one fixed-length vector."""
    h, w = x.shape[-2:]
    sizes = tuple((max(1, round(h * f)), max(1, round(w * f))) for f in scales)
    vectors = [
        spatial_pyramid(F.interpolate(x, size=sz, mode="bilinear"), levels)[0] for sz in sizes
    ]
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
    from models.inspect.activations import ActivationError, capture_activations, prepare_input

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


# ---------------------------------------------------------------- shifts (Zhang, 2019)

NO_DOWNSAMPLING = "no downsampling"
BLUR_POOL = "max, blur, subsample (Zhang)"


def _circular(x: torch.Tensor, before: int, after: int) -> torch.Tensor:
    return F.pad(x, (before, after, before, after), mode="circular")


def _edges(x: torch.Tensor, stride: int = 1) -> torch.Tensor:
    """Edge features, wrapping around the borders: (1, 1, H, W) -> (1, 4, H/stride, W/stride)."""
    return F.relu(F.conv2d(_circular(x, 1, 1), EDGE_KERNELS, stride=stride))


def _blur_subsample(m: torch.Tensor, f: int) -> torch.Tensor:
    """Zhang's anti-aliasing: a triangle filter of side 2f − 1, then keep every f-th cell."""
    ramp = torch.cat([torch.arange(1.0, f + 1), torch.arange(f - 1.0, 0, -1)])
    kernel = torch.outer(ramp, ramp) / ramp.sum() ** 2
    weight = kernel.expand(m.shape[1], 1, -1, -1)
    return F.conv2d(_circular(m, f - 1, f - 1), weight, stride=f, groups=m.shape[1])


def _downsamplers(f: int) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """Each way of going from a picture to a map, by name; all but the first shrink it f times."""
    return {
        NO_DOWNSAMPLING: _edges,
        "strided convolution": lambda x: _edges(x, stride=f),
        "max pooling": lambda x: F.max_pool2d(_edges(x), f),
        "average pooling": lambda x: F.avg_pool2d(_edges(x), f),
        BLUR_POOL: lambda x: _blur_subsample(F.max_pool2d(_circular(_edges(x), 0, f - 1), f, 1), f),
    }


@dataclass(frozen=True)
class ModelShift:
    """A model's answer as the picture slides right, one entry per shift."""

    name: str
    trained: bool
    label: str  # the answer for the unshifted picture
    answers: tuple[str, ...]  # the answer at each shift
    probability: np.ndarray  # (S,) the probability of `label` at each shift
    stride: int | None  # the network's total stride (its grid), when its spec says


@dataclass(frozen=True)
class ShiftResult:
    shifts: np.ndarray  # (S,) pixels to the right, 0..max_shift
    factor: int  # how many times each downsampling shrinks a side
    similarity: dict[str, np.ndarray]  # method -> (S,) cosine similarity, aligned on its grid
    model: ModelShift | None

    def on_grid(self, step: int) -> np.ndarray:
        """(S,) True for the shifts (other than 0) that are whole steps of `step` pixels."""
        return (self.shifts > 0) & (self.shifts % step == 0)


def _cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return min(1.0, F.cosine_similarity(a.flatten(), b.flatten(), dim=0, eps=1e-8).item())


def _aligned(down: Callable, x: torch.Tensor, max_shift: int, grid: int) -> np.ndarray:
    """(S,) similarity of each shifted picture's map to the unshifted map moved on its grid.

    A shift that falls between two cells of the grid gets the better of the two moves.
    """
    shifts = range(max_shift + 1)
    maps = down(torch.cat([torch.roll(x, s, dims=-1) for s in shifts]))  # (S, C, h, w)
    return np.array(
        [
            max(
                _cosine(maps[s], torch.roll(maps[0], o, dims=-1))
                for o in {s // grid, -(-s // grid)}
            )
            for s in shifts
        ]
    )


def _model_shift(bundle: ModelBundle, image, max_shift: int) -> ModelShift:
    from models.inputs import bundle_input, guarded

    x = bundle_input(bundle, image)  # (1, C, H, W)
    w = x.shape[-1]
    batch = torch.cat(
        [F.pad(x, (s, 0, 0, 0), mode="replicate")[..., :w] for s in range(max_shift + 1)]
    )
    with guarded(bundle) as model, torch.no_grad():  # eval mode, then each module as it was
        probs = torch.softmax(model(batch.to(next(model.parameters()).device)), 1).cpu()
    names, top = bundle.class_names, probs.argmax(1).tolist()
    answers = tuple(names[i] if i < len(names) else f"class {i}" for i in top)
    stride = None
    if bundle.spec is not None:
        stride = int(
            np.prod([s for ly in bundle.spec.layers for _, _, s in formulas.layer_windows(ly)])
        )
    return ModelShift(
        bundle.name, bundle.trained, answers[0], answers, probs[:, top[0]].numpy(), stride
    )


def compute_shifts(
    gray: torch.Tensor,
    max_shift: int,
    factor: int = 2,
    bundle: ModelBundle | None = None,
    image=None,
) -> ShiftResult:
    """How features and a model's answer follow a picture sliding 0..max_shift pixels right.

    Features: four fixed edge filters with ReLU, then each downsampling of `_downsamplers`. The
    picture wraps around as it shifts, so borders play no part and only the grid does: a map
    that moves exactly with the picture scores 1. The model sees the picture slide without
    wrapping (the left edge repeated), as a shifted photograph would.
    """
    h, w = gray.shape[-2:]
    if not 1 <= max_shift <= 32 or factor < 1:
        raise PoolError("the shift must be 1 to 32 pixels and the factor at least 1")
    if min(h, w) < 2 * factor:
        raise PoolError(f"a {h}×{w} picture is too small to downsample {factor} times")
    gray = gray[..., : h - h % factor, : w - w % factor]
    sims = {
        name: _aligned(down, gray, max_shift, 1 if name == NO_DOWNSAMPLING else factor)
        for name, down in _downsamplers(factor).items()
    }
    model = _model_shift(bundle, image, max_shift) if bundle is not None else None
    return ShiftResult(np.arange(max_shift + 1), factor, sims, model)


def _pixels(shifts: np.ndarray) -> str:
    return ", ".join(str(int(s)) for s in shifts) + " px"


def shift_conclusion(result: ShiftResult) -> list[str]:
    """What the measurement shows, in sentences built from its own numbers."""
    sims, f = result.similarity, result.factor
    on, off = result.on_grid(f), (result.shifts % f != 0)
    plain = sims[NO_DOWNSAMPLING]
    lines = [
        f"Without downsampling the edge map moves with the picture: similarity at least "
        f"{plain.min():.2f} at every shift."
        if plain.min() >= 0.99
        else f"Even without downsampling the edge map changes as the picture moves (similarity "
        f"down to {plain.min():.2f})."
    ]
    down = {name: v for name, v in sims.items() if name != NO_DOWNSAMPLING}
    if on.any():
        low, where = min(v[on].min() for v in down.values()), _pixels(result.shifts[on])
        lines.append(
            f"Downsampled {f} times, every map still moves with shifts on its grid "
            f"({where}): similarity at least {low:.2f}."
            if low >= 0.99
            else f"Downsampled {f} times, even shifts on the grid ({where}) change the maps "
            f"(similarity down to {low:.2f})."
        )
    if off.any():
        means = sorted(((v[off].mean(), name) for name, v in down.items()), reverse=True)
        listed = "; ".join(f"{name} {m:.2f}" for m, name in means)
        best = means[0][1][0].upper() + means[0][1][1:]
        lines.append(
            f"Off the grid ({_pixels(result.shifts[off])}) the average similarity is "
            f"{listed}. {best} keeps the most, {means[-1][1]} the least."
        )
        mx, st = down["max pooling"][off].mean(), down["strided convolution"][off].mean()
        verdict = (
            "better than"
            if mx > st + 0.01
            else "worse than"
            if mx < st - 0.01
            else "no better than"
        )
        lines.append(
            f"Max pooling tolerates these shifts {verdict} plain striding here "
            f"({mx:.2f} against {st:.2f})"
            + (", but it is not shift-invariant either." if mx < 0.99 else ".")
        )
    if result.model is not None:
        lines.append(_model_sentence(result.model, result.shifts))
    return lines


def _model_sentence(m: ModelShift, shifts: np.ndarray) -> str:
    p, changed = m.probability, [(int(s), a) for s, a in zip(shifts, m.answers) if a != m.label]
    text = (
        f"The model ({m.name}) answers “{m.label}” for the unshifted picture ({p[0]:.0%}) "
        f"and keeps that answer at {len(shifts) - 1 - len(changed)} of {len(shifts) - 1} "
        "shifts"
    )
    if changed:
        text += "; it answers " + ", ".join(f"“{a}” at {s} px" for s, a in changed[:4])
    text += f". Its probability for “{m.label}” ranges from {p.min():.0%} to {p.max():.0%}."
    if not m.trained:
        text += " This model is untrained, so its answers mean little."
    return text

"""The model-randomization sanity check for attribution maps (Adebayo et al., 2018).

Cascading randomization re-initializes the weight layers one after another, from the output
down to the input, on a private copy of the model, and attributes again after each step. Each
map is compared with the trained model's map by Spearman rank correlation, of the signed map and
of its absolute value, as the paper does. A map that stays the same while the weights it should
explain are destroyed is showing the input, not what the network learned.

The paper draws no line between "changed" and "unchanged": `SIMILAR` is this app's own, used
only to word the verdict, and the page says so.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from models.bundle import ModelBundle
from models.explain.attribution import ATTRIBUTION_METHODS, heatmap

SIMILAR = 0.5  # our line for "still looks the same" (|map| ρ); not Adebayo et al.'s


def weight_layers(model: nn.Module) -> list[str]:
    """Conv and linear layers by name, output side first: the order of the cascade."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)][::-1]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ between two maps; NaN where one is constant and ρ is undefined."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


def randomize_layer(module: nn.Module, gen: torch.Generator) -> None:
    """Redraw a conv's or linear layer's weights and bias as PyTorch initializes them.

    U(−1/√fan_in, 1/√fan_in), PyTorch's default (Kaiming uniform with a = √5), drawn from `gen`
    rather than torch's global generator.
    """
    weight = module.weight
    fan_in = weight[0].numel()
    bound = 1 / math.sqrt(fan_in) if fan_in else 0.0
    with torch.no_grad():
        for param in (weight, module.bias):
            if param is not None:
                fresh = torch.rand(param.shape, generator=gen) * 2 * bound - bound
                param.copy_(fresh.to(param.device, param.dtype))


@dataclass(frozen=True)
class SanityResult:
    """Maps as the weight layers are re-initialized one after another (Adebayo et al., 2018)."""

    steps: tuple[str, ...]  # "trained", then the name of each layer randomized, output first
    layers: tuple[str, ...]  # every weight layer of the model, output side first
    maps: dict[str, list[np.ndarray]]  # method -> |map| (H, W) in [0, 1] at each step
    rank_abs: dict[str, list[float]]  # method -> ρ of |map| with the trained model's, per step
    rank_signed: dict[str, list[float]]  # method -> ρ of the signed map

    @property
    def complete(self) -> bool:
        """Whether every weight layer was randomized, down to the one nearest the input."""
        return len(self.steps) - 1 == len(self.layers)

    def randomized(self) -> str:
        """What was randomized, in words."""
        done, total = len(self.steps) - 1, len(self.layers)
        if self.complete:
            return (
                f"every weight layer ({total} of {total}, {self.layers[0]} down to "
                f"{self.layers[-1]})"
            )
        return f"only the top {done} of {total} weight layers ({', '.join(self.steps[1:])})"

    def unchanged(self, name: str) -> bool:
        """Whether the map at the last step still ranks pixels like the trained one (our line)."""
        rho = self.rank_abs[name][-1]
        return not math.isnan(rho) and rho >= SIMILAR

    def verdict(self, name: str) -> str:
        """One method's result, worded by what was randomized."""
        rho, signed = self.rank_abs[name][-1], self.rank_signed[name][-1]
        start = f"**{name}**: with {self.randomized()} re-initialized"
        if math.isnan(rho):
            return f"{start}, the map (or the trained one) is all zero, so ρ is undefined."
        numbers = f"ρ = {rho:.2f} for |map|, {signed:.2f} signed"
        if not self.complete:
            kept = ", ".join(self.layers[len(self.steps) - 1 :])
            return (
                f"{start}, {numbers}. {kept} still hold trained weights: randomize down to "
                f"{self.layers[-1]} to test whether the map depends on the weights at all."
            )
        if self.unchanged(name):
            return (
                f"{start}, the map still ranks pixels much as before ({numbers}). It depends "
                "little on what the network learned and mostly shows the image itself (its "
                f"edges and contrasts). Our line: ρ ≥ {SIMILAR} for |map|; the paper draws none."
            )
        return (
            f"{start}, the map changed ({numbers}): it depends on the weights, as an "
            "explanation of the network must."
        )


def sanity_check(
    bundle: ModelBundle,
    x: torch.Tensor,
    target: int,
    methods: dict[str, dict[str, Any]],
    top_k: int | None = None,
    seed: int = 0,
    progress: Callable[[float], None] | None = None,
) -> SanityResult:
    """Randomize the weight layers in cascade on a copy (all, or the top `top_k`), attributing
    again after each; the bundle's own model is never changed."""
    with bundle.lock:
        twin = ModelBundle(
            copy.deepcopy(bundle.model),
            bundle.name,
            bundle.input_shape,
            bundle.class_names,
            bundle.mean,
            bundle.std,
            bundle.spec,
        )
    layers = tuple(weight_layers(twin.model))
    steps = ("trained", *layers[: len(layers) if top_k is None else max(0, top_k)])
    modules = dict(twin.model.named_modules())
    signed: dict[str, list[np.ndarray]] = {name: [] for name in methods}
    for i, layer in enumerate(steps):
        if i:
            randomize_layer(modules[layer], torch.Generator().manual_seed(seed + i))
        for j, (name, settings) in enumerate(methods.items()):
            a = ATTRIBUTION_METHODS[name].attribute(twin, x, target, **settings)
            signed[name].append(a[0].sum(0).numpy().astype(np.float64))  # (H, W)
            if progress is not None:
                progress((i * len(methods) + j + 1) / (len(steps) * len(methods)))
    maps = {n: [heatmap(m[None], "absolute") for m in ms] for n, ms in signed.items()}
    rank_abs = {
        n: [rank_correlation(np.abs(ms[0]), np.abs(m)) for m in ms] for n, ms in signed.items()
    }
    rank_signed = {n: [rank_correlation(ms[0], m) for m in ms] for n, ms in signed.items()}
    return SanityResult(steps, layers, maps, rank_abs, rank_signed)

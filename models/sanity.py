"""The sanity check for attribution maps (Adebayo et al., 2018): do they depend on the weights?

Cascading randomization re-initializes the weight layers one after another, output side first,
on a private copy of the model, and re-attributes after each step. A map whose Spearman rank
correlation with the trained model's map stays high is explaining the image (edges), not what
the network learned.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from models.attribution import ATTRIBUTION_METHODS, heatmap
from models.bundle import ModelBundle


def weight_layers(model: nn.Module) -> list[str]:
    """Conv and linear layers by name, output side first: the order of the cascade."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Conv2d | nn.Linear)][::-1]


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's ρ between two maps (0 where one is constant and ρ is undefined)."""
    from scipy.stats import spearmanr

    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return 0.0
    return float(spearmanr(a.ravel(), b.ravel()).statistic)


@dataclass(frozen=True)
class SanityResult:
    """Maps as the top layers are re-initialized one after another (Adebayo et al., 2018)."""

    steps: tuple[str, ...]  # "trained", then the name of each layer randomized in turn
    maps: dict[str, list[np.ndarray]]  # method -> |map| (H, W) in [0, 1] at each step
    correlations: dict[str, list[float]]  # method -> ρ with the trained model's map
    threshold: float = 0.5

    def edge_detectors(self) -> list[str]:
        """Methods whose map still looks like the original once the layers are random."""
        return [m for m, rho in self.correlations.items() if rho[-1] >= self.threshold]


def _randomize(model: nn.Module, name: str, seed: int) -> None:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        dict(model.named_modules())[name].reset_parameters()


def sanity_check(bundle: ModelBundle, x: torch.Tensor, target: int,
                 methods: dict[str, dict[str, Any]], top_k: int, seed: int = 0,
                 progress: Callable[[float], None] | None = None) -> SanityResult:  # fmt: skip
    """Randomize the top `top_k` weight layers in cascade on a copy, re-attributing each time."""
    with bundle.lock:
        twin = ModelBundle(copy.deepcopy(bundle.model), bundle.name, bundle.input_shape,
                           bundle.class_names, bundle.mean, bundle.std, bundle.spec)  # fmt: skip
    layers = weight_layers(twin.model)[: max(0, top_k)]
    steps = ("trained", *layers)
    maps: dict[str, list[np.ndarray]] = {name: [] for name in methods}
    for i, layer in enumerate(steps):
        if i:
            _randomize(twin.model, layer, seed + i)
        for j, (name, settings) in enumerate(methods.items()):
            a = ATTRIBUTION_METHODS[name].attribute(twin, x, target, **settings)
            maps[name].append(heatmap(a[0].numpy(), "absolute"))
            if progress is not None:
                progress((i * len(methods) + j + 1) / (len(steps) * len(methods)))
    rhos = {n: [rank_correlation(m[0], step) for step in m] for n, m in maps.items()}
    return SanityResult(steps, maps, rhos)

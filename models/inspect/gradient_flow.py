"""How big each layer's gradient is in a deep stack, at initialisation and after a few steps.

A gradient reaches the first layers only by passing back through every layer above them: in a
deep plain stack each pass can shrink it (a sigmoid's slope is at most 1/4; small weights shrink
it too), so the first layers hardly learn (Glorot and Bengio, 2010). Batchnorm (Ioffe and
Szegedy, 2015) keeps each layer's signal at a steady size, and a residual connection (He et al.,
2016) gives the gradient a path with no weights at all. `compare_flow` measures ‖∂L/∂W‖ for
every weighted layer of each variant on one seeded batch of shapes at 32×32.

The module also plans the page's quick training runs (plain against residual, depth × width),
as `PlannedRun`s for `ui.lab`: the models are `DeepStack`s, which workers can unpickle.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from models.data.datasets import PreparedData, fit_data, prepare, shapes
from models.errors import CNNLabError
from models.network.deep_stack import DeepStack, StackOptions, build_stack, weighted_layers
from models.training.engine import TrainConfig
from models.training.executor.runner import TrainRequest
from models.training.experiments import INITS, PlannedRun, quick_setup

SIDE = 32  # images are 32×32, as in He et al.'s CIFAR experiments

# The variants the page compares, each a change to the plain ReLU stack.
VARIANTS: dict[str, dict] = {
    "plain": {},
    "residual": {"residual": True},
    "batchnorm": {"batchnorm": True},
    "residual + batchnorm": {"residual": True, "batchnorm": True},
    "plain, sigmoid": {"activation": "sigmoid"},
}


class FlowError(CNNLabError):
    """Gradient-flow settings that cannot be used, said for the student."""


@dataclass(frozen=True)
class FlowSettings:
    """One measurement: the stacks' size, the batch, the steps between the two looks."""

    depth: int = 20  # weighted layers, as in plain-20 / ResNet-20
    width: int = 4  # channels of the first stage (then 8, 16): small, so a redraw takes < 1 s
    batch: int = 16  # shapes in the one batch every variant sees
    steps: int = 3  # SGD steps between "at initialisation" and "after a few steps"
    lr: float = 0.05  # SGD learning rate (momentum 0.9) for those steps
    init: str = "PyTorch default"  # a key of models.training.experiments.INITS
    seed: int = 0  # draws the batch and the weights

    def __post_init__(self) -> None:
        if self.init not in INITS:
            raise FlowError(f"initialisation must be one of {', '.join(INITS)}")
        if not 2 <= self.batch <= 256:
            raise FlowError(f"the batch must hold 2 to 256 images, not {self.batch}")
        if not 0 <= self.steps <= 50:
            raise FlowError(f"take 0 to 50 steps, not {self.steps}")
        if not 0 < self.lr <= 1:
            raise FlowError(f"the learning rate must be above 0 and at most 1, not {self.lr}")


@dataclass(frozen=True)
class FlowResult:
    """One variant's gradient norm per weighted layer, input to output, before and after."""

    variant: str
    layers: tuple[str, ...]  # named_modules() names: stem, body.0.conv1, …, fc
    at_init: tuple[float, ...]  # ‖∂L/∂W‖ per layer at initialisation
    after: tuple[float, ...]  # the same after `steps` SGD steps
    loss_init: float
    loss_after: float
    params: int

    def spread(self, after: bool = False) -> float:
        """Last layer's gradient norm ÷ the first's: how much it shrank on the way back."""
        norms = self.after if after else self.at_init
        return norms[-1] / norms[0] if norms[0] > 0 else math.inf


def options_for(variant: str, depth: int, width: int) -> StackOptions:
    """The stack of a VARIANTS entry at this depth and width."""
    if variant not in VARIANTS:
        raise FlowError(f"no variant {variant!r}; choose from {', '.join(VARIANTS)}")
    return StackOptions(depth=depth, width=width, **VARIANTS[variant])


@functools.lru_cache(maxsize=4)
def flow_batch(batch: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`batch` seeded shapes at 32×32, standardised per channel: ((N, 3, 32, 32), (N,))."""
    data = fit_data(shapes(max(batch, 10), seed), (3, SIDE, SIDE))
    x = data.x[:batch].float() / 255
    mean, std = x.mean(dim=(0, 2, 3), keepdim=True), x.std(dim=(0, 2, 3), keepdim=True)
    return (x - mean) / std.clamp_min(1e-6), data.y[:batch]


def initialised_stack(opts: StackOptions, init: str, seed: int) -> DeepStack:
    """A stack built from `seed`, its conv and linear weights then drawn by INITS[init]."""
    model = build_stack(opts, seed)
    draw = INITS[init]
    if draw is not None:
        gen = torch.Generator().manual_seed(seed)
        for _, layer in weighted_layers(model):
            draw(layer.weight.data, gen)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
    return model


def _grad_norms(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[list[float], float]:
    model.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    norms = [float(m.weight.grad.norm()) for _, m in weighted_layers(model)]
    return norms, float(loss.detach())


def measure_flow(variant: str, settings: FlowSettings = FlowSettings()) -> FlowResult:
    """‖∂L/∂W‖ of every weighted layer of one variant, at initialisation and after the steps."""
    model = initialised_stack(
        options_for(variant, settings.depth, settings.width), settings.init, settings.seed
    )
    model.train()
    x, y = flow_batch(settings.batch, settings.seed)
    at_init, loss_init = _grad_norms(model, x, y)
    opt = torch.optim.SGD(model.parameters(), lr=settings.lr, momentum=0.9)
    for _ in range(settings.steps):
        _grad_norms(model, x, y)
        opt.step()
    after, loss_after = _grad_norms(model, x, y)
    names = tuple(name for name, _ in weighted_layers(model))
    params = sum(p.numel() for p in model.parameters())
    return FlowResult(variant, names, tuple(at_init), tuple(after), loss_init, loss_after, params)


def compare_flow(variants: list[str], settings: FlowSettings = FlowSettings()) -> list[FlowResult]:
    """`measure_flow` for each variant, on the same batch and seed."""
    if not variants:
        raise FlowError("choose at least one network to measure")
    with torch.enable_grad():
        return [measure_flow(v, settings) for v in variants]


# ---------------------------------------------------------------- quick training runs

RUN_SIDE = 16  # quick runs train at 16×16: a 20-layer stack then takes seconds, not minutes
RUN_EPOCHS = 5


@dataclass(frozen=True)
class RunSettings:
    """The quick runs' data and schedule: the quick setup's shapes and config, at 16×16."""

    side: int = RUN_SIDE
    epochs: int = RUN_EPOCHS
    seed: int = 0  # draws the shapes, the split and the weights

    def __post_init__(self) -> None:
        if not 8 <= self.side <= 64:
            raise FlowError(f"quick runs use images of 8 to 64 pixels a side, not {self.side}")
        if not 1 <= self.epochs <= 20:
            raise FlowError(f"quick runs take 1 to 20 epochs, not {self.epochs}")


RUN_SETTINGS = RunSettings()  # what the page's quick runs use


def _prepared(settings: RunSettings) -> tuple[PreparedData, TrainConfig]:
    setup = quick_setup()
    data = shapes(setup.images, settings.seed)
    shape = (3, settings.side, settings.side)
    config = replace(setup.config, epochs=settings.epochs, seed=settings.seed)
    return prepare(data, shape, setup.val_fraction, settings.seed), config


def _run(
    label: str, opts: StackOptions, value: object, data: PreparedData, config: TrainConfig
) -> PlannedRun:
    model = initialised_stack(opts, "PyTorch default", config.seed)
    return PlannedRun(label, value, config.seed, TrainRequest(label, model, data, config, None))


def stack_params(opts: StackOptions) -> int:
    """Parameters of the stack `opts` describes (built on the meta device: no memory used)."""
    with torch.device("meta"):
        return sum(p.numel() for p in DeepStack(opts).parameters())


def plan_degradation(
    depth: int = 20, width: int = 8, settings: RunSettings = RunSettings()
) -> list[PlannedRun]:
    """Plain-`depth` against ResNet-`depth` (both with batchnorm, as in He et al.), same data."""
    data, config = _prepared(settings)
    runs = []
    for label, residual in ((f"plain-{depth}", False), (f"residual-{depth}", True)):
        opts = StackOptions(depth, width, residual=residual, batchnorm=True)
        runs.append(_run(label, opts, residual, data, config))
    return runs


def plan_sweep(
    depths: tuple[int, ...] = (8, 20),
    widths: tuple[int, ...] = (4, 8),
    settings: RunSettings = RunSettings(),
) -> list[PlannedRun]:
    """One residual run per depth × width; each run's value is (depth, width, parameters)."""
    if not depths or not widths or len(depths) * len(widths) > 6:
        raise FlowError("choose 1 to 6 depth × width combinations in all")
    data, config = _prepared(settings)
    runs = []
    for depth in depths:
        for width in widths:
            opts = StackOptions(depth, width, residual=True, batchnorm=True)
            run = _run(f"depth {depth} × width {width}", opts, None, data, config)
            params = stack_params(opts)
            runs.append(replace(run, value=(depth, width, params)))
    return runs

""" "Change one thing" experiments: one quick run per value of one setting, the rest held equal.

An experiment starts from the quick setup (TinyVGG at 32×32 on 1,250 shapes, 5 epochs of the
default recipe in batches of 16: seconds per run on a laptop CPU), changes one `Variable` to
each of 2 to 5 values, and trains one run per value and seed through the executor. Each
variable carries what to look for and why it happens, shown beside the measured result.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from models.data.datasets import prepare, shapes
from models.errors import CNNLabError
from models.network.build import build_model
from models.network.presets import DEFAULT_PRESET, PRESETS
from models.network.spec import NetworkSpec
from models.training.engine import OPTIMIZERS, RANDOM_FLIPS, TrainConfig
from models.training.executor.runner import TrainRequest

MAX_VALUES, MAX_SEEDS = 5, 3


class ExperimentError(CNNLabError):
    """Values or seeds an experiment cannot use, said for the student."""


@dataclass(frozen=True)
class Setup:
    """Everything one quick run is made of: the network, the settings and the data."""

    spec: NetworkSpec
    config: TrainConfig
    images: int = 1250  # shapes drawn; 1,000 train after the 20% validation split
    imbalance: float = 1.0  # most ÷ least frequent class
    val_fraction: float = 0.2
    init: str = "PyTorch default"  # a key of INITS: how the weights start
    data_seed: int | None = None  # draws the images and the split; None: the run's seed

    def describe(self) -> str:
        """The setup in words, from its own values (for the page's text)."""
        _, h, w = self.spec.input_shape
        train = round(self.images * (1 - self.val_fraction))
        c = self.config
        return (
            f"{h}×{w} images, {self.images:,} shapes (about {train:,} to train), {c.epochs} "
            f"epochs in batches of {c.batch_size}"
        )


def quick_setup(spec: NetworkSpec | None = None) -> Setup:
    """The quick preset: TinyVGG (or `spec`) at 32×32, 1,000 training shapes, 5 epochs of 16.

    Batches of 16 give 315 steps in five epochs, enough for a good learning rate to pull away
    from a bad one (measured: about 50% against 10% for 1e-4 and 0.1) in seconds per run.
    """
    raw = (spec or PRESETS[DEFAULT_PRESET].spec).to_dict()
    raw["input"] = [raw["input"][0], 32, 32]
    config = TrainConfig(epochs=5, batch_size=16, augmentation=RANDOM_FLIPS, log_every=5)
    return Setup(NetworkSpec.from_dict(raw), config)


def _layers(setup: Setup, change: Callable[[list[dict]], list[dict]]) -> Setup:
    raw = setup.spec.to_dict()
    raw["layers"] = change([dict(layer) for layer in raw["layers"]])
    return replace(setup, spec=NetworkSpec.from_dict(raw))


def with_dropout(setup: Setup, p: float) -> Setup:
    """Dropout of `p` before the last linear layer (none at 0)."""
    if p == 0:
        return setup

    def change(layers: list[dict]) -> list[dict]:
        last = max(i for i, layer in enumerate(layers) if layer["type"] == "linear")
        return [*layers[:last], {"type": "dropout", "p": p}, *layers[last:]]

    return _layers(setup, change)


def with_batchnorm(setup: Setup, on: bool) -> Setup:
    """A batchnorm after every convolution, or none."""

    def change(layers: list[dict]) -> list[dict]:
        out = []
        for layer in layers:
            if layer["type"] != "batchnorm":
                out.append(layer)
            if on and layer["type"] == "conv":
                out.append({"type": "batchnorm"})
        return out

    return _layers(setup, change)


def _with_width(setup: Setup, factor: float) -> Setup:
    """Every convolution's channels × `factor` (at least 1)."""

    def change(layers: list[dict]) -> list[dict]:
        for layer in layers:
            if layer["type"] == "conv":
                layer["out_channels"] = max(1, round(layer["out_channels"] * factor))
        return layers

    return _layers(setup, change)


def _config(name: str) -> Callable[[Setup, Any], Setup]:
    """Set the TrainConfig field `name` to the value."""

    def apply(setup: Setup, value: Any) -> Setup:
        return replace(setup, config=replace(setup.config, **{name: value}))

    return apply


def _number(text: str) -> float:
    return float(text)


def _switch(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("on", "yes", "true", "1"):
        return True
    if lowered in ("off", "no", "false", "0"):
        return False
    raise ValueError(f"{text!r} is not on or off")


def _choice(options: Sequence[str]) -> Callable[[str], str]:
    def parse(text: str) -> str:
        for option in options:
            if option.lower() == text.strip().lower():
                return option
        raise ValueError(f"{text!r} is not one of {', '.join(options)}")

    return parse


def _count(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(float(text))
        if not low <= value <= high:
            raise ValueError(f"{text} is not between {low:,} and {high:,}")
        return value

    return parse


def _init_he(weight: torch.Tensor, gen: torch.Generator) -> None:
    nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=gen)


def _init_tiny(weight: torch.Tensor, gen: torch.Generator) -> None:
    nn.init.normal_(weight, 0.0, 1e-3, generator=gen)


def _init_large(weight: torch.Tensor, gen: torch.Generator) -> None:
    nn.init.normal_(weight, 0.0, 1.0, generator=gen)


# How conv and linear weights start (biases at zero for all but the default), seeded.
INITS: dict[str, Callable[[torch.Tensor, torch.Generator], None] | None] = {
    "PyTorch default": None,  # kaiming_uniform_(a=√5), as `build_model` draws it
    "He normal": _init_he,  # variance 2 / fan_in: keeps ReLU activations' size layer to layer
    "tiny (std 0.001)": _init_tiny,  # signals and gradients shrink at every layer
    "large (std 1)": _init_large,  # signals blow up at every layer
}


def initialised(setup: Setup, seed: int) -> nn.Module:
    """The setup's network, built from `seed`, its weights then drawn by `setup.init`."""
    model = build_model(setup.spec, seed=seed)
    draw = INITS[setup.init]
    if draw is not None:
        gen = torch.Generator().manual_seed(seed)
        for module in model.modules():
            if isinstance(module, (nn.modules.conv._ConvNd, nn.Linear)):
                draw(module.weight.data, gen)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
    return model


@dataclass(frozen=True)
class Variable:
    """One setting to vary: how to read a value, how to apply it, and what it teaches."""

    name: str
    values: str  # the default values, as the student sees them
    parse: Callable[[str], Any]
    apply: Callable[[Setup, Any], Setup]
    look_for: str  # what to look for in the curves
    why: str  # why it happens
    setup: Callable[[Setup], Setup] = lambda s: s  # the base this comparison needs


VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable(
            "learning rate",
            "0.0001, 0.003, 0.1",
            _number,
            _config("lr"),
            "The smallest rate's curves fall slowly and end high; a good rate falls fast; a rate "
            "far too large jumps about or stalls near chance.",
            "Each step moves the weights by the rate times the gradient: too small and a few "
            "epochs are not enough steps; too large and every step overshoots the valley it "
            "was aiming for.",
        ),
        Variable(
            "batch size",
            "8, 32, 128",
            _count(2, 1024),
            _config("batch_size"),
            "Small batches give noisy curves but many steps per epoch; large batches give "
            "smooth curves but few steps, and may end behind after the same epochs.",
            "An epoch is a fixed number of images: the batch size decides how many weight "
            "updates it buys, and how much each gradient is averaged.",
        ),
        Variable(
            "optimizer",
            "SGD + momentum, Adam",
            _choice(tuple(OPTIMIZERS)),
            _config("optimizer"),
            "At the same learning rate the optimizers differ most in the first epoch.",
            "Adam scales each weight's step by its own recent gradients, so one rate suits "
            "many layers; SGD uses one step size for all and usually wants a larger rate.",
        ),
        Variable(
            "dropout",
            "0, 0.3, 0.6",
            _number,
            with_dropout,
            "The gap between training and validation loss narrows as dropout grows; training "
            "loss is higher because part of the units are off at every step.",
            "Dropout switches a random share of the last layer's inputs off in training, so no "
            "single feature can be relied on; at validation every unit is on.",
        ),
        Variable(
            "weight decay",
            "0, 0.001, 0.01",
            _number,
            _config("weight_decay"),
            "A little decay changes little in four epochs; a lot holds the weights small and "
            "the training loss up.",
            "Weight decay pulls every weight towards zero at each step, trading fit for "
            "smaller, smoother weights.",
        ),
        Variable(
            "batchnorm",
            "off, on",
            _switch,
            with_batchnorm,
            "With batchnorm the first epoch usually gets further, and the curves are steadier.",
            "Batchnorm rescales each channel to zero mean and unit spread within the batch, so "
            "later layers see inputs of a steady size while the early ones change.",
        ),
        Variable(
            "augmentation",
            "off, on",
            _switch,
            lambda s, on: replace(
                s, config=replace(s.config, augmentation=RANDOM_FLIPS if on else None)
            ),
            "Without flips training accuracy climbs faster; validation tells whether that was "
            "learning or memorising.",
            "Random flips show each shape in new orientations, which keep its class: more "
            "different images for free, so less to memorise.",
        ),
        Variable(
            "data set size",
            "250, 1250, 5000",
            _count(50, 20_000),
            lambda s, n: replace(s, images=n),
            "More images: higher validation accuracy, a smaller train–validation gap, and "
            "longer epochs.",
            "With few images the network can memorise them; with many it has to find what the "
            "classes share.",
        ),
        Variable(
            "width",
            "0.5, 1, 2",
            _number,
            _with_width,
            "Wider networks learn faster per epoch here, at a higher cost per step.",
            "Each convolution's channel count is multiplied: more filters, more features per "
            "layer, and more parameters to fit.",
        ),
        Variable(
            "loss",
            "cross-entropy, focal",
            _choice(("cross-entropy", "focal")),
            _config("loss"),
            "The focal loss's values are smaller (easy images count less), so compare the "
            "accuracy curves, not the losses.",
            "Focal loss multiplies cross-entropy by (1 − p)^γ, so images the network already "
            "gets right add little to the gradient.",
        ),
        Variable(
            "class weights",
            "off, on",
            _switch,
            _config("class_weights"),
            "On imbalanced data (this comparison draws 10× more of one class than another), "
            "class weights lift the rare classes' recall; compare the per-class recall below.",
            "Each image's loss is weighted by 1 / its class's frequency, so the rare classes "
            "weigh as much in total as the common ones.",
            setup=lambda s: replace(s, imbalance=10.0),
        ),
        Variable(
            "label smoothing",
            "0, 0.1, 0.3",
            _number,
            _config("label_smoothing"),
            "Smoothing raises the lowest loss a run can reach; accuracy may barely move.",
            "The target gives the true class a little less than 1 and spreads the rest, so the "
            "network is never pushed to be completely sure.",
        ),
        Variable(
            "initialisation",
            ", ".join(INITS),
            _choice(tuple(INITS)),
            lambda s, init: replace(s, init=init),
            "Tiny starting weights can stay flat at chance: the gradients are too small to get "
            "going. Very large ones start with a huge loss and may not recover in a quick run. "
            "The default and He's rule both learn at once; which is faster depends on the net.",
            "Each layer multiplies its input by its weights: if they are too small the signal "
            "and the gradients shrink layer after layer, if too large they grow. He's rule "
            "(variance 2 / inputs) keeps them the same size through ReLU layers.",
        ),
        Variable(
            "seed",
            "0, 1, 2",
            _count(0, 2**31 - 1),
            _config("seed"),
            "Everything else equal, the curves still differ: that spread is the noise any other "
            "comparison has to beat.",
            "The seed fixes the initial weights, the split, the shuffling and the flips; a "
            "different draw of each lands the run somewhere slightly different.",
        ),
    )
}


def parse_values(variable: Variable, text: str) -> list[Any]:
    """The 2 to 5 comma-separated values of `text`, read for `variable`; ExperimentError if not."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not 2 <= len(parts) <= MAX_VALUES:
        raise ExperimentError(f"give 2 to {MAX_VALUES} values, separated by commas")
    values = []
    for part in parts:
        try:
            values.append(variable.parse(part))
        except (ValueError, TypeError) as err:
            raise ExperimentError(f"{variable.name}: {err}") from None
    if len(set(map(str, values))) < len(values):
        raise ExperimentError("each value once, please: the same value twice compares nothing")
    return values


@dataclass(frozen=True)
class PlannedRun:
    label: str  # e.g. "learning rate = 0.001"
    value: Any
    seed: int
    request: TrainRequest


def plan(
    variable: Variable, values: Sequence[Any], seeds: int = 1, base: Setup | None = None
) -> tuple[str, list[PlannedRun]]:
    """(experiment id, one run per value and seed), the runs ready to submit.

    Settings are checked here (a value out of range raises ExperimentError or the config's own
    error) before anything is sent.
    """
    if not 1 <= seeds <= MAX_SEEDS:
        raise ExperimentError(f"1 to {MAX_SEEDS} seeds per value")
    base = variable.setup(base or quick_setup())
    arms = []
    for value in values:
        try:
            setup = variable.apply(base, value)
        except (ValueError, TypeError) as err:
            raise ExperimentError(f"{variable.name} = {value}: {err}") from None
        arms.append(Arm(f"{variable.name} = {value}", setup, value))
    if variable.name == "seed":  # the seed is the value itself: one run per value
        return plan_arms(arms, 1, seed_from_setup=True)
    return plan_arms(arms, seeds)


@dataclass(frozen=True)
class Arm:
    """One arm of a prepared comparison: its label and the setup its runs train."""

    label: str
    setup: Setup
    value: Any = None


def plan_arms(
    arms: Sequence[Arm], seeds: int = 1, seed_from_setup: bool = False
) -> tuple[str, list[PlannedRun]]:
    """(group id, one run per arm and seed): the runs of a prepared comparison, ready to submit.

    Seed s of every arm trains on the same images and split (drawn once per data seed), so arms
    differ only in what their setups change. `seed_from_setup` uses each setup's own seed once.
    """
    if not 1 <= seeds <= MAX_SEEDS:
        raise ExperimentError(f"1 to {MAX_SEEDS} seeds per arm")
    group, runs = uuid.uuid4().hex[:8], []
    prepared_for: dict[tuple, object] = {}  # the same data for every arm of one seed
    for arm in arms:
        setup = arm.setup
        for s in range(1 if seed_from_setup else seeds):
            seed = setup.config.seed + s
            config = replace(setup.config, seed=seed)
            data_seed = seed if setup.data_seed is None else setup.data_seed
            key = (setup.images, data_seed, setup.imbalance, setup.spec.input_shape)
            if key not in prepared_for:
                data = shapes(setup.images, data_seed, 0.0, setup.imbalance)
                shape, share = setup.spec.input_shape, setup.val_fraction
                prepared_for[key] = prepare(data, shape, share, data_seed)
            name = arm.label if seeds == 1 or seed_from_setup else f"{arm.label}, seed {seed}"
            model = initialised(setup, seed)
            request = TrainRequest(name, model, prepared_for[key], config, setup.spec)
            runs.append(PlannedRun(arm.label, arm.value, seed, request))
    return group, runs

"""Transfer learning: reuse a network trained on one task for another with few labelled images.

Three arms train on the same few images of the target task (`models.data.transfer_tasks`):
from scratch (random weights), frozen features with a new head (the pretrained network with its
last linear layer replaced by a fresh one for the new classes; only that layer learns), and full
fine-tuning (the same start, every layer learning at a smaller rate). Each is a `PlannedRun` for
`ui.lab`. The same pieces measure a model on drifting test images (`drift_accuracy`) and
fine-tune it on a few shifted ones (`plan_recovery`). Yosinski et al. (2014), "How transferable
are features in deep neural networks?".
"""

from __future__ import annotations

import copy
import functools
import math
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import torch
from torch import nn

from models.bundle import ModelBundle
from models.data.datasets import ImageData, PreparedData, fit_data, shapes
from models.data.shift import apply_drift
from models.data.transfer_tasks import TARGET_CLASSES, make_target
from models.errors import CNNLabError
from models.network.build import build_model
from models.network.spec import LinearSpec, NetworkSpec
from models.rng import GLOBAL_RNG_LOCK
from models.training.engine import TrainConfig, copy_model
from models.training.evaluate import evaluate
from models.training.executor.runner import TrainRequest
from models.training.experiments import PlannedRun
from models.training.pretrain import HELD_OUT_SEED
from models.zoo import IMAGENET_MEAN, IMAGENET_STD, ZOO

SCRATCH, FROZEN, FINE_TUNE = "from scratch", "frozen features + new head", "full fine-tuning"
ARMS: tuple[str, ...] = (SCRATCH, FROZEN, FINE_TUNE)
VAL_SEED_OFFSET = 10_007  # the held-out images are drawn from seed + this: never trained on
CURVE_SIZES: tuple[int, ...] = (5, 20, 50)  # the curve's default labelled images per class
MAX_PER_CLASS = 200


class TransferError(CNNLabError):
    """A transfer setting that cannot be used, said for the student."""


@dataclass(frozen=True)
class TransferSpec:
    """One transfer comparison; every default keeps three runs well under a minute on a CPU."""

    per_class: int = 20  # labelled target images per class to train on
    val_per_class: int = 25  # held-out target images per class to score on
    epochs: int = 12  # passes over the few training images
    batch_size: int = 16
    lr: float = 3e-3  # from scratch and the new head: Adam's one-cycle peak, as on Train
    fine_tune_lr: float = 1e-3  # full fine-tuning: 3× smaller, so pretrained features move less
    seed: int = 0  # weights of the new head and of the scratch network, shuffling
    data_seed: int = 0  # which target images are drawn

    def __post_init__(self) -> None:
        if not 1 <= self.per_class <= MAX_PER_CLASS:
            raise TransferError(f"use 1 to {MAX_PER_CLASS} images per class, not {self.per_class}")
        if not 1 <= self.val_per_class <= 500:
            raise TransferError("use 1 to 500 held-out images per class")


def head_name(model: nn.Module) -> str:
    """The `named_modules()` name of the model's last linear layer (its head)."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise TransferError("this network has no linear layer to replace with a new head")
    return names[-1]


def fresh_linear(in_features: int, out_features: int, seed: int) -> nn.Linear:
    """A new linear layer with PyTorch's default initialisation, drawn from `seed` alone."""
    layer = nn.Linear(in_features, out_features, device="meta").to_empty(device="cpu")
    gen = torch.Generator().manual_seed(seed)
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=gen)
    bound = 1 / math.sqrt(in_features)
    nn.init.uniform_(layer.bias, -bound, bound, generator=gen)
    return layer


def replace_head(model: nn.Module, n_classes: int, seed: int = 0) -> nn.Module:
    """A copy of `model` (on the CPU) whose last linear layer is a fresh one with `n_classes`
    outputs; the model passed in is not changed."""
    out = copy.deepcopy(model).cpu()
    name = head_name(out)
    parent_name, _, child = name.rpartition(".")
    parent = out.get_submodule(parent_name) if parent_name else out
    old = out.get_submodule(name)
    setattr(parent, child, fresh_linear(old.in_features, n_classes, seed))
    return out


def head_spec(spec: NetworkSpec, n_classes: int) -> NetworkSpec:
    """The spec with its last linear layer giving `n_classes` outputs."""
    last = max(i for i, layer in enumerate(spec.layers) if isinstance(layer, LinearSpec))
    layers = list(spec.layers)
    layers[last] = replace(layers[last], out_features=n_classes)
    return NetworkSpec(spec.input_shape, tuple(layers))


@functools.lru_cache(maxsize=8)
def target_images(per_class: int, seed: int) -> ImageData:
    """The target task's images (64×64 RGB), `per_class` of each class, drawn from `seed`."""
    images, labels = make_target(per_class, seed)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W)
    return ImageData(x, torch.from_numpy(labels), TARGET_CLASSES, "new shapes")


def fixed_split(train: ImageData, val: ImageData, shape, mean, std) -> PreparedData:
    """Train on `train`, score on `val`, both fitted to `shape`, normalised as the pretrained
    network was (`mean`, `std`), so every arm sees exactly the same numbers."""
    a, b = fit_data(train, shape), fit_data(val, shape)
    return PreparedData(a.x, a.y, b.x, b.y, train.class_names, tuple(mean), tuple(std), train.name)


def target_split(spec: TransferSpec, pretrained: ModelBundle) -> PreparedData:
    """The spec's labelled target images and its held-out ones, ready for the pretrained net."""
    train = target_images(spec.per_class, spec.data_seed)
    val = target_images(spec.val_per_class, spec.data_seed + VAL_SEED_OFFSET)
    return fixed_split(train, val, pretrained.input_shape, pretrained.mean, pretrained.std)


def _arm_start(arm: str, pretrained: ModelBundle, n_classes: int, seed: int) -> nn.Module:
    if arm == SCRATCH:
        return build_model(head_spec(pretrained.spec, n_classes), seed=seed)
    return replace_head(pretrained.model, n_classes, seed)


def arm_config(arm: str, spec: TransferSpec) -> TrainConfig:
    """The run settings of one arm: which layers learn, and at what rate."""
    if arm not in ARMS:
        raise TransferError(f"unknown arm {arm!r}; choose one of {', '.join(ARMS)}")
    return TrainConfig(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        lr=spec.fine_tune_lr if arm == FINE_TUNE else spec.lr,
        trainable="last layer" if arm == FROZEN else "all",
        restore_best=False,  # the held-out set scores the runs: choosing on it would flatter
        seed=spec.seed,
        log_every=2,
    )


def _check_pretrained(pretrained: ModelBundle) -> NetworkSpec:
    if pretrained.spec is None or not pretrained.trained:
        raise TransferError(f"{pretrained.name} is not a trained network built from a spec")
    return pretrained.spec


def plan_transfer(
    spec: TransferSpec, pretrained: ModelBundle, arms: tuple[str, ...] = ARMS, tag: str = ""
) -> list[PlannedRun]:
    """One run per arm on the same target images; labels are the arm names (+ `tag`)."""
    _check_pretrained(pretrained)
    data = target_split(spec, pretrained)
    k = len(data.class_names)
    runs = []
    for arm in arms:
        label = f"{arm}{tag}"
        model = _arm_start(arm, pretrained, k, spec.seed)
        request = TrainRequest(
            label, model, data, arm_config(arm, spec), head_spec(pretrained.spec, k)
        )
        runs.append(PlannedRun(label, arm, spec.seed, request))
    return runs


def curve_label(arm: str, per_class: int) -> str:
    return f"{arm}, {per_class} per class"


def curve_epochs(per_class: int, base: TransferSpec) -> int:
    """Epochs for a curve point: about as many steps as `base` makes, at every size (3 to 15)."""
    steps = base.epochs * max(1, base.per_class * len(TARGET_CLASSES) // base.batch_size)
    per_epoch = max(1, per_class * len(TARGET_CLASSES) // base.batch_size)
    return int(min(15, max(3, round(steps / per_epoch))))


def plan_curve(
    sizes: tuple[int, ...], pretrained: ModelBundle, base: TransferSpec = TransferSpec()
) -> list[PlannedRun]:
    """The three arms at each number of labelled images per class, on one held-out set, each
    run given about as many steps as `base` makes (`curve_epochs`)."""
    if not 1 <= len(sizes) <= 5:
        raise TransferError("choose 1 to 5 sizes for the curve")
    runs = []
    for n in sorted(set(sizes)):
        spec = replace(base, per_class=n, epochs=curve_epochs(n, base))
        for run in plan_transfer(spec, pretrained):
            label = curve_label(run.value, n)
            run.request.name = label
            runs.append(PlannedRun(label, (run.value, n), run.seed, run.request))
    return runs


# ---------------------------------------------------------------- ImageNet features, if cached

IMAGENET = "ImageNet features + new head"
IMAGENET_NET = "resnet18"


def imagenet_weights_file(name: str = IMAGENET_NET) -> Path | None:
    """The cached ImageNet weight file of a zoo network, or None; never downloads."""
    url = ZOO[name].weights.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name
    return path if path.is_file() else None


def imagenet_run(spec: TransferSpec, path: Path, input_shape=(3, 64, 64)) -> PlannedRun:
    """ResNet-18 with ImageNet weights from `path`, frozen, a new head for the target classes."""
    with GLOBAL_RNG_LOCK:  # torchvision initialises from the global generator
        model = ZOO[IMAGENET_NET].builder(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    train = target_images(spec.per_class, spec.data_seed)
    val = target_images(spec.val_per_class, spec.data_seed + VAL_SEED_OFFSET)
    data = fixed_split(train, val, input_shape, IMAGENET_MEAN, IMAGENET_STD)
    model = replace_head(model, len(TARGET_CLASSES), spec.seed)
    request = TrainRequest(IMAGENET, model, data, arm_config(FROZEN, spec), None)
    return PlannedRun(IMAGENET, IMAGENET, spec.seed, request)


# ---------------------------------------------------------------- domain shift

SHIFT_IMAGES = 200  # held-out shapes the drift is measured on: 20 per class, < 1 s to score


@functools.lru_cache(maxsize=4)
def drift_test_set(input_shape: tuple[int, int, int], n: int = SHIFT_IMAGES) -> ImageData:
    """Fresh shapes no shipped model trained on (pretrain's held-out seed), fitted to a net."""
    return fit_data(shapes(n, HELD_OUT_SEED), input_shape)


def drift_accuracy(bundle: ModelBundle, data: ImageData, drift: str, strength: float) -> float:
    """The bundle's accuracy on `data` shifted by `drift` at `strength` (pure evaluation)."""
    x = apply_drift(data.x, drift, strength)
    k = len(bundle.class_names)
    with bundle.lock:  # a shared model: no one else's hooks fire during this pass
        return evaluate(bundle.model, x, data.y, bundle.mean, bundle.std, k).accuracy


def shifted(data: ImageData, drift: str, strength: float) -> ImageData:
    """The same images and labels, shifted."""
    return replace(data, x=apply_drift(data.x, drift, strength))


def plan_recovery(
    bundle: ModelBundle, drift: str, strength: float, per_class: int = 10, epochs: int = 8
) -> list[PlannedRun]:
    """Fine-tune copies of `bundle` on `per_class` shifted shapes per class: the head alone,
    or every layer at a smaller rate. Scored on the shifted held-out set of `drift_accuracy`."""
    spec = _check_pretrained(bundle)
    if not 1 <= per_class <= MAX_PER_CLASS:
        raise TransferError(f"use 1 to {MAX_PER_CLASS} shifted images per class")
    k = len(bundle.class_names)
    train = shifted(fit_data(shapes(per_class * k, 1), bundle.input_shape), drift, strength)
    val = shifted(drift_test_set(bundle.input_shape), drift, strength)
    data = fixed_split(train, val, bundle.input_shape, bundle.mean, bundle.std)
    base = TransferSpec(per_class=per_class, epochs=epochs)
    runs = []
    for arm, label in ((FROZEN, RETRAIN_HEAD), (FINE_TUNE, RETRAIN_ALL)):
        request = TrainRequest(label, copy_model(bundle.model), data, arm_config(arm, base), spec)
        runs.append(PlannedRun(label, arm, base.seed, request))
    return runs


RETRAIN_HEAD, RETRAIN_ALL = "retrain the head", "fine-tune every layer"


def drift_curve(
    bundle: ModelBundle, data: ImageData, drift: str, strengths: tuple[float, ...]
) -> list[float]:
    """The bundle's accuracy at each strength of one drift."""
    return [drift_accuracy(bundle, data, drift, s) for s in strengths]


def drift_samples(
    data: ImageData, drift: str, strength: float, count: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` images as uint8 (N, H, W, 3): clean, and shifted as evaluated."""
    clean = data.x[:count]
    moved = apply_drift(data.x, drift, strength)[:count]  # the same noise as the evaluation
    return tuple(t.permute(0, 2, 3, 1).numpy() for t in (clean, moved))  # type: ignore[return-value]


def curve_points(accuracy: dict[str, float]) -> dict[str, dict[int, float]]:
    """Accuracy by arm and images per class, read back from `curve_label` labels."""
    points: dict[str, dict[int, float]] = {}
    for label, value in accuracy.items():
        arm, _, size = label.rpartition(", ")
        if arm in ARMS and size.endswith(" per class"):
            points.setdefault(arm, {})[int(size.split()[0])] = value
    return {arm: points[arm] for arm in ARMS if arm in points}

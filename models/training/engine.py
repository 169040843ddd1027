"""The training engine: a generator that trains a model in place and yields what it measures.

`train(model, data, config)` yields a `TrainMetrics` every `config.log_every` steps and after
each epoch, so a caller can draw live curves, and it stops cleanly when a `threading.Event` is
set. Nothing here knows about Streamlit; `models/training/jobs.py` runs it in a background thread.

A run is reproducible from its seed while other sessions work: shuffling draws from a generator
of its own, and the draws that torchvision's transforms and dropout make from torch's global
generator happen inside the run's private stream (`models.rng`). A run whose loss ends above
where it started is flagged as diverged; a NaN or infinite loss stops it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from models.data.augment import PipelineSpec, StepSpec, build_pipeline
from models.data.datasets import PreparedData
from models.device import pick_device
from models.errors import CNNLabError
from models.rng import RandomStream, private_stream

# Flips keep a shape's class (every class looks the same mirrored), so they are free extra data.
RANDOM_FLIPS = PipelineSpec((StepSpec("Horizontal flip", p=0.5), StepSpec("Vertical flip", p=0.5)))

OPTIMIZERS: dict[str, Callable] = {
    "SGD + momentum": lambda p, lr, wd: torch.optim.SGD(p, lr, momentum=0.9, weight_decay=wd),
    "Adam": lambda p, lr, wd: torch.optim.Adam(p, lr, weight_decay=wd),
    "AdamW": lambda p, lr, wd: torch.optim.AdamW(p, lr, weight_decay=wd),
    "RMSprop": lambda p, lr, wd: torch.optim.RMSprop(p, lr, weight_decay=wd),
    "Adadelta": lambda p, lr, wd: torch.optim.Adadelta(p, lr, weight_decay=wd),
}
SCHEDULES: tuple[str, ...] = ("constant", "step", "cosine", "one-cycle")
# What a run learns to output: a class per image, a class per pixel, or numbers per image.
TASKS: tuple[str, ...] = ("classify", "segment", "regress")
CLASS_LOSSES: tuple[str, ...] = ("cross-entropy", "focal")
REGRESSION_LOSSES: tuple[str, ...] = ("mse", "huber")
LOSSES: tuple[str, ...] = CLASS_LOSSES + REGRESSION_LOSSES
# How each epoch draws its images: a shuffle of all, or a draw with replacement that gives each
# class the same expected share (a weighted sampler, for imbalanced data).
SAMPLERS: tuple[str, ...] = ("shuffle", "balanced")
# How pixel values reach the network: standardized per channel, scaled to [0, 1], or raw bytes.
INPUT_SCALES: tuple[str, ...] = ("standardize", "0 to 1", "0 to 255")
# Which weights train: all of them, or only the last linear layer (frozen features, new head).
TRAINABLE: tuple[str, ...] = ("all", "last layer")
# Modules that draw from the global generator in training mode (their masks or slopes).
RANDOM_MODULES = (
    nn.Dropout,
    nn.Dropout1d,
    nn.Dropout2d,
    nn.Dropout3d,
    nn.AlphaDropout,
    nn.FeatureAlphaDropout,
    nn.RReLU,
)
# One-cycle: the first rate (× the peak), the share of the run spent warming up, the last rate.
ONE_CYCLE_START, ONE_CYCLE_WARMUP, ONE_CYCLE_END = 0.04, 0.3, 1e-6
DIVERGED_MARGIN = 1.1  # diverged: the loss ends above this × its first; 1.1 leaves room for noise


class TrainingDiverged(CNNLabError):
    """The loss became NaN or infinite; the message names the step."""


class TrainingError(CNNLabError):
    """Training cannot go on with these settings, said in words a user can act on."""


class TrainConfigError(CNNLabError):
    """A training setting out of its range; the message names the setting."""


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 10  # passes over the training split; about a minute for TinyVGG on 4,000 shapes
    batch_size: int = 32  # images per step: more, noisier steps help small nets learn shapes
    optimizer: str = "Adam"  # a key of OPTIMIZERS; Adam forgives a rough learning rate
    lr: float = 3e-3  # the one-cycle peak: 3× Adam's usual 1e-3 (benchmarks/default_recipe.py)
    schedule: str = "one-cycle"  # one of SCHEDULES; warm up, then anneal (Smith, 2018)
    step_every: int = 2  # epochs between drops of the "step" schedule (×0.1 each)
    weight_decay: float = 0.0  # L2 pull towards zero; try 1e-4 against overfitting
    label_smoothing: float = 0.0  # share of the target spread over all classes
    loss: str = "cross-entropy"  # or "focal", which down-weights easy examples
    focal_gamma: float = 2.0  # the focal loss's γ (Lin et al., 2017); 0 is cross-entropy
    class_weights: bool = False  # weight classes by 1/frequency, for imbalanced data
    sampler: str = "shuffle"  # one of SAMPLERS; "balanced" resamples rare classes more often
    inputs: str = "standardize"  # one of INPUT_SCALES
    trainable: str = "all"  # one of TRAINABLE
    task: str = "classify"  # one of TASKS; "regress" needs an "mse" or "huber" loss
    augmentation: PipelineSpec | None = None  # built into a v2 transform for each train image
    patience: int = 0  # epochs without a better validation loss before stopping; 0: never
    restore_best: bool = True  # end with the weights of the best validation epoch
    clip_grad: float = 0.0  # largest gradient norm; 0: no clipping
    seed: int = 0  # fixes shuffling and augmentation
    device: str = "auto"  # "auto", "cuda", "mps" or "cpu"
    log_every: int = 5  # steps between live reports

    def __post_init__(self) -> None:
        checks = [
            (1 <= self.epochs <= 1000, "epochs must be between 1 and 1000"),
            (1 <= self.batch_size <= 4096, "batch size must be between 1 and 4096"),
            (self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}"),
            (0 < self.lr <= 10, "learning rate must be above 0 and at most 10"),
            (self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}"),
            (self.step_every >= 1, "the step schedule needs at least 1 epoch between drops"),
            (0 <= self.weight_decay <= 1, "weight decay must be between 0 and 1"),
            (0 <= self.label_smoothing < 1, "label smoothing must be in [0, 1)"),
            (self.loss in LOSSES, f"loss must be one of {', '.join(LOSSES)}"),
            (self.task in TASKS, f"task must be one of {', '.join(TASKS)}"),
            (
                (self.task == "regress") == (self.loss in REGRESSION_LOSSES),
                f"a regression needs an {' or '.join(REGRESSION_LOSSES)} loss, and classes need "
                f"{' or '.join(CLASS_LOSSES)}",
            ),
            (self.sampler in SAMPLERS, f"sampler must be one of {', '.join(SAMPLERS)}"),
            (
                self.sampler == "shuffle" or self.task == "classify",
                "the balanced sampler draws by class: it needs a classification task",
            ),
            (self.inputs in INPUT_SCALES, f"inputs must be one of {', '.join(INPUT_SCALES)}"),
            (self.trainable in TRAINABLE, f"trainable must be one of {', '.join(TRAINABLE)}"),
            (0 <= self.focal_gamma <= 10, "focal γ must be between 0 and 10"),
            (self.patience >= 0 and self.clip_grad >= 0, "patience and clipping must be ≥ 0"),
            (self.log_every >= 1, "log_every must be at least 1"),
            (
                self.augmentation is None or isinstance(self.augmentation, PipelineSpec),
                "augmentation must be a PipelineSpec (models.data.augment) or None",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise TrainConfigError(message)

    def to_json(self, indent: int | None = 2) -> str:
        """The settings as JSON, so a run can be saved, shown and compared."""
        fields = dataclasses.asdict(self)
        fields["augmentation"] = self.augmentation.to_dict() if self.augmentation else None
        return json.dumps(fields, indent=indent, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> TrainConfig:
        """The config `to_json` wrote; TrainConfigError names what is wrong with other text."""
        try:
            fields = json.loads(text)
            known = {f.name for f in dataclasses.fields(cls)}
            if not isinstance(fields, dict) or not set(fields) <= known:
                raise TrainConfigError(f"not a training config: its settings are {sorted(known)}")
            if fields.get("augmentation") is not None:
                fields["augmentation"] = PipelineSpec.from_dict(fields["augmentation"])
            return cls(**fields)
        except CNNLabError:
            raise
        except (ValueError, TypeError) as err:  # json.JSONDecodeError is a ValueError
            raise TrainConfigError(f"not a training config: {err}") from None


@dataclass(frozen=True)
class TrainMetrics:
    """One report. "step" reports carry running training figures, "epoch" ones validation."""

    kind: str  # "step", "epoch" or "done"
    epoch: int  # 1-based
    step: int  # optimizer steps so far
    total_steps: int
    examples: int  # training images seen so far
    train_loss: float
    train_acc: float
    lr: float
    examples_per_s: float
    grad_norm: float
    elapsed_s: float
    val_loss: float = math.nan
    val_acc: float = math.nan
    note: str = ""
    diverged: bool = False  # "done" only: the loss ended above where it started
    # "epoch" only, for pixel and number tasks: the model's answers on the first validation
    # examples (uint8 masks (n, H, W), or float predictions (n, k)), to watch them improve.
    preview: torch.Tensor | None = None


def lr_factor(schedule: str, step: int, total: int, steps_per_epoch: int, step_every: int) -> float:
    """The learning rate at `step` as a multiple of the base rate."""
    t = min(step / max(total, 1), 1.0)
    if schedule == "step":
        return 0.1 ** (step // (steps_per_epoch * step_every))
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * t))
    if schedule == "one-cycle":  # Smith (2018): warm up, then anneal far below the start
        start, warm, end = ONE_CYCLE_START, ONE_CYCLE_WARMUP, ONE_CYCLE_END
        if t < warm:
            return start + (1 - start) * 0.5 * (1 - math.cos(math.pi * t / warm))
        return end + (1 - end) * 0.5 * (1 + math.cos(math.pi * (t - warm) / (1 - warm)))
    return 1.0


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps in one pass: a last batch of a single image is left out.

    Batchnorm cannot train on a batch of one value per channel, and one image makes a
    needlessly noisy step; the shuffle picks another image to leave out each epoch.
    """
    full, rest = divmod(n_train, batch_size)
    return full + (rest > 1)


def lr_curve(config: TrainConfig, n_train: int) -> list[float]:
    """The learning rate at every step of a run on `n_train` images."""
    per_epoch = steps_per_epoch(n_train, config.batch_size)
    total = per_epoch * config.epochs
    return [
        config.lr * lr_factor(config.schedule, s, total, per_epoch, config.step_every)
        for s in range(total)
    ]


def compute_loss(
    logits: torch.Tensor, y: torch.Tensor, config: TrainConfig, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy, or focal loss: cross-entropy scaled by (1 − p_true)^γ; for a regression,
    the mean squared error or the Huber loss (δ = 1) against float targets.

    Classes work per image (logits (N, K), targets (N,)) and per pixel (logits (N, K, H, W),
    targets (N, H, W)). A regression's outputs (N, k) meet targets (N,) or (N, k).
    """
    if config.task == "regress":
        out, target = logits.float(), y.float()
        out = out.reshape(target.shape) if out.numel() == target.numel() else out
        if config.loss == "huber":
            return F.huber_loss(out, target, delta=1.0)
        return F.mse_loss(out, target)
    ce = F.cross_entropy(
        logits, y, weight=weight, label_smoothing=config.label_smoothing, reduction="none"
    )
    if config.loss == "focal":
        p_true = torch.exp(-F.cross_entropy(logits.float(), y, reduction="none"))
        ce = (1 - p_true).pow(config.focal_gamma) * ce
    if weight is not None:  # PyTorch's weighted mean: divided by the batch's total weight
        return ce.sum() / weight[y].sum()
    return ce.mean()


def mask_iou(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each image's intersection over union of its foreground classes (class 0 is background),
    averaged over the classes present in the prediction or the truth; 1 when neither has any.

    pred, y: (N, H, W) class indices. Returns (N,) floats.
    """
    n, k = len(y), int(max(pred.max().item(), y.max().item())) + 1
    scores = torch.zeros(n, device=y.device)
    present = torch.zeros(n, device=y.device)
    for c in range(1, k):
        p, t = (pred == c).flatten(1), (y == c).flatten(1)
        union = (p | t).sum(1).float()
        inter = (p & t).sum(1).float()
        has = union > 0
        scores += torch.where(has, inter / union.clamp_min(1), 0.0)
        present += has.float()
    return torch.where(present > 0, scores / present.clamp_min(1), 1.0)


def count_correct(logits: torch.Tensor, y: torch.Tensor, task: str) -> float:
    """Right answers counted in images. For a pixel task, "accuracy" is each image's
    intersection over union (`mask_iou`), summed; a regression has no right answers (NaN)."""
    if task == "regress":
        return math.nan
    pred = logits.argmax(1)
    if task == "segment":
        return mask_iou(pred, y).sum().item()
    return (pred == y).sum().item()


PREVIEW_MASKS = 6  # validation images whose predicted masks each epoch report carries


@torch.no_grad()
def preview(model: nn.Module, batches: _Batches, task: str) -> torch.Tensor | None:
    """The model's answers on the first validation examples, for the live view (eval mode)."""
    if task == "classify":
        return None
    was_training = model.training
    model.eval()
    x = batches.val_x[:PREVIEW_MASKS] if task == "segment" else batches.val_x[:256]
    out = model(batches.normalize(x)).float()
    model.train(was_training)
    if task == "segment":
        return out.argmax(1).to(torch.uint8).cpu()
    return out.reshape(len(x), -1).cpu()


def input_stats(
    inputs: str, mean: tuple[float, ...], std: tuple[float, ...]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The (mean, std) that turn pixels/255 into what the network sees, for a config's `inputs`:
    the data's own statistics, (0, 1) for values in [0, 1], or (0, 1/255) for raw bytes. A
    trained model's bundle carries these, so every page feeds it as it was trained."""
    if inputs == "0 to 1":
        return (0.0,) * len(mean), (1.0,) * len(std)
    if inputs == "0 to 255":
        return (0.0,) * len(mean), (1 / 255,) * len(std)
    return tuple(mean), tuple(std)


@dataclass
class _Batches:
    """Shuffled uint8 batches, augmented on the run's stream, moved to the device, normalized."""

    data: PreparedData
    device: torch.device
    config: TrainConfig
    stream: RandomStream
    gen: torch.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.gen = torch.Generator().manual_seed(self.config.seed)
        mean, std = input_stats(self.config.inputs, self.data.mean, self.data.std)
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1)
        # On a GPU the uint8 images move there once (4× smaller than floats), and each batch is
        # cut out on the device; on the CPU they stay where they are.
        d, gpu = self.data, self.device.type == "cuda"
        self.train_x, self.train_y, self.val_x, self.val_y = (
            (t.to(self.device) if gpu else t) for t in (d.train_x, d.train_y, d.val_x, d.val_y)
        )
        spec, size = self.config.augmentation, tuple(self.data.train_x.shape[-2:])
        self.augment = build_pipeline(spec, size) if spec is not None else None

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 (N, C, H, W) images or (N, C, L) signals, scaled as the config's `inputs` says."""
        x = x.to(self.device).float().div_(255)
        view = (1, -1) + (1,) * (x.dim() - 2)
        return (x - self.mean.view(view)) / self.std.view(view)

    def order(self) -> torch.Tensor:
        """This epoch's image indices, drawn on the CPU (the same on any device)."""
        y = self.data.train_y
        if self.config.sampler == "balanced":  # each class the same expected share
            counts = torch.bincount(y).float()
            weights = (1.0 / counts.clamp_min(1))[y]
            return torch.multinomial(weights, len(y), replacement=True, generator=self.gen)
        return torch.randperm(len(y), generator=self.gen)

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        x, y = self.train_x, self.train_y
        order = self.order()
        aug, size = self.augment, self.config.batch_size
        for idx in order[: steps_per_epoch(len(y), size) * size].split(size):
            idx = idx.to(x.device)
            xb, yb = x[idx], y[idx]
            if aug is not None:
                with private_stream(self.stream):  # v2 transforms draw from the global generator
                    xb = torch.stack([aug(img) for img in xb])
            yield self.normalize(xb), yb


def _class_weights(y: torch.Tensor, k: int, device: torch.device) -> torch.Tensor:
    counts = torch.bincount(y.flatten(), minlength=k).float().clamp_min(1)
    return (counts.sum() / (k * counts)).to(device)


@torch.no_grad()
def validate(
    model: nn.Module, batches: _Batches, config: TrainConfig, weight: torch.Tensor | None = None
) -> tuple[float, float]:
    """Mean loss and accuracy on the validation split, in eval mode."""
    was_training = model.training
    model.eval()
    x, y = batches.val_x, batches.val_y
    total_loss, correct = 0.0, 0
    for xb, yb in zip(x.split(256), y.split(256), strict=True):
        logits = model(batches.normalize(xb)).float()
        total_loss += compute_loss(logits, yb, config, weight).item() * len(yb)
        correct += count_correct(logits, yb, config.task)
    model.train(was_training)
    return total_loss / len(y), correct / len(y)


def trainable_parameters(model: nn.Module, trainable: str) -> list[nn.Parameter]:
    """The parameters a run may change; with "last layer" every other one is frozen
    (`requires_grad` off), so only the last linear layer (a new head) learns."""
    if trainable == "all":
        return [p.requires_grad_(True) for p in model.parameters()]
    heads = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not heads:
        raise TrainingError("training the last layer alone needs a network with a linear layer")
    head = set(map(id, heads[-1].parameters()))
    for p in model.parameters():
        p.requires_grad_(id(p) in head)
    return list(heads[-1].parameters())


def _grad_norm(model: nn.Module) -> float:
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item() if grads else 0.0


def _autocast(device: torch.device):
    if device.type != "cuda":
        return torch.autocast("cpu", enabled=False), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=dtype == torch.float16)
    return torch.autocast("cuda", dtype=dtype), scaler


class _Loop:
    """The state of one run: optimizer, schedule, counters and the best weights so far."""

    def __init__(self, model: nn.Module, data: PreparedData, config: TrainConfig) -> None:
        self.model, self.config = model, config
        self.device = pick_device(config.device)
        self.stream = RandomStream(config.seed, numpy=False)  # v2 and dropout use torch's alone
        self.batches = _Batches(data, self.device, config, self.stream)
        k = len(data.class_names)
        self.weight = _class_weights(data.train_y, k, self.device) if config.class_weights else None
        params = trainable_parameters(model, config.trainable)
        self.opt = OPTIMIZERS[config.optimizer](params, config.lr, config.weight_decay)
        self.per_epoch = steps_per_epoch(len(data.train_y), config.batch_size)
        if self.per_epoch == 0:
            raise TrainingError("one training image is too few to train on: add images")
        # Dropout on the CPU draws from the global generator: run the forward on our stream.
        # (On a GPU it draws from the device's generator, which the stream does not cover.)
        draws = any(isinstance(m, RANDOM_MODULES) for m in model.modules())
        self.forward_stream = draws and self.device.type == "cpu"
        self.total = self.per_epoch * config.epochs
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, self._factor)
        self.autocast, self.scaler = _autocast(self.device)
        self.step = self.examples = 0
        self.window = [0.0, 0, 0]  # loss sum, correct, count since the last report
        self.epoch_sums = [0.0, 0, 0]
        self.grad_norm = math.nan
        self.start = self.last_time = time.perf_counter()
        self.last_examples = 0
        self.best: tuple[float, dict | None, int] = (math.inf, None, 0)
        self.first_loss = self.last_loss = math.nan  # where the loss started and ended

    def _factor(self, step: int) -> float:
        c = self.config
        return lr_factor(c.schedule, step, self.total, self.per_epoch, c.step_every)

    def train_step(self, xb: torch.Tensor, yb: torch.Tensor, epoch: int) -> None:
        stream = private_stream(self.stream) if self.forward_stream else nullcontext()
        with self.autocast, stream:
            logits = _forward(self.model, xb)
        loss = compute_loss(logits.float(), yb, self.config, self.weight)
        value = loss.item()
        if self.step == 0:
            self.first_loss = value
        if not math.isfinite(value):
            lr, now = self.config.lr, self.opt.param_groups[0]["lr"]
            where = "" if now == lr else f", {now:.3g} at that step"
            raise TrainingDiverged(
                f"The loss became {value} at step {self.step + 1} (epoch {epoch}), so training "
                f"stopped. The learning rate ({lr:g}{where}) is probably too high: try "
                f"{lr / 10:g}."
            )
        self.opt.zero_grad(set_to_none=True)
        self._backward(loss)
        self.sched.step()
        self.step += 1
        n, correct = len(yb), count_correct(logits, yb, self.config.task)
        self.examples += n
        for sums in (self.window, self.epoch_sums):
            sums[0] += value * n
            sums[1] += correct
            sums[2] += n

    def _backward(self, loss: torch.Tensor) -> None:
        scaler, clip = self.scaler, self.config.clip_grad
        if scaler is not None:
            scaler.scale(loss).backward()
            scaler.unscale_(self.opt)
        else:
            loss.backward()
        if clip > 0:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), clip)
            self.grad_norm = norm.item() if (self.step + 1) % self.config.log_every == 0 else 0.0
        elif (self.step + 1) % self.config.log_every == 0:
            self.grad_norm = _grad_norm(self.model)
        if scaler is not None:
            scaler.step(self.opt)
            scaler.update()
        else:
            self.opt.step()

    def report(self, kind: str, epoch: int, sums: list, **extra) -> TrainMetrics:
        now = time.perf_counter()
        speed = (self.examples - self.last_examples) / max(now - self.last_time, 1e-9)
        self.last_time, self.last_examples = now, self.examples
        loss, acc = (sums[0] / sums[2], sums[1] / sums[2]) if sums[2] else (math.nan, math.nan)
        if kind != "done" and math.isfinite(loss):
            self.last_loss = loss
        metrics = TrainMetrics(
            kind,
            epoch,
            self.step,
            self.total,
            self.examples,
            loss,
            acc,
            self.opt.param_groups[0]["lr"],
            speed,
            self.grad_norm,
            now - self.start,
            **extra,
        )
        sums[:] = [0.0, 0, 0]
        return metrics

    def end_epoch(self, epoch: int) -> TrainMetrics:
        val_loss, val_acc = validate(self.model, self.batches, self.config, self.weight)
        if val_loss < self.best[0]:
            state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            self.best = (val_loss, state, epoch)
        self.window = [0.0, 0, 0]
        shown = preview(self.model, self.batches, self.config.task)
        return self.report(
            "epoch", epoch, self.epoch_sums, val_loss=val_loss, val_acc=val_acc, preview=shown
        )

    def should_stop_early(self, epoch: int) -> bool:
        return self.config.patience > 0 and epoch - self.best[2] >= self.config.patience

    def diverged(self) -> bool:
        """True when the loss ended clearly above the loss of the first step."""
        return self.last_loss > DIVERGED_MARGIN * self.first_loss  # False while either is NaN

    def finish(self, epoch: int, why: str) -> TrainMetrics:
        diverged = self.diverged()
        notes = [divergence_message(self.first_loss, self.last_loss, self.config.lr)] * diverged
        if why:
            notes.append(why)
        _, state, best_epoch = self.best
        if self.config.restore_best and state is not None and best_epoch != epoch:
            self.model.load_state_dict(state)
            notes.append(f"Restored the weights of epoch {best_epoch}, the best on validation.")
        self.model.eval()
        return self.report("done", epoch, [0.0, 0, 0], note=" ".join(notes), diverged=diverged)


def divergence_message(first: float, last: float, lr: float) -> str:
    """What a diverged run tells its user: where the loss went and a learning rate to try."""
    return (
        f"Training diverged: the loss ended at {last:.3g}, above where it started ({first:.3g}). "
        f"The learning rate ({lr:g}) is probably too high: try {lr / 10:g}."
    )


def _forward(model: nn.Module, xb: torch.Tensor) -> torch.Tensor:
    """The model's output, with PyTorch's batchnorm complaint turned into a plain sentence."""
    try:
        return model(xb)
    except ValueError as err:
        if "Expected more than 1 value per channel" not in str(err):
            raise
        raise TrainingError(
            "Batchnorm needs more than one value per channel in each batch, and this batch "
            "gives it one: use a batch size of 2 or more."
        ) from None


def train(
    model: nn.Module,
    data: PreparedData,
    config: TrainConfig = TrainConfig(),
    stop: threading.Event | None = None,
) -> Iterator[TrainMetrics]:
    """Train `model` in place on `data`, yielding reports; set `stop` to end within a batch.

    Raises TrainingDiverged when the loss is NaN or infinite (the weights are not updated by
    that step). The same seed, data and model give the same curves (on the CPU), whatever other
    threads do meanwhile; torch's global random state is left as it was.
    """
    stop = stop or threading.Event()
    loop = _Loop(model.to(pick_device(config.device)), data, config)
    model.train()
    epoch, why = 0, ""
    for epoch in range(1, config.epochs + 1):
        for xb, yb in loop.batches.epoch():
            if stop.is_set():
                break
            loop.train_step(xb, yb, epoch)
            if loop.step % config.log_every == 0:
                yield loop.report("step", epoch, loop.window)
        if stop.is_set():
            why = f"Stopped at step {loop.step}."
            break
        yield loop.end_epoch(epoch)
        if loop.should_stop_early(epoch):
            why = f"Early stopping: no better validation loss for {config.patience} epochs."
            break
    yield loop.finish(epoch, why)


def copy_model(model: nn.Module) -> nn.Module:
    """An independent copy on the CPU, so a shared model is never trained."""
    return copy.deepcopy(model).cpu()

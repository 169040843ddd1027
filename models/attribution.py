"""Attribution: which pixels pushed the network towards a class, by Captum's methods.

Every method works in pixel space: the model is wrapped as `PixelModel` (normalization inside),
so a map or a perturbation is measured in the image's own [0, 1] units. Methods attribute the
logit of the target class, not its softmax probability. All of them run while the bundle's lock
is held, with the model in eval mode (restored afterwards); Captum removes its own hooks. The
methods that rewrite ReLU gradients (DeepLift, guided backprop, deconvolution, guided Grad-CAM)
run on a private deep copy whose ReLUs are fresh, non-inplace modules (see `relu_copy`).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from captum import attr as ca
from PIL import Image
from torch import nn

from models import blocks
from models.errors import CNNLabError
from models.activations import model_view
from models.bundle import ModelBundle

SIGNS = ("positive", "negative", "absolute", "all")
MAX_BATCH = 32  # internal batch size: bounds memory for steps, samples and windows


class AttributionError(CNNLabError):
    """An attribution that cannot be computed, with a reason a user can read."""


class Normalize(nn.Module):
    """(x − mean) / std per channel, as a module so gradients flow back to pixels."""

    def __init__(self, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


class PixelModel(nn.Module):
    """A network fed [0, 1] pixels: `normalize`, then `net` (the bundle's model, not a copy)."""

    def __init__(self, net: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]):
        super().__init__()
        self.normalize = Normalize(mean, std)
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.normalize(x))


def pixel_model(bundle: ModelBundle, net: nn.Module | None = None) -> PixelModel:
    return PixelModel(bundle.model if net is None else net, bundle.mean, bundle.std)


def prepare_pixels(image: Image.Image, bundle: ModelBundle) -> torch.Tensor:
    """The image resized for the model, un-normalized: (1, C, H, W) in [0, 1]."""
    pixels = model_view(image, bundle.input_shape)  # (H, W, C)
    return torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None].contiguous()


@contextmanager
def guarded(bundle: ModelBundle) -> Iterator[nn.Module]:
    """Hold the bundle's lock with its model in eval mode; restore each module's mode after."""
    with bundle.lock:
        modes = [(m, m.training) for m in bundle.model.modules()]
        bundle.model.eval()
        try:
            yield bundle.model
        finally:
            for module, mode in modes:
                module.training = mode


def predict(bundle: ModelBundle, x: torch.Tensor) -> np.ndarray:
    """Softmax probabilities (N, K) for pixels x (N, C, H, W) in [0, 1]."""
    with guarded(bundle), torch.no_grad():
        return torch.softmax(pixel_model(bundle)(x), dim=1).numpy()


class PlainReLU(nn.Module):
    """max(0, x) without being an `nn.ReLU`: Captum's ReLU rules leave it alone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x)


def _replace(root: nn.Module, pick: Callable[[str, nn.Module], nn.Module | None]) -> None:
    for parent_name, parent in list(root.named_modules(remove_duplicate=False)):
        for name, child in list(parent.named_children()):
            new = pick(f"{parent_name}.{name}".lstrip("."), child)
            if new is not None:
                setattr(parent, name, new)


def reused_modules(net: nn.Module, x: torch.Tensor) -> list[str]:
    """Names of the ReLU modules that run more than once in one forward pass of `net`."""
    calls: dict[str, int] = {}
    handles = [m.register_forward_hook(lambda *_, n=n: calls.__setitem__(n, calls.get(n, 0) + 1))
               for n, m in net.named_modules() if isinstance(m, nn.ReLU)]  # fmt: skip
    try:
        with torch.no_grad():
            net(x)
    finally:
        for handle in handles:
            handle.remove()
    return sorted(name for name, count in calls.items() if count > 1)


def relu_copy(bundle: ModelBundle, x: torch.Tensor) -> PixelModel:
    """A private pixel model with a fresh, non-inplace `nn.ReLU` per use.

    DeepLift and guided backprop keep state per ReLU module and rewrite its gradient, so one
    module used twice in a forward (torchvision's ResNet blocks; the MLP that CBAM runs on two
    pooled vectors) would mix two calls. Such a module becomes a `PlainReLU`, which those
    rules treat as an ordinary function.
    """
    net = copy.deepcopy(bundle.model).eval()
    _replace(net, lambda _n, m: nn.ReLU(inplace=False) if isinstance(m, nn.ReLU) else None)
    shared = set(reused_modules(pixel_model(bundle, net), x))
    _replace(net, lambda n, m: PlainReLU() if f"net.{n}" in shared else None)
    for p in net.parameters():
        p.requires_grad_(False)  # the copy only passes gradients on to the pixels
    return pixel_model(bundle, net)


def conv_layers(model: nn.Module) -> list[str]:
    """The names of the model's 2-D convolutions over features, input side first.

    CBAM's own 2→1 conv over pooled statistics is left out: it makes a gate, not features.
    """
    gates = tuple(f"{n}." for n, m in model.named_modules() if isinstance(m, blocks.CBAM))
    return [n for n, m in model.named_modules()
            if isinstance(m, nn.Conv2d) and not n.startswith(gates)]  # fmt: skip


@dataclass(frozen=True)
class Param:
    """One setting of a method, described as data so a page can make its widget."""

    key: str
    label: str
    default: Any
    low: float | None = None
    high: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()  # for a choice; a "layer" is chosen among conv_layers()
    kind: str = "float"  # "int", "float", "choice" or "layer"


@dataclass(frozen=True)
class Job:
    """What a method's computation needs: the pixel model, input, target and settings."""

    model: PixelModel
    x: torch.Tensor  # (1, C, H, W) in [0, 1]
    target: int
    settings: dict[str, Any]

    def layer(self) -> nn.Module:
        name = self.settings["layer"]
        modules = dict(self.model.net.named_modules())
        if name not in modules:
            raise AttributionError(f"the model has no layer called {name!r}")
        return modules[name]

    def baseline(self) -> torch.Tensor:
        level = {"black": 0.0, "gray": 0.5, "white": 1.0}[self.settings.get("baseline", "black")]
        return torch.full_like(self.x, level)

    def noise(self) -> float:
        """The noise std in pixels: a share of the input's own range (not Captum's 1.0)."""
        span = float(self.x.max() - self.x.min()) or 1.0
        return float(self.settings.get("noise", 0.15)) * span


@dataclass(frozen=True)
class Method:
    """One attribution method: what it is, its settings, and how it runs."""

    name: str
    about: str
    run: Callable[[Job], torch.Tensor] = field(repr=False)
    params: tuple[Param, ...] = ()
    needs_relu_copy: bool = False

    def defaults(self, bundle: ModelBundle | None = None) -> dict[str, Any]:
        values = {p.key: p.default for p in self.params}
        if "layer" in values and bundle is not None:
            values["layer"] = default_layer(bundle.model)
        return values

    def attribute(self, bundle: ModelBundle, x: torch.Tensor, target: int,
                  **settings: Any) -> torch.Tensor:  # fmt: skip
        """A map the shape of x, for the target class's logit; neither x nor the model changes."""
        if not 0 <= target < len(bundle.class_names):
            raise AttributionError(f"there is no class {target}; the model has "
                                   f"{len(bundle.class_names)} classes")  # fmt: skip
        values = self.defaults(bundle) | settings
        x = x.detach().clone()
        with guarded(bundle):
            model = relu_copy(bundle, x) if self.needs_relu_copy else pixel_model(bundle)
            out = self.run(Job(model, x, target, values))
        return out.detach().expand_as(x).clone()


def compute_attributions(
    bundle: ModelBundle,
    x: torch.Tensor,
    target: int,
    requests: dict[str, dict[str, Any]],
    progress: Callable[[float], None] | None = None,
) -> dict[str, np.ndarray]:
    """Each requested method's (C, H, W) map for the target; a failure names its method."""
    maps = {}
    for i, (name, settings) in enumerate(requests.items()):
        if name not in ATTRIBUTION_METHODS:
            raise AttributionError(f"unknown method {name!r}")
        try:
            maps[name] = ATTRIBUTION_METHODS[name].attribute(bundle, x, target, **settings)[0]
        except (RuntimeError, ValueError) as err:
            raise AttributionError(f"{name} failed on this model: {err}") from None
        if progress is not None:
            progress((i + 1) / len(requests))
    return {name: m.numpy() for name, m in maps.items()}


def npy_bytes(array: np.ndarray) -> bytes:
    """An array as the bytes of a NumPy .npy file."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def default_layer(model: nn.Module) -> str:
    layers = conv_layers(model)
    if not layers:
        raise AttributionError("this model has no convolution layer to attribute to")
    return layers[-1]


def grid_mask(height: int, width: int, cells: int) -> torch.Tensor:
    """Superpixels as a grid: (1, 1, H, W) labels, `cells` × `cells` blocks (or fewer)."""
    rows = torch.arange(height) * min(cells, height) // height
    cols = torch.arange(width) * min(cells, width) // width
    return (rows[:, None] * min(cells, width) + cols[None, :])[None, None]


def _upsampled(layer_map: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return ca.LayerAttribution.interpolate(layer_map, tuple(x.shape[2:]), "bilinear")


def _steps(job: Job) -> int:
    return int(job.settings.get("steps", 32))


def _ig(job: Job) -> torch.Tensor:
    return ca.IntegratedGradients(job.model).attribute(
        job.x, job.baseline(), target=job.target, n_steps=_steps(job),
        internal_batch_size=min(_steps(job), MAX_BATCH))  # fmt: skip


def _smooth(inner: Callable, **kw: Any) -> Callable[[Job], torch.Tensor]:
    def run(job: Job) -> torch.Tensor:
        samples = int(job.settings.get("samples", 10))
        tunnel = ca.NoiseTunnel(inner(job.model))
        with torch.random.fork_rng(devices=[]):  # the noise is seeded, and the caller's RNG kept
            torch.manual_seed(int(job.settings.get("seed", 0)))
            return tunnel.attribute(job.x, nt_type="smoothgrad", nt_samples=samples,
                                    nt_samples_batch_size=min(samples, MAX_BATCH),
                                    stdevs=job.noise(), target=job.target,
                                    **{k: f(job) for k, f in kw.items()})  # fmt: skip

    return run


def _gradient_shap(job: Job) -> torch.Tensor:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(job.settings.get("seed", 0)))
        baselines = torch.cat([job.x * 0, job.x * 0 + 1, torch.rand_like(job.x)])
        return ca.GradientShap(job.model).attribute(
            job.x, baselines, n_samples=int(job.settings.get("samples", 20)),
            stdevs=job.noise(), target=job.target)  # fmt: skip


def _occlusion(job: Job) -> torch.Tensor:
    c, h, w = job.x.shape[1:]
    side = max(1, round(min(h, w) * float(job.settings.get("window", 15)) / 100))
    stride = max(1, round(side * float(job.settings.get("stride", 50)) / 100))
    return ca.Occlusion(job.model).attribute(
        job.x, sliding_window_shapes=(c, side, side), strides=(c, stride, stride),
        baselines=job.baseline(), target=job.target, perturbations_per_eval=MAX_BATCH)  # fmt: skip


def _ablation(job: Job) -> torch.Tensor:
    mask = grid_mask(*job.x.shape[2:], int(job.settings.get("cells", 8)))
    return ca.FeatureAblation(job.model).attribute(
        job.x, baselines=job.baseline(), target=job.target, feature_mask=mask,
        perturbations_per_eval=MAX_BATCH)  # fmt: skip


def _gradcam(job: Job) -> torch.Tensor:
    cam = ca.LayerGradCam(job.model, job.layer()).attribute(job.x, target=job.target)
    return torch.relu(_upsampled(cam, job.x))  # (1, 1, H, W): positive evidence only


def _layer_activation(job: Job) -> torch.Tensor:
    act = ca.LayerActivation(job.model, job.layer()).attribute(job.x)
    return _upsampled(act.mean(dim=1, keepdim=True), job.x)


def _simple(cls: type, **kw: Any) -> Callable[[Job], torch.Tensor]:
    return lambda job: cls(job.model).attribute(job.x, target=job.target, **kw)


STEPS = Param("steps", "Integration steps", 32, 2, 200, 1, kind="int")
SAMPLES = Param("samples", "Noisy samples", 10, 2, 100, 1, kind="int")
NOISE = Param("noise", "Noise std (share of the pixel range)", 0.15, 0.0, 1.0, 0.01)
SEED = Param("seed", "Random seed", 0, 0, 10_000, 1, kind="int")
BASELINE = Param("baseline", "Baseline image", "black", choices=("black", "gray", "white"),
                 kind="choice")  # fmt: skip
LAYER = Param("layer", "Convolution layer", "", kind="layer")

ATTRIBUTION_METHODS: dict[str, Method] = {m.name: m for m in (
    Method("Saliency", "The gradient of the class score: how fast it moves per pixel.",
           _simple(ca.Saliency, abs=False)),
    Method("Integrated gradients", "Gradients averaged on the straight path from a baseline "
           "image to yours; the map adds up to the score difference (Sundararajan et al., 2017).",
           _ig, (STEPS, BASELINE)),
    Method("SmoothGrad (integrated gradients)", "Integrated gradients averaged over noisy "
           "copies of the image (Smilkov et al., 2017).",
           _smooth(ca.IntegratedGradients, n_steps=_steps,
                   internal_batch_size=lambda j: min(_steps(j), MAX_BATCH)),
           (SAMPLES, NOISE, SEED, Param("steps", "Integration steps", 8, 2, 50, 1, kind="int"))),
    Method("SmoothGrad (saliency)", "The gradient averaged over noisy copies of the image: "
           "less speckle (Smilkov et al., 2017).",
           _smooth(ca.Saliency, abs=lambda _j: False), (SAMPLES, NOISE, SEED)),
    Method("Input × gradient", "Each pixel's value times its gradient.",
           _simple(ca.InputXGradient)),
    Method("Guided backprop", "The gradient with every negative signal stopped at each ReLU "
           "on the way back (Springenberg et al., 2015).",
           _simple(ca.GuidedBackprop), needs_relu_copy=True),
    Method("Deconvolution", "Like guided backprop, but a ReLU passes back only positive "
           "gradients, whatever its input (Zeiler and Fergus, 2014).",
           _simple(ca.Deconvolution), needs_relu_copy=True),
    Method("DeepLift", "Differences from a baseline image passed back layer by layer "
           "(Shrikumar et al., 2017).",
           lambda j: ca.DeepLift(j.model).attribute(j.x, j.baseline(), target=j.target),
           (BASELINE,), needs_relu_copy=True),
    Method("GradientShap", "Gradients at random points between noisy copies of the image and "
           "black, white and random baselines (Lundberg and Lee, 2017).",
           _gradient_shap, (Param("samples", "Samples", 20, 2, 200, 1, kind="int"), NOISE,
                            SEED)),  # fmt: skip
    Method("Occlusion", "Cover a square patch, slide it, and see how much the score falls "
           "(Zeiler and Fergus, 2014).", _occlusion,
           (Param("window", "Window (% of the image side)", 15, 3, 50, 1, kind="int"),
            Param("stride", "Stride (% of the window)", 50, 10, 100, 5, kind="int"), BASELINE)),
    Method("Grad-CAM", "A conv layer's maps weighted by their mean gradient, upsampled, "
           "negatives cut (Selvaraju et al., 2017).", _gradcam, (LAYER,)),
    Method("Guided Grad-CAM", "Grad-CAM times guided backprop: where, and which fine "
           "detail (Selvaraju et al., 2017).",
           lambda j: ca.GuidedGradCam(j.model, j.layer()).attribute(
               j.x, target=j.target, interpolate_mode="bilinear"),
           (LAYER,), needs_relu_copy=True),
    Method("Feature ablation (superpixels)", "Blank out one grid cell at a time and see how "
           "much the score falls.", _ablation,
           (Param("cells", "Cells per side", 8, 2, 32, 1, kind="int"), BASELINE)),
    Method("Layer activation", "How strongly a conv layer fires at each place (mean over its "
           "channels): not about any class.", _layer_activation, (LAYER,)),
)}  # fmt: skip


def heatmap(
    attribution: np.ndarray, sign: str = "absolute", percentile: float = 99.0
) -> np.ndarray:
    """(C, H, W) attribution -> (H, W) map in [0, 1] ([-1, 1] for sign "all").

    Channels are summed; values beyond the given percentile of |map| are clipped so a few
    extreme pixels do not wash out the rest.
    """
    if sign not in SIGNS:
        raise AttributionError(f"unknown sign {sign!r}; choose one of {SIGNS}")
    m = np.asarray(attribution, dtype=np.float64).sum(axis=0)
    m = {"positive": np.maximum(m, 0), "negative": np.maximum(-m, 0), "absolute": np.abs(m),
         "all": m}[sign]  # fmt: skip
    scale = float(np.percentile(np.abs(m), percentile)) if m.size else 0.0
    if scale <= 0 or not np.isfinite(scale):
        return np.zeros_like(m, dtype=np.float32)
    return np.clip(m / scale, -1.0, 1.0).astype(np.float32)

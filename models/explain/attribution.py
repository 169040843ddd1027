"""Attribution: which pixels pushed the network towards a class, by Captum's methods.

Every method works in pixel space: the model is wrapped as `PixelModel` (normalization inside),
so a map or a perturbation is measured in the image's own [0, 1] units. Methods attribute the
logit of the target class, not its softmax probability. All of them run while the bundle's lock
is held, with the model in eval mode (restored afterwards); Captum removes its own hooks. The
methods that rewrite ReLU gradients (DeepLift, guided backprop, deconvolution, guided Grad-CAM)
run on a private deep copy whose ReLUs are fresh, non-inplace modules (see `relu_copy`).
Random draws (SmoothGrad's noise, GradientShap's baselines and points) come from a
`torch.Generator` seeded by the method's own setting, never from torch's global generator,
which every session shares.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from captum import attr as ca
from PIL import Image
from torch import nn

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.explain.layers import conv_layers, rectified_layer, relu_copy
from models.inputs import PixelModel, bundle_pixels, guarded, pixel_model
from models.params import Param

SIGNS = ("positive", "negative", "absolute", "all")
MAX_BATCH = 32  # internal batch size: bounds memory for steps, samples and windows


class AttributionError(CNNLabError):
    """An attribution that cannot be computed, with a reason a user can read."""


def prepare_pixels(image: Image.Image, bundle: ModelBundle) -> torch.Tensor:
    """The image resized for the model, un-normalized: (1, C, H, W) in [0, 1].

    `models.inputs.bundle_pixels`: the same pixels every page feeds the model.
    """
    return bundle_pixels(bundle, image)


def predict(bundle: ModelBundle, x: torch.Tensor) -> np.ndarray:
    """Softmax probabilities (N, K) for pixels x (N, C, H, W) in [0, 1]."""
    with guarded(bundle), torch.no_grad():
        return torch.softmax(pixel_model(bundle)(x), dim=1).numpy()


@dataclass(frozen=True)
class Job:
    """What a method's computation needs: the pixel model, input, target and settings."""

    model: PixelModel
    x: torch.Tensor  # (1, C, H, W) in [0, 1]
    target: int
    settings: dict[str, Any]

    def layer(self) -> tuple[nn.Module, bool]:
        """The module holding the chosen conv's maps after their activation, and whether they
        are its input (see `rectified_layer`)."""
        name = self.settings["layer"]
        modules = dict(self.model.net.named_modules())
        if name not in modules:
            raise AttributionError(f"the model has no layer called {name!r}")
        where, of_input = rectified_layer(self.model.net, name, self.model.normalize(self.x))
        return modules[where], of_input

    def baseline(self) -> torch.Tensor:
        level = {"black": 0.0, "gray": 0.5, "white": 1.0}[self.settings.get("baseline", "black")]
        return torch.full_like(self.x, level)

    def noise(self) -> float:
        """The noise std in pixels: a share of the input's own range (Smilkov et al.'s σ)."""
        span = float(self.x.max() - self.x.min()) or 1.0
        return float(self.settings.get("noise", 0.15)) * span

    def generator(self) -> torch.Generator:
        """A private generator seeded by the method's seed: the global one is never touched."""
        return torch.Generator().manual_seed(int(self.settings.get("seed", 0)))


@dataclass(frozen=True)
class Completeness:
    """How well a map adds up to the score difference it explains, F(x) − F(x′), in logits.

    Integrated gradients and DeepLift promise total ≈ gap; `delta` is Captum's convergence
    delta, total − gap, which more integration steps bring towards 0.
    """

    total: float  # the sum of the map
    gap: float  # the target logit on the image minus on the baseline
    delta: float

    def sentence(self) -> str:
        """The check in words, for a caption beside the map."""
        share = f" ({abs(self.delta / self.gap):.1%} of the difference)" if self.gap else ""
        return (
            f"the map adds up to {self.total:.3f}; the logit is {self.gap:.3f} higher on the "
            f"image than on the baseline; convergence delta {self.delta:+.4f}{share}"
        )


@dataclass(frozen=True)
class Attribution:
    """One method's map (C, H, W) for the target, and its completeness check where it has one."""

    map: np.ndarray
    completeness: Completeness | None = None


Runner = Callable[[Job], "torch.Tensor | tuple[torch.Tensor, torch.Tensor]"]


@dataclass(frozen=True)
class Method:
    """One attribution method: what it is, its settings, and how it runs.

    `run` returns the map, or (map, Captum's convergence delta) for a method that has one.
    """

    name: str
    about: str
    run: Runner = field(repr=False)
    params: tuple[Param, ...] = ()
    needs_relu_copy: bool = False

    def defaults(self, bundle: ModelBundle | None = None) -> dict[str, Any]:
        values = {p.name: p.default for p in self.params}
        if "layer" in values and bundle is not None:
            values["layer"] = default_layer(bundle.model)
        return values

    def attribute(
        self, bundle: ModelBundle, x: torch.Tensor, target: int, **settings: Any
    ) -> torch.Tensor:
        """A map the shape of x, for the target class's logit; neither x nor the model changes."""
        return self.compute(bundle, x, target, **settings)[0]

    def compute(
        self, bundle: ModelBundle, x: torch.Tensor, target: int, **settings: Any
    ) -> tuple[torch.Tensor, Completeness | None]:
        """The map, and for methods that promise to add up to F(x) − F(x′), how well they do."""
        if not 0 <= target < len(bundle.class_names):
            raise AttributionError(
                f"there is no class {target}; the model has {len(bundle.class_names)} classes"
            )
        values = self.defaults(bundle) | settings
        for p in self.params:
            if p is not LAYER:  # a layer is checked against the model by `Job.layer`
                values[p.name] = p.check(values[p.name])
        x = x.detach().clone()
        with guarded(bundle):
            model = relu_copy(bundle, x) if self.needs_relu_copy else pixel_model(bundle)
            job = Job(model, x, target, values)
            out = self.run(job)
            check = None
            if isinstance(out, tuple):
                out, delta = out
                with torch.no_grad():
                    gap = float(model(x)[0, target] - model(job.baseline())[0, target])
                check = Completeness(float(out.detach().sum()), gap, float(delta.sum()))
        return out.detach().expand_as(x).clone(), check


def compute_attributions(
    bundle: ModelBundle,
    x: torch.Tensor,
    target: int,
    requests: dict[str, dict[str, Any]],
    progress: Callable[[float], None] | None = None,
) -> dict[str, Attribution]:
    """Each requested method's (C, H, W) map for the target; a failure names its method."""
    results = {}
    for i, (name, settings) in enumerate(requests.items()):
        if name not in ATTRIBUTION_METHODS:
            raise AttributionError(f"unknown method {name!r}")
        try:
            out, check = ATTRIBUTION_METHODS[name].compute(bundle, x, target, **settings)
        except (RuntimeError, ValueError) as err:
            if isinstance(err, CNNLabError):
                raise
            raise AttributionError(f"{name} failed on this model: {err}") from None
        results[name] = Attribution(out[0].numpy(), check)
        if progress is not None:
            progress((i + 1) / len(requests))
    return results


def npy_bytes(array: np.ndarray) -> bytes:
    """An array as the bytes of a NumPy .npy file."""
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def default_layer(model: nn.Module) -> str:
    """The last conv layer: the one Grad-CAM reads by default (Selvaraju et al., 2017)."""
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


def _ig(job: Job) -> tuple[torch.Tensor, torch.Tensor]:
    return ca.IntegratedGradients(job.model).attribute(
        job.x,
        job.baseline(),
        target=job.target,
        n_steps=_steps(job),
        internal_batch_size=min(_steps(job), MAX_BATCH),
        return_convergence_delta=True,
    )


def _gradients(model: nn.Module, points: torch.Tensor, target: int) -> torch.Tensor:
    """The target logit's gradient at each of the points (N, C, H, W), in batches."""
    saliency = ca.Saliency(model)
    return torch.cat(
        [saliency.attribute(part, target=target, abs=False) for part in points.split(MAX_BATCH)]
    )


def _noisy_copies(job: Job, n: int, gen: torch.Generator) -> torch.Tensor:
    """n copies of the image with Gaussian noise of std `job.noise()`: (n, C, H, W)."""
    return job.x + torch.randn((n, *job.x.shape[1:]), generator=gen) * job.noise()


def _smoothgrad_saliency(job: Job) -> torch.Tensor:
    """The gradient averaged over noisy copies (Smilkov et al., 2017)."""
    noisy = _noisy_copies(job, int(job.settings.get("samples", 10)), job.generator())
    return _gradients(job.model, noisy, job.target).mean(0, keepdim=True)


def _smoothgrad_ig(job: Job) -> torch.Tensor:
    """Integrated gradients of each noisy copy, from the same baseline, averaged."""
    noisy = _noisy_copies(job, int(job.settings.get("samples", 10)), job.generator())
    ig = ca.IntegratedGradients(job.model)
    parts = [
        ig.attribute(
            part,
            job.baseline().expand_as(part),
            target=job.target,
            n_steps=_steps(job),
            internal_batch_size=MAX_BATCH,
        )
        for part in noisy.split(max(1, MAX_BATCH // _steps(job)))
    ]
    return torch.cat(parts).mean(0, keepdim=True)


def gradient_shap(
    model: nn.Module,
    x: torch.Tensor,
    baselines: torch.Tensor,
    target: int,
    samples: int,
    noise: float,
    gen: torch.Generator,
) -> torch.Tensor:
    """GradientShap (Lundberg and Lee, 2017, as Captum computes it) on draws from `gen`.

    Each sample takes a noisy copy x̃ of x, a baseline x′ drawn from `baselines` and a point
    x′ + α(x̃ − x′) with α uniform in [0, 1]; the map is the mean of (x̃ − x′) × the gradient
    there: the expected value of integrated gradients over baselines.
    """
    noisy = x + torch.randn((samples, *x.shape[1:]), generator=gen) * noise
    base = baselines[torch.randint(len(baselines), (samples,), generator=gen)]
    alpha = torch.rand((samples, 1, 1, 1), generator=gen)
    grads = _gradients(model, base + alpha * (noisy - base), target)
    return (grads * (noisy - base)).mean(0, keepdim=True)


def _gradient_shap(job: Job) -> torch.Tensor:
    gen = job.generator()
    baselines = torch.cat([job.x * 0, job.x * 0 + 1, torch.rand(job.x.shape, generator=gen)])
    return gradient_shap(
        job.model,
        job.x,
        baselines,
        job.target,
        int(job.settings.get("samples", 20)),
        job.noise(),
        gen,
    )


def _deeplift(job: Job) -> tuple[torch.Tensor, torch.Tensor]:
    return ca.DeepLift(job.model).attribute(
        job.x, job.baseline(), target=job.target, return_convergence_delta=True
    )


def _occlusion(job: Job) -> torch.Tensor:
    c, h, w = job.x.shape[1:]
    side = max(1, round(min(h, w) * float(job.settings.get("window", 15)) / 100))
    stride = max(1, round(side * float(job.settings.get("stride", 50)) / 100))
    return ca.Occlusion(job.model).attribute(
        job.x,
        sliding_window_shapes=(c, side, side),
        strides=(c, stride, stride),
        baselines=job.baseline(),
        target=job.target,
        perturbations_per_eval=MAX_BATCH,
    )


def _ablation(job: Job) -> torch.Tensor:
    mask = grid_mask(*job.x.shape[2:], int(job.settings.get("cells", 8)))
    return ca.FeatureAblation(job.model).attribute(
        job.x,
        baselines=job.baseline(),
        target=job.target,
        feature_mask=mask,
        perturbations_per_eval=MAX_BATCH,
    )


def _gradcam(job: Job) -> torch.Tensor:
    """ReLU(Σ_k α_k A^k) on the layer's rectified maps A, then upsampled (Selvaraju et al.)."""
    layer, of_input = job.layer()
    cam = ca.LayerGradCam(job.model, layer).attribute(
        job.x, target=job.target, relu_attributions=True, attribute_to_layer_input=of_input
    )
    return _upsampled(cam, job.x)  # (1, 1, H, W); bilinear keeps it non-negative


def _guided_gradcam(job: Job) -> torch.Tensor:
    layer, of_input = job.layer()
    return ca.GuidedGradCam(job.model, layer).attribute(
        job.x, target=job.target, interpolate_mode="bilinear", attribute_to_layer_input=of_input
    )


def _layer_activation(job: Job) -> torch.Tensor:
    layer, of_input = job.layer()
    act = ca.LayerActivation(job.model, layer).attribute(job.x, attribute_to_layer_input=of_input)
    return _upsampled(act.mean(dim=1, keepdim=True), job.x)


def _simple(cls: type, **kw: Any) -> Runner:
    return lambda job: cls(job.model).attribute(job.x, target=job.target, **kw)


STEPS = Param("steps", "Integration steps", 32, 2, 200, 1, typed=True)
SAMPLES = Param("samples", "Noisy samples", 10, 2, 100, 1, typed=True)
NOISE = Param("noise", "Noise std (share of the pixel range)", 0.15, 0.0, 1.0, 0.01, typed=True)
SEED = Param("seed", "Random seed", 0, 0, 10_000, 1, typed=True)
BASELINE = Param("baseline", "Baseline image x′", "black", options=("black", "gray", "white"))
# The layer's options are the model's conv layers (`conv_layers`), filled in by the page.
LAYER = Param("layer", "Convolution layer (its maps after the activation)", "")

ATTRIBUTION_METHODS: dict[str, Method] = {
    m.name: m
    for m in (
        Method(
            "Saliency",
            "The gradient of the class score with respect to each pixel: how fast "
            "the score moves per pixel (Simonyan, Vedaldi and Zisserman, 2014).",
            _simple(ca.Saliency, abs=False),
        ),
        Method(
            "Integrated gradients",
            "(x − x′) times the gradient averaged along the straight "
            "path from a baseline image x′ to yours. The map adds up to the score difference "
            "F(x) − F(x′); Captum's convergence delta says how far it is off "
            "(Sundararajan, Taly and Yan, 2017).",
            _ig,
            (STEPS, BASELINE),
        ),
        Method(
            "SmoothGrad (integrated gradients)",
            "Integrated gradients of noisy copies of the image, averaged (Smilkov et al., 2017).",
            _smoothgrad_ig,
            (SAMPLES, NOISE, SEED, Param("steps", "Integration steps", 8, 2, 50, 1, typed=True)),
        ),
        Method(
            "SmoothGrad (saliency)",
            "The gradient averaged over noisy copies of the image: "
            "less speckle (Smilkov et al., 2017).",
            _smoothgrad_saliency,
            (SAMPLES, NOISE, SEED),
        ),
        Method(
            "Input × gradient",
            "Each pixel's value times its gradient (Shrikumar et al., 2016).",
            _simple(ca.InputXGradient),
        ),
        Method(
            "Guided backprop",
            "The gradient with every negative signal stopped at each ReLU "
            "on the way back, and wherever the ReLU's input was negative "
            "(Springenberg et al., 2015).",
            _simple(ca.GuidedBackprop),
            needs_relu_copy=True,
        ),
        Method(
            "Deconvolution",
            "Like guided backprop, but a ReLU passes back only positive "
            "gradients, whatever its input was (Zeiler and Fergus, 2014).",
            _simple(ca.Deconvolution),
            needs_relu_copy=True,
        ),
        Method(
            "DeepLift",
            "Differences from a baseline image x′ passed back layer by layer "
            "(rescale rule); the map adds up to F(x) − F(x′) (Shrikumar, Greenside and "
            "Kundaje, 2017).",
            _deeplift,
            (BASELINE,),
            needs_relu_copy=True,
        ),
        Method(
            "GradientShap",
            "(x̃ − x′) times the gradient at a random point between x′ and x̃, "
            "averaged over samples: x̃ a noisy copy of the image, x′ drawn from black, white and "
            "random baselines. It adds up to the score difference only on average "
            "(Lundberg and Lee, 2017).",
            _gradient_shap,
            (Param("samples", "Samples", 20, 2, 200, 1, typed=True), NOISE, SEED),
        ),
        Method(
            "Occlusion",
            "Cover a square patch with the baseline, slide it, and see how much "
            "the score falls (Zeiler and Fergus, 2014).",
            _occlusion,
            (
                Param("window", "Window (% of the image side)", 15, 3, 50, 1, typed=True),
                Param("stride", "Stride (% of the window)", 50, 10, 100, 5, typed=True),
                BASELINE,
            ),
        ),
        Method(
            "Grad-CAM",
            "A conv layer's maps after their ReLU, weighted by their mean gradient "
            "and summed; negatives cut, then upsampled to the image (Selvaraju et al., 2017).",
            _gradcam,
            (LAYER,),
        ),
        Method(
            "Guided Grad-CAM",
            "Grad-CAM times guided backprop: where, and which fine "
            "detail (Selvaraju et al., 2017).",
            _guided_gradcam,
            (LAYER,),
            needs_relu_copy=True,
        ),
        Method(
            "Feature ablation (superpixels)",
            "Replace one grid cell at a time with the "
            "baseline and see how much the score falls (Captum's feature ablation).",
            _ablation,
            (Param("cells", "Cells per side", 8, 2, 32, 1, typed=True), BASELINE),
        ),
        Method(
            "Layer activation",
            "How strongly a conv layer fires at each place, after its "
            "activation (mean over its channels): not about any class.",
            _layer_activation,
            (LAYER,),
        ),
    )
}


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
    m = {
        "positive": np.maximum(m, 0),
        "negative": np.maximum(-m, 0),
        "absolute": np.abs(m),
        "all": m,
    }[sign]
    scale = float(np.percentile(np.abs(m), percentile)) if m.size else 0.0
    if scale <= 0 or not np.isfinite(scale):
        return np.zeros_like(m, dtype=np.float32)
    return np.clip(m / scale, -1.0, 1.0).astype(np.float32)

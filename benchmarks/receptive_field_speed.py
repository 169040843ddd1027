"""How long receptive fields take, against one plain forward pass of the same model.

Run: python -m benchmarks.receptive_field_speed
Theoretical fields of ResNet-50, VGG-16 and MobileNet v3 (224×224, untrained weights, no
download) should take under 2 s each; the effective field of TinyVGG over 16 images under 1 s.
Each line prints the best of a few runs and its ratio to a forward pass of one image (for the
effective field: of the 16 images) timed in the same process, since absolute times vary.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchvision

from benchmarks.timing import best_s
from models.bundle import untrained_bundle
from models.inspect import effective_field as erf
from models.inspect import receptive_field as rf
from models.network.presets import PRESETS


def forward(model: torch.nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        with torch.no_grad():
            return model(x)

    return run


def main() -> None:
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name in ("resnet50", "vgg16", "mobilenet_v3_small"):
        model = getattr(torchvision.models, name)(weights=None).eval()
        fields = lambda m=model: rf._trace_fields(m, (3, 224, 224))  # noqa: E731 (no cache)
        t_rf = best_s(fields)
        t_fwd = best_s(forward(model, torch.zeros(1, 3, 224, 224)))
        print(
            f"{name:20s} fields {t_rf:6.3f} s   forward {t_fwd:6.3f} s   "
            f"ratio {t_rf / t_fwd:5.2f}   {'OK' if t_rf < 2 else 'SLOW'} (< 2 s)"
        )
    bundle = untrained_bundle(PRESETS["TinyVGG (CNN Explainer)"].spec)
    inputs = erf.sample_inputs(bundle, 16, seed=0)
    rf.compute_receptive_fields(bundle.model, bundle.input_shape)  # the page has it cached
    t_erf = best_s(lambda: erf.compute_effective_field(bundle, "conv4", inputs))
    t_fwd = best_s(forward(bundle.model, inputs))
    print(
        f"{'TinyVGG ERF x16':20s} effect {t_erf:6.3f} s   forward {t_fwd:6.3f} s   "
        f"ratio {t_erf / t_fwd:5.2f}   {'OK' if t_erf < 1 else 'SLOW'} (< 1 s)"
    )


if __name__ == "__main__":
    main()

"""Ready-made networks to start from, each a `NetworkSpec` with a line about where it comes from.

Numbers in a description (parameters, receptive fields) are not typed in: `{params}` and `{rf}`
are filled from `models.network.geometry.analyze` of the preset's own spec.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.network.spec import ConvSpec, NetworkSpec


@dataclass(frozen=True)
class Preset:
    spec: NetworkSpec
    about: str


def facts(spec: NetworkSpec) -> dict[str, str]:
    """The numbers a description may cite: parameters, and the last conv's receptive field."""
    from models.network.geometry import analyze

    infos = analyze(spec)
    convs = [info for info in infos if isinstance(info.layer, ConvSpec)]
    side = convs[-1].rf.size if convs else None
    return {"params": f"{sum(i.params for i in infos):,}", "rf": f"{side}×{side}"}


def _preset(spec: NetworkSpec, about: str) -> Preset:
    return Preset(spec, about.format(**facts(spec)))


def _net(shape: list[int], layers: list[dict]) -> NetworkSpec:
    return NetworkSpec.from_dict({"input": shape, "layers": layers})


def _conv(out: int, k: int = 3, **kw) -> dict:
    return {"type": "conv", "out_channels": out, "kernel_size": k, **kw}


RELU, FLAT = {"type": "relu"}, {"type": "flatten"}
BN = {"type": "batchnorm"}


def _pool(kind: str = "maxpool", k: int = 2, **kw) -> dict:
    return {"type": kind, "kernel_size": k, **kw}


def _fc(n: int) -> dict:
    return {"type": "linear", "out_features": n}


PRESETS: dict[str, Preset] = {
    "TinyVGG (CNN Explainer)": _preset(
        _net(
            [3, 64, 64],
            [
                _conv(10),
                RELU,
                _conv(10),
                RELU,
                _pool(),
                _conv(10),
                RELU,
                _conv(10),
                RELU,
                _pool(),
                FLAT,
                _fc(10),
            ],
        ),
        "The network inside CNN Explainer (Wang et al., 2020): two blocks of two 3×3 convs, "
        "no padding, {params} parameters.",
    ),
    "LeNet-5": _preset(
        _net(
            [1, 32, 32],
            [
                _conv(6, 5),
                {"type": "tanh"},
                _pool("avgpool"),
                _conv(16, 5),
                {"type": "tanh"},
                _pool("avgpool"),
                FLAT,
                _fc(120),
                {"type": "tanh"},
                _fc(84),
                {"type": "tanh"},
                _fc(10),
            ],
        ),
        "The modern, simplified LeNet-5, not LeCun et al.'s (1998) original: 5×5 convs, "
        "average pooling and tanh on 32×32 digits, but every second-layer filter reads all six "
        "first-layer maps (the original wired each to only some), the pooling has no weights "
        "of its own, and a plain linear layer replaces the original's Gaussian (RBF) output "
        "units; {params} parameters.",
    ),
    "ConvNetJS MNIST": _preset(
        _net(
            [1, 24, 24],
            [
                _conv(8, 5, padding=2),
                RELU,
                _pool(),
                _conv(16, 5, padding=2),
                RELU,
                _pool(k=3),
                FLAT,
                _fc(10),
            ],
        ),
        "The network of Karpathy's ConvNetJS MNIST demo, on 24×24 crops; {params} parameters.",
    ),
    "Small VGG": _preset(
        _net(
            [3, 32, 32],
            [
                _conv(16, padding=1),
                BN,
                RELU,
                _conv(16, padding=1),
                BN,
                RELU,
                _pool(),
                _conv(32, padding=1),
                BN,
                RELU,
                _conv(32, padding=1),
                BN,
                RELU,
                _pool(),
                {"type": "dropout", "p": 0.3},
                FLAT,
                _fc(10),
            ],
        ),
        "Simonyan and Zisserman's idea (2015) at small scale: only 3×3 convs, doubling "
        "the channels when pooling halves the size.",
    ),
    "Small ResNet": _preset(
        _net(
            [3, 32, 32],
            [
                _conv(16, padding=1, bias=False),
                BN,
                RELU,
                {"type": "residual", "out_channels": 16},
                {"type": "residual", "out_channels": 32, "stride": 2},
                {"type": "residual", "out_channels": 64, "stride": 2},
                {"type": "global_avgpool"},
                _fc(10),
            ],
        ),
        "He et al. (2016): residual blocks whose shortcut lets the gradient skip the convs; "
        "global average pooling instead of a big dense layer.",
    ),
    "Small Inception": _preset(
        _net(
            [3, 32, 32],
            [
                _conv(16, padding=1),
                RELU,
                _pool(),
                {
                    "type": "inception",
                    "out_1x1": 8,
                    "reduce_3x3": 8,
                    "out_3x3": 16,
                    "reduce_5x5": 4,
                    "out_5x5": 8,
                    "pool_proj": 8,
                },
                _pool(),
                {
                    "type": "inception",
                    "out_1x1": 16,
                    "reduce_3x3": 16,
                    "out_3x3": 24,
                    "reduce_5x5": 4,
                    "out_5x5": 8,
                    "pool_proj": 8,
                },
                {"type": "global_avgpool"},
                _fc(10),
            ],
        ),
        "Szegedy et al. (2015): 1×1, 3×3, 5×5 and pooling side by side, with 1×1 "
        "reductions to keep the cost down.",
    ),
    "Attention CNN (SE + CBAM)": _preset(
        _net(
            [3, 64, 64],
            [
                _conv(16, padding=1),
                BN,
                RELU,
                {"type": "se", "reduction": 4},
                _pool(),
                _conv(32, padding=1),
                BN,
                RELU,
                {"type": "cbam", "reduction": 4, "spatial_kernel": 7},
                _pool(),
                _conv(64, padding=1),
                BN,
                RELU,
                _pool(),
                _conv(64, padding=1),
                RELU,
                {"type": "global_avgpool"},
                _fc(10),
            ],
        ),
        "Squeeze-and-excitation (Hu et al., 2018) reweights channels; CBAM (Woo et al., "
        "2018) also reweights positions. Three poolings and CBAM's 7×7 spatial gate let the "
        "last conv see {rf} pixels before global average pooling.",
    ),
    "Dilated CNN": _preset(
        _net(
            [3, 64, 64],
            [
                _conv(16, padding=1),
                RELU,
                _conv(16, padding=2, dilation=2),
                RELU,
                _conv(16, padding=4, dilation=4),
                RELU,
                _conv(16, padding=8, dilation=8),
                RELU,
                {"type": "global_avgpool"},
                _fc(10),
            ],
        ),
        "Yu and Koltun (2016): dilation rates 1, 2, 4, 8 grow the receptive field to {rf} "
        "pixels with four 3×3 kernels and no pooling.",
    ),
}

DEFAULT_PRESET = "TinyVGG (CNN Explainer)"

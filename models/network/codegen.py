"""Write a network spec as a plain PyTorch `nn.Module` class a user can copy and run."""

from __future__ import annotations

import inspect

from models.network import blocks
from models.network.build import layer_names
from models.network.spec import (
    ActivationSpec,
    BatchNormSpec,
    CBAMSpec,
    ConvSpec,
    DropoutSpec,
    FlattenSpec,
    GlobalPoolSpec,
    InceptionSpec,
    LayerSpec,
    LinearSpec,
    NetworkSpec,
    PoolSpec,
    ResidualSpec,
    Shape,
    SqueezeExciteSpec,
)

_BLOCK_CLASSES = {
    GlobalPoolSpec: [blocks.GlobalPool],
    ResidualSpec: [blocks.ResidualBlock],
    InceptionSpec: [blocks._conv_relu, blocks.InceptionBlock],
    SqueezeExciteSpec: [blocks.SqueezeExcite],
    CBAMSpec: [blocks.CBAM],
}
_ACTIVATION_CODE = {
    "relu": "nn.ReLU()",
    "elu": "nn.ELU()",
    "gelu": "nn.GELU()",
    "sigmoid": "nn.Sigmoid()",
    "tanh": "nn.Tanh()",
}


def layer_code(layer: LayerSpec, in_shape: Shape) -> str:
    """The constructor call for one layer, as `models.network.build.build_layer` makes it."""
    c = in_shape[0]
    match layer:
        case ConvSpec():
            pad = repr(layer.padding)
            extra = "".join(
                f", {k}={v}"
                for k, v, d in (
                    ("dilation", layer.dilation, 1),
                    ("groups", layer.groups, 1),
                    ("bias", layer.bias, True),
                )
                if v != d
            )
            return (
                f"nn.Conv2d({c}, {layer.out_channels}, kernel_size={layer.kernel_size}, "
                f"stride={layer.stride}, padding={pad}{extra})"
            )
        case ActivationSpec(kind="leaky_relu"):
            return f"nn.LeakyReLU({layer.negative_slope})"
        case ActivationSpec():
            return _ACTIVATION_CODE[layer.kind]
        case PoolSpec():
            cls = "nn.MaxPool2d" if layer.mode == "max" else "nn.AvgPool2d"
            ceil = ", ceil_mode=True" if layer.ceil_mode else ""
            return f"{cls}({layer.kernel_size}, stride={layer.step}, padding={layer.padding}{ceil})"
        case GlobalPoolSpec():
            return f'GlobalPool("{layer.mode}")'
        case BatchNormSpec():
            return f"nn.BatchNorm{2 if len(in_shape) == 3 else 1}d({c})"
        case DropoutSpec():
            return f"nn.Dropout({layer.p})"
        case FlattenSpec():
            return "nn.Flatten()"
        case LinearSpec():
            bias = "" if layer.bias else ", bias=False"
            return f"nn.Linear({c}, {layer.out_features}{bias})"
        case ResidualSpec():
            return f"ResidualBlock({c}, {layer.out_channels}, stride={layer.stride})"
        case InceptionSpec():
            a = layer
            return (
                f"InceptionBlock({c}, {a.out_1x1}, {a.reduce_3x3}, {a.out_3x3}, "
                f"{a.reduce_5x5}, {a.out_5x5}, {a.pool_proj})"
            )
        case SqueezeExciteSpec():
            return f"SqueezeExcite({c}, reduction={layer.reduction})"
        case CBAMSpec():
            return f"CBAM({c}, reduction={layer.reduction}, spatial_kernel={layer.spatial_kernel})"
    raise TypeError(f"no code for {type(layer).__name__}")


def _shape_comment(shape: Shape) -> str:
    return "# (N, " + ", ".join(map(str, shape)) + ")"


def to_pytorch_code(spec: NetworkSpec, class_name: str = "Net") -> str:
    """Source of a module whose state dict matches `build_model(spec)` key for key."""
    shapes = spec.shapes()
    names = layer_names(spec)
    helpers: list = []
    for layer in spec.layers:
        for obj in _BLOCK_CLASSES.get(type(layer), []):
            if obj not in helpers:
                helpers.append(obj)
    lines = [
        '"""A CNN exported from CNN Lab. Plain PyTorch: run it, train it, change it."""',
        "",
        "import torch",
        "from torch import nn",
        "",
    ]
    lines += ["\n" + inspect.getsource(obj) for obj in helpers]
    lines += [
        "",
        f"class {class_name}(nn.Module):",
        "    def __init__(self):",
        "        super().__init__()",
    ]
    for name, layer, shape in zip(names, spec.layers, shapes):
        lines.append(f"        self.{name} = {layer_code(layer, shape)}")
    lines += ["", "    def forward(self, x):  " + _shape_comment(spec.input_shape)]
    for name, shape in zip(names, shapes[1:]):
        lines.append(f"        x = self.{name}(x)  {_shape_comment(shape)}")
    lines += [
        "        return x",
        "",
        "",
        "if __name__ == '__main__':",
        f"    model = {class_name}()",
        f"    x = torch.randn(1, {', '.join(map(str, spec.input_shape))})",
        "    print(model(x).shape)",
        "",
    ]
    return "\n".join(lines)

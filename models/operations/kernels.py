"""Kernels beyond one window: dilated footprints and stacks, presets, responses on real images."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from models.network import formulas
from models.operations.convolution import (
    MAX_KERNEL_SIDE,
    ConvolutionError,
    _check_int,
    _check_numbers,
)

# ---- dilated kernels ----------------------------------------------------------------------

MAX_RATE, MAX_LAYERS, MAX_FIELD = 16, 8, 257


def effective_size(kernel_size: int, dilation: int) -> int:
    """The span a dilated kernel covers: D·(K−1) + 1 (`formulas.dilated_extent`)."""
    return int(formulas.dilated_extent(kernel_size, dilation).value)


def _fields(kernel_size: int, rates: tuple[int, ...]) -> tuple[int, ...]:
    """Receptive field after each stride-1 layer: r_l = r_{l−1} + (k − 1)·d_l·1."""
    out, r = [], 1
    for rate in rates:
        r = int(formulas.receptive_field_step(r, kernel_size, rate, 1).value)
        out.append(r)
    return tuple(out)


def dilated_footprint(kernel_size: int, dilation: int) -> np.ndarray:
    """(E, E) booleans: True where a K×K kernel at dilation D reads a pixel."""
    _check_int("kernel size", kernel_size, 1, MAX_KERNEL_SIDE)
    _check_int("dilation", dilation, 1, MAX_RATE)
    mask = np.zeros((effective_size(kernel_size, dilation),) * 2, dtype=bool)
    mask[::dilation, ::dilation] = True
    return mask


@dataclass(frozen=True)
class StackResult:
    rates: tuple[int, ...]
    kernel_size: int
    fields: tuple[int, ...]  # receptive field side after each dilated layer
    plain_fields: tuple[int, ...]  # the same stack with every rate 1
    paths: np.ndarray  # (RF, RF) number of paths from each input pixel to the last unit

    @property
    def seen_share(self) -> float:
        """The share of pixels inside the receptive field that the unit can see at all."""
        return float((self.paths > 0).mean())


def parse_rates(text: str) -> tuple[int, ...]:
    """Dilation rates typed as "1, 2, 4, 8"."""
    parts = [p for p in text.replace(",", " ").split() if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise ConvolutionError(
            'type the rates as whole numbers separated by commas, e.g. "1, 2, 4"'
        )
    rates = tuple(int(p) for p in parts)
    if len(rates) > MAX_LAYERS or not all(1 <= r <= MAX_RATE for r in rates):
        raise ConvolutionError(f"use 1 to {MAX_LAYERS} rates, each from 1 to {MAX_RATE}")
    return rates


def compute_dilated_stack(kernel_size: int, rates: tuple[int, ...]) -> StackResult:
    """Receptive fields of a stack of stride-1 dilated convs, and the exact pixels it sees.

    Each layer's full (transposed) convolution with a ones kernel spreads one unit back over
    the pixels it reads, so the final map counts the paths from each input pixel.
    """
    _check_int("kernel size", kernel_size, 1, MAX_KERNEL_SIDE)
    fields = _fields(kernel_size, rates)
    if fields and fields[-1] > MAX_FIELD:
        raise ConvolutionError(
            f"that stack sees {fields[-1]} pixels across; keep it under {MAX_FIELD}"
        )
    ones = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    paths = torch.ones(1, 1, 1, 1, dtype=torch.float64)
    for rate in rates:
        paths = F.conv_transpose2d(paths, ones, dilation=rate)
    plain = _fields(kernel_size, (1,) * len(rates))
    return StackResult(rates, kernel_size, fields, plain, paths[0, 0].round().long().numpy())


# ---- kernels on real images ---------------------------------------------------------------


@dataclass(frozen=True)
class KernelSpec:
    name: str = "Sobel x"
    size: int = 3  # side of the kernel; the fixed 3×3 kernels sit in the middle of bigger ones
    sigma: float = 1.0  # Gaussian and Gabor: width of the bell, in pixels
    angle: float = 0.0  # Gabor: direction of the stripes, in degrees
    frequency: float = 0.25  # Gabor: stripes per pixel


_FIXED = {
    "Sharpen": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]],
    "Sobel x": [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]],
    "Sobel y": [[-1, -2, -1], [0, 0, 0], [1, 2, 1]],
    "Laplacian": [[0, 1, 0], [1, -4, 1], [0, 1, 0]],
    "Emboss": [[-2, -1, 0], [-1, 1, 1], [0, 1, 2]],
}


def _grid(spec: KernelSpec) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(spec.size) - (spec.size - 1) / 2
    return np.meshgrid(r, r, indexing="ij")  # (y, x)


def _gaussian(spec: KernelSpec) -> np.ndarray:
    y, x = _grid(spec)
    g = np.exp(-(x**2 + y**2) / (2 * spec.sigma**2))
    return g / g.sum()


def _gabor(spec: KernelSpec) -> np.ndarray:
    y, x = _grid(spec)
    theta = np.deg2rad(spec.angle)
    along = x * np.cos(theta) + y * np.sin(theta)
    g = np.exp(-(x**2 + y**2) / (2 * spec.sigma**2)) * np.cos(2 * np.pi * spec.frequency * along)
    return g - g.mean()  # zero mean: flat regions give 0, only stripes answer


def _identity(spec: KernelSpec) -> np.ndarray:
    k = np.zeros((spec.size, spec.size))
    k[spec.size // 2, spec.size // 2] = 1.0
    return k


KERNELS = {
    "Identity": _identity,
    "Ones": lambda s: np.ones((s.size, s.size)),
    "Box blur": lambda s: np.full((s.size, s.size), 1 / s.size**2),
    "Gaussian": _gaussian,
    **{name: None for name in _FIXED},
    "Gabor": _gabor,
}


def build_kernel(spec: KernelSpec) -> np.ndarray:
    """The (K, K) kernel a preset describes."""
    if spec.name not in KERNELS:
        raise ConvolutionError(f"unknown kernel {spec.name!r}; choose one of {', '.join(KERNELS)}")
    _check_int("kernel size", spec.size, 1, MAX_KERNEL_SIDE)
    if not (0.1 <= spec.sigma <= 10 and 0 <= spec.frequency <= 1):
        raise ConvolutionError("sigma must be 0.1 to 10 pixels and frequency 0 to 1 per pixel")
    if spec.name in _FIXED:
        if spec.size < 3:
            raise ConvolutionError(f"{spec.name} is a 3×3 kernel; choose a size of 3 or more")
        k = np.zeros((spec.size, spec.size))
        at = (spec.size - 3) // 2
        k[at : at + 3, at : at + 3] = _FIXED[spec.name]
        return k
    return np.asarray(KERNELS[spec.name](spec), dtype=float)


def image_array(image: Image.Image, max_side: int = 512) -> np.ndarray:
    """(3, H, W) float32 pixels in [0, 1], shrunk so the longer side is at most `max_side`."""
    image = image.convert("RGB")
    if max(image.size) > max_side:
        image = image.copy()
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
    return np.asarray(image, dtype=np.float32).transpose(2, 0, 1) / 255.0


@dataclass(frozen=True)
class FilterResult:
    channels: np.ndarray  # (3, H, W) the kernel on red, green and blue alone
    summed: np.ndarray  # (H, W) their sum plus bias, after ReLU if asked


def apply_kernel(pixels: np.ndarray, kernel: np.ndarray, bias: float, relu: bool) -> FilterResult:
    """One output channel of a conv layer whose three input kernels are all `kernel`."""
    kernel = _check_numbers("kernel", kernel, True, MAX_KERNEL_SIDE)
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]  # (1, 3, H, W)
    w = torch.from_numpy(kernel.astype(np.float32))[None, None].expand(3, 1, -1, -1)
    with torch.inference_mode():
        per = F.conv2d(x, w, padding="same", groups=3)[0]  # (3, H, W)
        summed = per.sum(0) + float(bias)
        if relu:
            summed = summed.clamp_min(0)
    return FilterResult(per.numpy(), summed.numpy())


@dataclass(frozen=True)
class LayerResult:
    maps: np.ndarray  # (N, H, W) one map per kernel
    kernel_size: int  # every kernel padded to this side, as one layer needs
    conv_formula: formulas.Formula  # (K²·3/1 + 1)·N
    dense_formula: formulas.Formula  # a dense layer from the same image to the same N maps

    @property
    def conv_params(self) -> int:
        return int(self.conv_formula.value)

    @property
    def dense_params(self) -> int:
        return int(self.dense_formula.value)

    @property
    def ratio(self) -> float:
        """How many times more numbers the dense layer needs."""
        return self.dense_params / self.conv_params


def compute_layer(pixels: np.ndarray, specs: list[KernelSpec], relu: bool) -> LayerResult:
    """Several kernels as one conv layer (3 input channels, one output per kernel)."""
    if not specs:
        raise ConvolutionError("choose at least one kernel for the layer")
    kernels = [build_kernel(spec) for spec in specs]
    k = max(kern.shape[0] for kern in kernels)
    stack = np.zeros((len(kernels), 3, k, k), dtype=np.float32)
    for i, kern in enumerate(kernels):
        at = (k - kern.shape[0]) // 2
        stack[i, :, at : at + kern.shape[0], at : at + kern.shape[0]] = kern
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]
    with torch.inference_mode():
        maps = F.conv2d(x, torch.from_numpy(stack), padding="same")[0]
        maps = maps.clamp_min(0) if relu else maps
    _, h, w = pixels.shape
    n = len(kernels)
    conv = formulas.conv_params(k, 3, n)
    return LayerResult(maps.numpy(), k, conv, formulas.dense_params(3 * h * w, n * h * w))


def map_png(array: np.ndarray) -> bytes:
    """A response map stretched to 0..255 grey, as PNG bytes for download."""
    lo, hi = float(array.min()), float(array.max())
    scaled = (array - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(array)
    buffer = io.BytesIO()
    Image.fromarray(scaled.astype(np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()

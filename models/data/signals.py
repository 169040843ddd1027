"""Generated 1-D signals in five classes, seeded and cached, and their spectrograms.

Each signal is `length` samples of one waveform (sine, square, sawtooth, chirp, or short noisy
bursts) with a random frequency, phase and amplitude, plus Gaussian noise. Signals are stored
as uint8 (N, 1, L), quantized with one fixed scale (SIGNAL_RANGE maps to 0..255) so the training
engine treats them like images with one row. `spectrogram` turns the same signals into
log-magnitude short-time Fourier transforms, uint8 (N, 1, F, T): a picture for a 2-D CNN.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from models.data.datasets import DataError, PreparedData, stratified_split

SIGNAL_CLASSES: tuple[str, ...] = ("sine", "square", "sawtooth", "chirp", "bursts")
SIGNAL_RANGE = 2.5  # values in [-2.5, 2.5] map to 0..255; beyond it they clip
SPEC_RANGE = 4.0  # log(1 + |STFT|) in [0, 4] maps to 0..255


@dataclass(frozen=True)
class SignalStyle:
    """How the signals look; the defaults give 128 samples with a little noise."""

    length: int = 128  # samples per signal
    noise: float = 0.3  # std of the added Gaussian noise (the waves' amplitude is 0.6 to 1.2)
    min_cycles: float = 2.0  # slowest wave: cycles over the whole signal
    max_cycles: float = 8.0  # fastest wave

    def __post_init__(self) -> None:
        if not 32 <= self.length <= 2048:
            raise DataError(f"a signal must have 32 to 2,048 samples, not {self.length}")
        if not 0.0 <= self.noise <= 2.0:
            raise DataError(f"the noise must be between 0 and 2, not {self.noise}")
        if not 0.5 <= self.min_cycles <= self.max_cycles <= self.length / 4:
            raise DataError("the cycles must satisfy 0.5 ≤ slowest ≤ fastest ≤ length / 4")


def _phase(t: np.ndarray, cycles: float, rng: np.random.Generator) -> np.ndarray:
    return 2 * math.pi * cycles * t + rng.uniform(0, 2 * math.pi)


def _sine(t, cycles, rng):
    return np.sin(_phase(t, cycles, rng))


def _square(t, cycles, rng):
    return np.sign(np.sin(_phase(t, cycles, rng)))


def _sawtooth(t, cycles, rng):
    p = _phase(t, cycles, rng) / (2 * math.pi)
    return 2 * (p - np.floor(p)) - 1


def _chirp(t, cycles, rng):
    """The frequency sweeps from `cycles` to 3× `cycles` (or down): phase ∝ f0·t + k·t²."""
    end = cycles * 3 if rng.random() < 0.5 else cycles / 3
    return np.sin(2 * math.pi * (cycles * t + (end - cycles) * t**2 / 2) + rng.uniform(0, 6.3))


def _bursts(t, cycles, rng):
    """One to three short packets of a fast wave, silent between them."""
    out = np.zeros_like(t)
    for _ in range(rng.integers(1, 4)):
        centre, width = rng.uniform(0.1, 0.9), rng.uniform(0.03, 0.08)
        envelope = np.exp(-0.5 * ((t - centre) / width) ** 2)
        out += envelope * np.sin(_phase(t, cycles * 3, rng))
    return np.clip(out, -1, 1)


WAVES: dict[str, Callable[[np.ndarray, float, np.random.Generator], np.ndarray]] = {
    "sine": _sine,
    "square": _square,
    "sawtooth": _sawtooth,
    "chirp": _chirp,
    "bursts": _bursts,
}


def draw_signal(kind: str, rng: np.random.Generator, style: SignalStyle = SignalStyle()):
    """One float64 signal (L,) of class `kind`: amplitude 0.6 to 1.2, plus the style's noise."""
    if kind not in WAVES:
        raise DataError(f"unknown signal {kind!r}; choose one of {', '.join(WAVES)}")
    t = np.arange(style.length) / style.length
    cycles = math.exp(rng.uniform(math.log(style.min_cycles), math.log(style.max_cycles)))
    wave = rng.uniform(0.6, 1.2) * WAVES[kind](t, cycles, rng)
    return wave + rng.normal(0.0, style.noise, style.length) if style.noise > 0 else wave


def to_uint8(x: np.ndarray | torch.Tensor, scale: float = SIGNAL_RANGE) -> torch.Tensor:
    """Values in [-scale, scale] as uint8 0..255 (beyond it they clip)."""
    t = torch.as_tensor(np.asarray(x), dtype=torch.float32)
    return ((t / scale + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def from_uint8(x: torch.Tensor, scale: float = SIGNAL_RANGE) -> torch.Tensor:
    """The float values a uint8 signal stands for (the inverse of `to_uint8`, to a step)."""
    return (x.float() / 127.5 - 1) * scale


@dataclass(frozen=True)
class SignalData:
    x: torch.Tensor  # (N, 1, L) uint8
    y: torch.Tensor  # (N,) int64 indices into SIGNAL_CLASSES
    class_names: tuple[str, ...]
    name: str


@functools.lru_cache(maxsize=4)
def make_signals(n: int, seed: int = 0, style: SignalStyle = SignalStyle()) -> SignalData:
    """`n` signals, the classes in turn then shuffled; the same seed gives the same signals."""
    if not 10 <= n <= 50_000:
        raise DataError(f"draw 10 to 50,000 signals, not {n:,}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % len(SIGNAL_CLASSES))
    waves = np.stack([draw_signal(SIGNAL_CLASSES[k], rng, style) for k in labels])
    x = to_uint8(waves)[:, None]  # (N, 1, L)
    return SignalData(x, torch.from_numpy(labels.astype(np.int64)), SIGNAL_CLASSES, "signals")


def spectrogram(x: torch.Tensor, n_fft: int = 32, hop: int = 4) -> torch.Tensor:
    """uint8 (N, 1, L) signals as uint8 (N, 1, F, T) images of log(1 + |STFT|), low F on top.

    A Hann window of `n_fft` samples moves by `hop`; F = n_fft / 2 + 1 frequencies, T = L / hop
    + 1 frames (the signal is padded by reflection at both ends, torch.stft's `center`).
    """
    if x.dim() != 3 or x.shape[1] != 1:
        raise DataError(f"spectrograms need signals shaped (N, 1, L), not {tuple(x.shape)}")
    values = from_uint8(x[:, 0])  # (N, L)
    window = torch.hann_window(n_fft)
    stft = torch.stft(values, n_fft, hop, window=window, return_complex=True)  # (N, F, T)
    level = torch.log1p(stft.abs())
    return (level / SPEC_RANGE * 255).round().clamp(0, 255).to(torch.uint8)[:, None]


def prepare_signals(
    x: torch.Tensor, y: torch.Tensor, names: tuple[str, ...], val_fraction: float, seed: int
) -> PreparedData:
    """A stratified split of uint8 signals (N, C, L) or images (N, C, H, W), with the training
    split's per-channel mean and std (of values scaled to [0, 1])."""
    train, val = stratified_split(y, val_fraction, seed)
    scaled = x[train].double() / 255
    dims = (0, *range(2, x.dim()))
    mean = scaled.mean(dims)
    std = scaled.std(dims, unbiased=False).clamp_min(1e-3)
    return PreparedData(
        x[train], y[train], x[val], y[val], names, tuple(mean.tolist()), tuple(std.tolist()),
        "signals",
    )  # fmt: skip

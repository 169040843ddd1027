"""Which device trains: CUDA, then Apple's MPS, then the CPU, unless the user says otherwise."""

from __future__ import annotations

import torch

DEVICE_CHOICES: tuple[str, ...] = ("auto", "cuda", "mps", "cpu")


def pick_device(override: str = "auto") -> torch.device:
    """The best available device, or `override` when it is available; else a ValueError."""
    if override == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if override not in DEVICE_CHOICES:
        raise ValueError(f"unknown device {override!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    if override == "cuda" and not torch.cuda.is_available():
        raise ValueError("this machine has no CUDA GPU that PyTorch can use; pick cpu or auto")
    if override == "mps" and not torch.backends.mps.is_available():
        raise ValueError("this machine has no Apple GPU (MPS) that PyTorch can use")
    return torch.device(override)


def device_name(device: torch.device, threads: int | None = None) -> str:
    """A readable name: the GPU's model name on CUDA, else the device type and thread count
    (`threads`, or this process's own)."""
    if device.type == "cuda":
        return f"CUDA GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "Apple GPU (MPS)"
    n = threads or torch.get_num_threads()
    return f"CPU ({n} thread{'s' * (n != 1)})"


def available_devices() -> list[str]:
    """The device choices that work on this machine, "auto" first."""
    ok = {
        "auto": True,
        "cpu": True,
        "cuda": torch.cuda.is_available(),
        "mps": torch.backends.mps.is_available(),
    }
    return [d for d in DEVICE_CHOICES if ok[d]]

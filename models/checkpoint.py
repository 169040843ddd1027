"""Save and load trained models: weights, network spec, class names, normalization, metrics.

A checkpoint is a `torch.save` of plain containers (tensors, strings, numbers, lists), so
`torch.load(..., weights_only=True)` can read it without running any code from the file.
The shipped checkpoints in checkpoints/ are written by `python -m models.pretrain`.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from models.errors import CNNLabError
from models.build import build_model
from models.bundle import ModelBundle
from models.spec import NetworkSpec, SpecError

FORMAT = "cnn-lab-checkpoint/1"
ROOT = Path(__file__).resolve().parent.parent
CHECKPOINTS = ROOT / "checkpoints"
MANIFEST = CHECKPOINTS / "manifest.json"

SHIPPED: dict[str, str] = {
    "TinyVGG on shapes": "checkpoints/tinyvgg_shapes.pt",
    "Small CNN on digits": "checkpoints/digits_cnn.pt",
    "Attention CNN on shapes": "checkpoints/attention_shapes.pt",
}


class CheckpointError(CNNLabError):
    """A checkpoint that cannot be used, with a reason a user can read."""


def to_bytes(bundle: ModelBundle, metrics: dict[str, Any] | None = None) -> bytes:
    """The bundle as checkpoint bytes; `metrics` is any JSON-able summary of its training."""
    if bundle.spec is None:
        raise CheckpointError("only networks described by a spec can be saved here")
    payload = {
        "format": FORMAT,
        "name": bundle.name,
        "spec": bundle.spec.to_json(indent=None),
        "state_dict": {k: v.detach().cpu() for k, v in bundle.model.state_dict().items()},
        "class_names": list(bundle.class_names),
        "mean": [float(m) for m in bundle.mean],
        "std": [float(s) for s in bundle.std],
        "metrics": json.dumps(metrics or {}),
    }
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


def _read(data: bytes) -> Any:
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err) or "GLOBAL" in str(err):
            raise CheckpointError(
                "this file contains code that would run when it is opened; it was refused. "
                "Only plain weights are accepted."
            ) from None
        raise CheckpointError("this file is damaged or is not a PyTorch checkpoint") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, AttributeError):
        raise CheckpointError("this file is damaged or is not a PyTorch checkpoint") from None


def from_bytes(data: bytes, fallback_spec: NetworkSpec | None = None) -> ModelBundle:
    """A bundle from checkpoint bytes; a bare state dict is tried on `fallback_spec`."""
    payload = _read(data)
    if isinstance(payload, dict) and payload.get("format") == FORMAT:
        return _from_payload(payload)
    if (
        isinstance(payload, dict)
        and payload
        and all(isinstance(v, torch.Tensor) for v in payload.values())
    ):
        if fallback_spec is None:
            raise CheckpointError("this file holds only weights and no network to put them in")
        return _bundle(fallback_spec, payload, "uploaded weights", None, None, None)
    raise CheckpointError("this is a PyTorch file, but not a CNN Lab checkpoint or a state dict")


def _from_payload(payload: dict) -> ModelBundle:
    try:
        spec = NetworkSpec.from_json(payload["spec"])
        names, mean, std = payload["class_names"], payload["mean"], payload["std"]
        return _bundle(spec, payload["state_dict"], str(payload["name"]), names, mean, std)
    except KeyError as err:
        raise CheckpointError(f"the checkpoint lacks its {err.args[0]!r} entry") from None
    except SpecError as err:
        raise CheckpointError(f"the network in the checkpoint is invalid: {err}") from None


def _bundle(spec: NetworkSpec, state: dict, name: str, names, mean, std) -> ModelBundle:
    model = build_model(spec, seed=0)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).split("\n\t")[1] if "\n\t" in str(err) else str(err)
        raise CheckpointError(
            f"the weights do not fit the network (a different architecture?): {first[:300]}"
        ) from None
    c, k = spec.input_shape[0], spec.output_shape[0]
    names = tuple(names) if names else tuple(f"class {i}" for i in range(k))
    if len(names) != k:
        raise CheckpointError(f"{len(names)} class names for a network with {k} outputs")
    mean, std = tuple(mean or (0.5,) * c), tuple(std or (0.25,) * c)
    if len(mean) != c or len(std) != c or min(std) <= 0:
        raise CheckpointError(f"the normalization needs {c} means and {c} positive stds")
    return ModelBundle(model.eval(), name, spec.input_shape, names, mean, std, spec, trained=True)


def metrics_of(data: bytes) -> dict[str, Any]:
    """The training summary stored in checkpoint bytes (empty for bare weights)."""
    payload = _read(data)
    return json.loads(payload.get("metrics", "{}")) if isinstance(payload, dict) else {}


def load_shipped(name: str) -> ModelBundle:
    """A fresh copy of a shipped checkpoint, by its display name in SHIPPED."""
    if name not in SHIPPED:
        raise CheckpointError(f"no shipped model called {name!r}")
    path = ROOT / SHIPPED[name]
    if not path.is_file():
        raise CheckpointError(f"{SHIPPED[name]} is missing; run `python -m models.pretrain`")
    bundle = from_bytes(path.read_bytes())
    bundle.name = name
    return bundle


def manifest() -> dict[str, Any]:
    """Measured figures of the shipped checkpoints, by display name."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}

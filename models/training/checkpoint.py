"""Save and load trained models: weights, network spec, class names, normalization, metrics.

A checkpoint is a `torch.save` of plain containers (tensors, strings, numbers, lists), so
`torch.load(..., weights_only=True)` can read it without running any code from the file.
An upload is untrusted, so before `torch.load` its zip directory is read (nothing inflated):
compressed or encrypted records are refused (torch.save stores every record as it is) and the
records' sizes together are capped (`max_checkpoint_bytes`). After loading, every field of the
payload is checked by type and range, and every tensor against the network built from the spec,
so a bad file ends in a `CheckpointError` naming the field. The shipped checkpoints in
checkpoints/ are written by `python -m models.training.pretrain`.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import struct
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.bundle import ModelBundle
from models.errors import CNNLabError
from models.network.build import build_model
from models.network.spec import NetworkSpec, SpecError
from models.settings import positive_setting

FORMAT = "cnn-lab-checkpoint/1"
ROOT = Path(__file__).resolve().parents[2]
CHECKPOINTS = ROOT / "checkpoints"
MANIFEST = CHECKPOINTS / "manifest.json"

MAX_MB_ENV = "CNNLAB_MAX_CHECKPOINT_MB"  # overrides DEFAULT_MAX_MB
DEFAULT_MAX_MB = 200.0  # all records of a checkpoint together, uncompressed
MAX_RECORDS = 20_000  # records in the zip (one per tensor storage, plus a handful)
MAX_PICKLE_BYTES = 16 * 2**20  # data.pkl: names and numbers only; the weights are other records
MAX_CLASSES = 10_000  # class names in a checkpoint
MAX_TEXT = 255  # characters in a class name or a model name
MAX_METRICS_CHARS = 2**20  # the JSON training summary
MIN_STD = 1e-6  # a smaller normalization std would blow inputs up to inf
_LEGACY = b"\x80\x02"  # torch.save before PyTorch 1.6 wrote a bare pickle (protocol 2)
_DAMAGED = "this file is damaged or is not a PyTorch checkpoint"

SHIPPED: dict[str, str] = {
    "TinyVGG on shapes": "checkpoints/tinyvgg_shapes.pt",
    "Small CNN on digits": "checkpoints/digits_cnn.pt",
    "Attention CNN on shapes": "checkpoints/attention_shapes.pt",
}


class CheckpointError(CNNLabError):
    """A checkpoint that cannot be used, with a reason a user can read."""


def max_checkpoint_bytes() -> int:
    """The cap on a checkpoint's uncompressed size: CNNLAB_MAX_CHECKPOINT_MB, else 200 MB."""
    return int(positive_setting(MAX_MB_ENV, DEFAULT_MAX_MB, CheckpointError) * 2**20)


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


def check_archive(data: bytes) -> None:
    """Refuse, from the zip's directory alone, a file `torch.load` would inflate or choke on."""
    if data.startswith(_LEGACY):
        raise CheckpointError(
            "this checkpoint is in PyTorch's old format (before version 1.6), which cannot be "
            "checked safely; load it in PyTorch and save it again with torch.save"
        )
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, IndexError):
        raise CheckpointError(_DAMAGED) from None
    if len(infos) > MAX_RECORDS:
        raise CheckpointError(
            f"the checkpoint holds {len(infos):,} records; at most {MAX_RECORDS:,}"
        )
    for info in infos:
        name = info.filename[:80]
        if info.flag_bits & 0x1 or info.compress_type != zipfile.ZIP_STORED:
            raise CheckpointError(
                f"the record {name!r} is compressed or encrypted, which torch.save never does; "
                "the file was refused without unpacking it"
            )
        if info.file_size != info.compress_size:
            raise CheckpointError(f"{_DAMAGED} (the record {name!r} is inconsistent)")
        if info.filename.endswith("data.pkl") and info.file_size > MAX_PICKLE_BYTES:
            raise CheckpointError(
                f"the record {name!r} is {_size(info.file_size)}; at most {_size(MAX_PICKLE_BYTES)}"
            )
    total, cap = sum(i.file_size for i in infos), max_checkpoint_bytes()
    if total > cap:
        raise CheckpointError(
            f"the checkpoint holds {_size(total)} of weights; at most {_size(cap)} "
            f"(set by {MAX_MB_ENV})"
        )


def _size(n: int) -> str:
    return f"{n / 2**20:,.0f} MB" if n >= 2**20 else f"{n / 2**10:,.0f} KB"


def _read(data: bytes) -> Any:
    check_archive(data)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "Unsupported global" in str(err) or "GLOBAL" in str(err):
            raise CheckpointError(
                "this file contains code that would run when it is opened; it was refused. "
                "Only plain weights are accepted."
            ) from None
        raise CheckpointError(_DAMAGED) from None
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        AttributeError,
        TypeError,
        KeyError,
        IndexError,
        OverflowError,
        struct.error,
    ):
        raise CheckpointError(_DAMAGED) from None


def from_bytes(data: bytes, fallback_spec: NetworkSpec | None = None) -> ModelBundle:
    """A bundle from checkpoint bytes; a bare state dict is tried on `fallback_spec`.

    Each call parses the whole file: a page should call it once per upload (keyed by the
    upload's `file_id`) and keep the bundle, or the error, in the session.
    """
    payload = _read(data)
    if isinstance(payload, dict) and isinstance(payload.get("format"), str):
        if payload["format"] != FORMAT:
            raise CheckpointError(f"this checkpoint's format {payload['format'][:40]!r} is unknown")
        return _from_payload(payload)
    if (
        isinstance(payload, dict)
        and payload
        and all(isinstance(v, torch.Tensor) for v in payload.values())
    ):
        if fallback_spec is None:
            raise CheckpointError("this file holds only weights and no network to put them in")
        c, k = fallback_spec.input_shape[0], fallback_spec.output_shape[0]
        names = tuple(f"class {i}" for i in range(k))
        model = _load_state(build_model(fallback_spec, seed=0), payload)
        return ModelBundle(
            model,
            "uploaded weights",
            fallback_spec.input_shape,
            names,
            (0.5,) * c,
            (0.25,) * c,
            fallback_spec,
            trained=True,
        )
    raise CheckpointError("this is a PyTorch file, but not a CNN Lab checkpoint or a state dict")


def _from_payload(payload: dict) -> ModelBundle:
    for key in ("name", "spec", "state_dict", "class_names", "mean", "std"):
        if key not in payload:
            raise CheckpointError(f"the checkpoint lacks its {key!r} entry")
    spec = _spec(payload["spec"])
    c, k = spec.input_shape[0], spec.output_shape[0]
    name = _text("name", payload["name"])
    names = _class_names(payload["class_names"], k)
    mean = _floats("mean", payload["mean"], c, low=-math.inf)
    std = _floats("std", payload["std"], c, low=MIN_STD)
    _metrics(payload.get("metrics", "{}"))
    model = _load_state(build_model(spec, seed=0), payload["state_dict"])
    return ModelBundle(model, name, spec.input_shape, names, mean, std, spec, trained=True)


def _spec(raw: Any) -> NetworkSpec:
    try:
        if isinstance(raw, str):
            return NetworkSpec.from_json(raw)
        if isinstance(raw, dict):
            return NetworkSpec.from_dict(raw)
    except SpecError as err:
        raise CheckpointError(f"the network in the checkpoint ('spec') is invalid: {err}") from None
    raise CheckpointError(f"the checkpoint's 'spec' must be JSON text, not {type(raw).__name__}")


def _text(field: str, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip() or len(raw) > MAX_TEXT:
        raise CheckpointError(
            f"the checkpoint's {field!r} must be text of 1 to {MAX_TEXT} characters"
        )
    return raw


def _class_names(raw: Any, k: int) -> tuple[str, ...]:
    if not isinstance(raw, (list, tuple)) or len(raw) > MAX_CLASSES:
        raise CheckpointError(
            f"the checkpoint's 'class_names' must be a list of up to {MAX_CLASSES:,} names"
        )
    if len(raw) != k:
        raise CheckpointError(
            f"{len(raw)} class names ('class_names') for a network with {k} outputs"
        )
    for i, name in enumerate(raw):
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_TEXT:
            raise CheckpointError(
                f"class name {i + 1} in 'class_names' must be text of 1 to {MAX_TEXT} characters"
            )
    return tuple(raw)


def _floats(field: str, raw: Any, channels: int, low: float) -> tuple[float, ...]:
    """One finite number at least `low` per input channel, or a CheckpointError naming `field`."""
    wanted = f"the checkpoint's {field!r} must be {channels} finite numbers, one per input channel"
    if not isinstance(raw, (list, tuple)) or len(raw) != channels:
        raise CheckpointError(wanted)
    values = []
    for v in raw:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise CheckpointError(wanted)
        try:
            values.append(float(v))
        except OverflowError:
            raise CheckpointError(wanted) from None
    if not all(math.isfinite(v) for v in values):
        raise CheckpointError(wanted)
    if min(values) < low:
        raise CheckpointError(f"the checkpoint's {field!r} must all be at least {low:g}")
    return tuple(values)


def _metrics(raw: Any) -> dict[str, Any]:
    wanted = "the checkpoint's 'metrics' must be a JSON object"
    if not isinstance(raw, str) or len(raw) > MAX_METRICS_CHARS:
        raise CheckpointError(f"{wanted} of at most {MAX_METRICS_CHARS:,} characters")
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise CheckpointError(wanted) from None
    if not isinstance(value, dict):
        raise CheckpointError(wanted)
    return value


def _load_state(model: nn.Module, state: Any) -> nn.Module:
    """The model with `state` loaded, once every tensor is checked against its parameter."""
    unfit = "the weights do not fit the network (a different architecture?)"
    if not isinstance(state, dict):
        raise CheckpointError(
            f"the checkpoint's 'state_dict' must map names to tensors, not {type(state).__name__}"
        )
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"the 'state_dict' entry {str(key)[:80]!r} is not a named tensor")
    expected = model.state_dict()
    missing, extra = sorted(set(expected) - set(state)), sorted(set(state) - set(expected))
    if missing or extra:
        which = f"missing {missing[0]!r}" if missing else f"unexpected {extra[0][:80]!r}"
        more = len(missing) + len(extra) - 1
        raise CheckpointError(f"{unfit}: {which}" + (f" and {more} more" if more else ""))
    for key, target in expected.items():
        _check_tensor(key, state[key], target, unfit)
    model.load_state_dict(state)
    return model.eval()


def _check_tensor(key: str, value: torch.Tensor, target: torch.Tensor, unfit: str) -> None:
    """Shape first (a forged tensor may be huge), then kind of number, then finiteness."""
    if value.layout != torch.strided or value.is_quantized or value.is_nested:
        raise CheckpointError(f"the tensor {key!r} is not a plain dense tensor")
    if value.shape != target.shape:
        raise CheckpointError(
            f"{unfit}: {key!r} has shape {tuple(value.shape)} in the file, "
            f"the network needs {tuple(target.shape)}"
        )
    if value.is_complex() or value.is_floating_point() != target.is_floating_point():
        raise CheckpointError(
            f"the tensor {key!r} holds {value.dtype}, the network needs {target.dtype}"
        )
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise CheckpointError(f"the tensor {key!r} holds NaN or infinite values")


def metrics_of(data: bytes) -> dict[str, Any]:
    """The training summary stored in checkpoint bytes (empty for bare weights)."""
    payload = _read(data)
    if isinstance(payload, dict) and "metrics" in payload:
        return _metrics(payload["metrics"])
    return {}


def load_shipped(name: str) -> ModelBundle:
    """A fresh copy of a shipped checkpoint, by its display name in SHIPPED."""
    if name not in SHIPPED:
        raise CheckpointError(f"no shipped model called {name!r}")
    path = ROOT / SHIPPED[name]
    if not path.is_file():
        raise CheckpointError(
            f"{SHIPPED[name]} is missing; run `python -m models.training.pretrain`"
        )
    bundle = from_bytes(path.read_bytes())
    bundle.name = name
    return bundle


def manifest() -> dict[str, Any]:
    """Measured figures of the shipped checkpoints, by display name."""
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}

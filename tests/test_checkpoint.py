"""Checkpoints: a faithful round trip, and a clear refusal of every kind of bad file."""

from __future__ import annotations

import io
import os

import pytest
import torch

from models.build import build_model
from models.bundle import ModelBundle
from models.checkpoint import CheckpointError, from_bytes, metrics_of, to_bytes
from models.presets import PRESETS

TINYVGG = PRESETS["TinyVGG (CNN Explainer)"].spec
LENET = PRESETS["LeNet-5"].spec


def _bundle() -> ModelBundle:
    names = tuple("abcdefghij")
    return ModelBundle(
        build_model(TINYVGG, seed=5).eval(),
        "mine",
        TINYVGG.input_shape,
        names,
        (0.1, 0.2, 0.3),
        (0.4, 0.5, 0.6),
        TINYVGG,
        trained=True,
    )


def test_checkpoint_round_trip_keeps_weights_names_normalization_and_metrics():
    original = _bundle()
    data = to_bytes(original, {"val_acc": 0.9})
    loaded = from_bytes(data)
    x = torch.randn(2, 3, 64, 64)
    assert torch.equal(loaded.model(x), original.model(x))
    assert (loaded.class_names, loaded.mean, loaded.std) == (
        original.class_names,
        original.mean,
        original.std,
    )
    assert loaded.spec == TINYVGG and loaded.trained
    assert metrics_of(data) == {"val_acc": 0.9}


def test_bare_state_dict_loads_into_the_fallback_network():
    buffer = io.BytesIO()
    torch.save(build_model(TINYVGG, seed=1).state_dict(), buffer)
    loaded = from_bytes(buffer.getvalue(), fallback_spec=TINYVGG)
    assert loaded.spec == TINYVGG and len(loaded.class_names) == 10


def test_weights_of_another_architecture_are_refused_with_a_clear_message():
    buffer = io.BytesIO()
    torch.save(build_model(TINYVGG).state_dict(), buffer)
    with pytest.raises(CheckpointError, match="do not fit the network"):
        from_bytes(buffer.getvalue(), fallback_spec=LENET)


@pytest.mark.parametrize("data", [b"", b"not a checkpoint at all", b"PK\x03\x04broken"])
def test_corrupt_files_are_refused_as_damaged(data):
    with pytest.raises(CheckpointError, match="damaged or is not a PyTorch checkpoint"):
        from_bytes(data)


def test_a_truncated_checkpoint_is_refused_as_damaged():
    data = to_bytes(_bundle())
    with pytest.raises(CheckpointError, match="damaged"):
        from_bytes(data[: len(data) // 2])


class _Payload:
    """A pickle that would create a file if it were ever unpickled with full pickle."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.mkdir, (self.path,))


def test_a_pickle_that_tries_to_run_code_is_refused_and_never_runs(tmp_path):
    target = tmp_path / "pwned"
    buffer = io.BytesIO()
    torch.save({"state_dict": _Payload(str(target))}, buffer)
    with pytest.raises(CheckpointError, match="code that would run"):
        from_bytes(buffer.getvalue())
    assert not target.exists()


def test_a_torch_file_of_something_else_is_refused():
    buffer = io.BytesIO()
    torch.save([1, 2, 3], buffer)
    with pytest.raises(CheckpointError, match="not a CNN Lab checkpoint"):
        from_bytes(buffer.getvalue())

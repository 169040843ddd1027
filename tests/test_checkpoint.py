"""Checkpoints: a faithful round trip, and a clear refusal of every kind of bad file."""

from __future__ import annotations

import io
import json
import os
import struct
import zipfile

import pytest
import torch

from models.bundle import ModelBundle
from models.network.build import build_model
from models.network.presets import PRESETS
from models.network.spec import NetworkSpec
from models.training.checkpoint import FORMAT, CheckpointError, from_bytes, metrics_of, to_bytes

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


# ---------------------------------------------------------------- the archive, before torch.load

TINY = NetworkSpec.from_dict(
    {
        "input": [1, 4, 4],
        "layers": [
            {"type": "conv", "out_channels": 2, "kernel_size": 3},
            {"type": "batchnorm"},
            {"type": "flatten"},
            {"type": "linear", "out_features": 3},
        ],
    }
)


def _tiny_payload(**changes) -> dict:
    """What `to_bytes` writes for a tiny seeded network (1×4×4 in, 3 classes), changed."""
    payload = {
        "format": FORMAT,
        "name": "tiny",
        "spec": TINY.to_json(indent=None),
        "state_dict": build_model(TINY, seed=3).state_dict(),
        "class_names": ["a", "b", "c"],
        "mean": [0.5],
        "std": [0.25],
        "metrics": "{}",
    }
    payload.update(changes)
    return payload


def _saved(obj, **options) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer, **options)
    return buffer.getvalue()


def _rezipped(data: bytes, method: int) -> bytes:
    """The same records, written again with another compression method."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w", method) as target:
        for info in source.infolist():
            target.writestr(info.filename, source.read(info))
    return out.getvalue()


def test_the_tiny_payload_loads_so_each_refusal_below_is_about_its_one_change():
    bundle = from_bytes(_saved(_tiny_payload()))
    assert bundle.class_names == ("a", "b", "c") and bundle.mean == (0.5,)
    assert bundle.model(torch.zeros(2, 1, 4, 4)).shape == (2, 3)


def test_a_checkpoint_with_compressed_records_is_refused_without_unpacking_it():
    data = _rezipped(_saved(_tiny_payload()), zipfile.ZIP_DEFLATED)
    with pytest.raises(CheckpointError, match="is compressed or encrypted"):
        from_bytes(data)


def test_a_checkpoint_with_an_encrypted_record_is_refused():
    data = bytearray(_saved(_tiny_payload()))
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 1  # general purpose flag bit 0: encrypted
    with pytest.raises(CheckpointError, match="is compressed or encrypted"):
        from_bytes(bytes(data))


def test_a_checkpoint_over_the_size_cap_set_in_the_environment_is_refused(monkeypatch):
    data = _saved(_tiny_payload())
    monkeypatch.setenv("CNNLAB_MAX_CHECKPOINT_MB", "0.001")  # 1 KB
    with pytest.raises(
        CheckpointError, match=r"holds 2 KB of weights; at most 1 KB \(set by CNNLAB_MAX"
    ):
        from_bytes(data)
    monkeypatch.setenv("CNNLAB_MAX_CHECKPOINT_MB", "1")
    assert from_bytes(data).name == "tiny"


def _declaring(sizes: list[int]) -> bytes:
    """A zip of empty stored records whose directory declares these sizes (nothing behind them)."""
    out, central = io.BytesIO(), []
    for i, size in enumerate(sizes):
        name = f"archive/data/{i}".encode()
        fields = (0, 0, 0, 0, size, size, len(name), 0)  # method, time, date, CRC, sizes, names
        header = struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, *fields, 0, 0, 0, 0, out.tell()
        )
        central.append(header + name)
        out.write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, *fields) + name)
    start = out.tell()
    out.write(b"".join(central))
    n, length = len(sizes), out.tell() - start
    out.write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, length, start, 0))
    return out.getvalue()


def test_a_small_file_declaring_3_gb_of_records_is_refused_from_its_directory():
    data = _declaring([2**30] * 3)
    assert len(data) < 1_000
    with pytest.raises(CheckpointError, match="holds 3,072 MB of weights; at most 200 MB"):
        from_bytes(data)


def test_a_checkpoint_in_the_legacy_pickle_format_is_refused_plainly():
    data = _saved(_tiny_payload(), _use_new_zipfile_serialization=False)
    with pytest.raises(CheckpointError, match="old format"):
        from_bytes(data)


# ---------------------------------------------------------------- the payload, field by field

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("format", "cnn-lab-checkpoint/99", "format 'cnn-lab-checkpoint/99' is unknown"),
        ("name", 5, "'name' must be text"),
        ("name", "x" * 300, "'name' must be text"),
        ("spec", 42, "'spec' must be JSON text"),
        ("spec", "not json", r"\('spec'\) is invalid"),
        ("spec", '{"input": [1, 4, 4]}', r"\('spec'\) is invalid"),
        ("class_names", "abc", "'class_names' must be a list"),
        ("class_names", ["a"] * 10_001, "'class_names' must be a list of up to 10,000"),
        ("class_names", ["a", "b"], "2 class names \\('class_names'\\) for a network with 3"),
        ("class_names", ["a", 3, "c"], "class name 2 in 'class_names'"),
        ("class_names", ["a", "b", " "], "class name 3 in 'class_names'"),
        ("class_names", ["a" * 256, "b", "c"], "class name 1 in 'class_names'"),
        ("mean", [0.5, 0.5], "'mean' must be 1 finite numbers"),
        ("mean", [NAN], "'mean' must be 1 finite numbers"),
        ("mean", ["0.5"], "'mean' must be 1 finite numbers"),
        ("mean", [True], "'mean' must be 1 finite numbers"),
        ("mean", [10**400], "'mean' must be 1 finite numbers"),
        ("std", [0.0], "'std' must all be at least 1e-06"),
        ("std", [-1.0], "'std' must all be at least"),
        ("std", [INF], "'std' must be 1 finite numbers"),
        ("std", 0.25, "'std' must be 1 finite numbers"),
        ("metrics", 5, "'metrics' must be a JSON object"),
        ("metrics", "not json", "'metrics' must be a JSON object"),
        ("metrics", "[1, 2]", "'metrics' must be a JSON object"),
        ("metrics", "[" * 100_000, "'metrics' must be a JSON object"),
        ("state_dict", [1, 2], "'state_dict' must map names to tensors, not list"),
    ],
)
def test_every_field_of_the_payload_is_checked_and_named(field, value, message):
    with pytest.raises(CheckpointError, match=message):
        from_bytes(_saved(_tiny_payload(**{field: value})))


def _with_tensor(key: str, value) -> dict:
    state = dict(build_model(TINY, seed=3).state_dict())
    if value is None:
        del state[key]
    else:
        state[key] = value
    return _tiny_payload(state_dict=state)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        (
            "fc1.weight",
            torch.zeros(3, 9),
            r"'fc1.weight' has shape \(3, 9\) in the file, the "
            r"network needs \(3, 8\)",
        ),
        ("fc1.bias", None, "do not fit the network.*missing 'fc1.bias'"),
        ("fc9.bias", torch.zeros(3), "do not fit the network.*unexpected 'fc9.bias'"),
        ("conv1.weight", [0.0] * 18, "'conv1.weight' is not a named tensor"),
        ("conv1.bias", torch.tensor([0.0, NAN]), "'conv1.bias' holds NaN or infinite"),
        ("bn1.running_var", torch.tensor([1.0, INF]), "'bn1.running_var' holds NaN or infinite"),
        ("conv1.bias", torch.tensor([1, 2]), "'conv1.bias' holds torch.int64"),
        ("conv1.bias", torch.zeros(2, dtype=torch.complex64), "'conv1.bias' holds torch.complex"),
        ("bn1.num_batches_tracked", torch.tensor(1.5), "'bn1.num_batches_tracked' holds"),
        pytest.param(
            "fc1.weight",
            torch.zeros(3, 8).to_sparse(),
            "'fc1.weight' is not a plain dense",
            marks=pytest.mark.filterwarnings("ignore:Validating sparse tensor invariants"),
        ),
    ],
)
def test_each_tensor_must_match_its_parameter_and_a_mismatch_names_it(key, value, message):
    with pytest.raises(CheckpointError, match=message):
        from_bytes(_saved(_with_tensor(key, value)))


def test_a_forged_tensor_of_a_trillion_elements_is_refused_by_its_shape_alone():
    huge = torch.zeros(1).expand(10**6, 10**6)  # one stored number, viewed 10^12 times
    data = _saved(_with_tensor("fc1.weight", huge))
    assert len(data) < 10_000
    with pytest.raises(CheckpointError, match=r"'fc1.weight' has shape \(1000000, 1000000\)"):
        from_bytes(data)


def test_a_missing_field_is_named():
    payload = _tiny_payload()
    del payload["std"]
    with pytest.raises(CheckpointError, match="lacks its 'std' entry"):
        from_bytes(_saved(payload))


def test_a_bare_state_dict_with_a_name_that_is_not_text_is_refused():
    state = {**build_model(TINY, seed=3).state_dict(), 7: torch.zeros(1)}
    with pytest.raises(CheckpointError, match="'7' is not a named tensor"):
        from_bytes(_saved(state), fallback_spec=TINY)


def test_metrics_are_read_back_and_damaged_metrics_are_refused():
    assert metrics_of(_saved(_tiny_payload(metrics=json.dumps({"val_acc": 0.5})))) == {
        "val_acc": 0.5
    }
    with pytest.raises(CheckpointError, match="'metrics'"):
        metrics_of(_saved(_tiny_payload(metrics="{")))

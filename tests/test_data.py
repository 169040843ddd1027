"""Data sets: built-in sets, torchvision files in their real format, zips, splits and fitting."""

from __future__ import annotations

import gzip  # noqa: F401  (MNIST also reads .gz; the raw files below are uncompressed)
import io
import pickle
import struct
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from models.data.datasets import (
    DataError,
    ImageData,
    adapt_spec,
    channel_stats,
    check_fit,
    digits,
    fit_data,
    prepare,
    shapes,
    stratified_split,
)
from models.data.downloads import load_torchvision
from models.data.zipdata import ZipLimits, load_zip
from models.network.presets import PRESETS
from models.network.spec import SpecError

TINYVGG = PRESETS["TinyVGG (CNN Explainer)"].spec


def test_shapes_are_cached_so_a_rerun_does_not_redraw_them():
    assert shapes(60, seed=1) is shapes(60, seed=1)
    first = shapes(60, seed=1)
    assert first.shape == (3, 64, 64) and first.x.dtype == torch.uint8 and len(first.y) == 60


def test_digits_are_1797_gray_8x8_images_scaled_to_bytes():
    d = digits()
    assert d.x.shape == (1797, 1, 8, 8) and d.x.max() == 255 and len(d.class_names) == 10


def test_stratified_split_keeps_class_shares_and_never_overlaps():
    y = torch.tensor([0] * 50 + [1] * 30 + [2] * 20)
    train, val = stratified_split(y, 0.2, seed=0)
    assert set(train.tolist()).isdisjoint(val.tolist())
    assert sorted(train.tolist() + val.tolist()) == list(range(100))
    assert torch.bincount(y[val]).tolist() == [10, 6, 4]


def test_prepare_takes_normalization_statistics_from_the_training_split_only():
    data = shapes(100, seed=2)
    prepared = prepare(data, (3, 32, 32), 0.2, seed=0)
    assert prepared.train_x.shape[1:] == (3, 32, 32) and len(prepared.val_y) == 20
    assert prepared.mean == pytest.approx(channel_stats(prepared.train_x)[0])
    assert prepared.mean != pytest.approx(channel_stats(prepared.val_x)[0])


def test_fit_data_turns_rgb_into_gray_and_resizes():
    fitted = fit_data(shapes(20, seed=3), (1, 28, 28))
    assert fitted.x.shape == (20, 1, 28, 28) and fitted.x.dtype == torch.uint8


def test_check_fit_names_channel_size_and_class_disagreements():
    report = check_fit(digits(), TINYVGG)
    assert report.classes_match and len(report.problems) == 2
    assert "1 channel" in report.problems[0] and "8×8" in report.problems[1]
    assert check_fit(shapes(20), TINYVGG).problems == ()


def _zip(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _png(colour: tuple[int, int, int], size=(20, 12)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


def test_adapt_spec_fits_input_and_last_layer_or_says_why_it_cannot():
    data = load_zip(
        _zip({f"c{k}/{i}.png": _png((k * 40, 0, 0)) for k in range(5) for i in range(2)})
    )[0]
    adapted = adapt_spec(TINYVGG, data)
    assert adapted.input_shape == (3, 64, 64) and adapted.output_shape == (5,)
    with pytest.raises(SpecError, match="smaller than 1×1"):
        adapt_spec(TINYVGG, digits())  # 8×8 is too small for four unpadded 3×3 convs


def test_zip_of_class_folders_loads_with_counts_and_skips_non_images():
    files = {
        "cats/a.png": _png((200, 0, 0)),
        "cats/b.png": _png((190, 0, 0)),
        "dogs/c.png": _png((0, 0, 200)),
        "dogs/notes.txt": b"not an image",
        "README.md": b"top-level files have no class",
    }
    data, skipped = load_zip(_zip(files))
    assert data.counts() == {"cats": 2, "dogs": 1} and skipped == 2
    assert data.shape == (3, 64, 64)


@pytest.mark.parametrize(
    ("files", "limits", "message"),
    [
        ({"a.txt": b"x"}, ZipLimits(), "no images"),
        ({"cats/a.png": _png((1, 2, 3))}, ZipLimits(), "one class"),
        ({f"c/{i}.png": b"" for i in range(6)}, ZipLimits(max_entries=5), "at most 5"),
        ({"c/big.png": b"\0" * 3_000_000}, ZipLimits(), "zip bomb"),
        ({"c/big.png": b"\0" * 3_000}, ZipLimits(max_total_bytes=1000), "unpacks to"),
    ],
)
def test_bad_zips_get_a_clear_error(files, limits, message):
    with pytest.raises(DataError, match=message):
        load_zip(_zip(files), limits)


def test_paths_escaping_the_folder_are_ignored_and_counted():
    files = {
        "../evil/a.png": _png((1, 1, 1)),
        "/abs/b.png": _png((2, 2, 2)),
        "x/c.png": _png((3, 3, 3)),
        "y/d.png": _png((4, 4, 4)),
    }
    data, skipped = load_zip(_zip(files))
    assert data.class_names == ("x", "y") and skipped == 2


def test_a_file_that_is_not_a_zip_is_refused():
    with pytest.raises(DataError, match="not a zip"):
        load_zip(b"PK but not really")


def _two_classes(**extra: bytes) -> dict[str, bytes]:
    return {"cats/a.png": _png((200, 0, 0)), "dogs/b.png": _png((0, 0, 200)), **extra}


def _central_record(data: bytearray, name: str) -> int:
    """The offset of `name`'s record in the zip's central directory."""
    start = data.find(b"PK\x01\x02")
    while start >= 0:
        length = int.from_bytes(data[start + 28 : start + 30], "little")
        if data[start + 46 : start + 46 + length] == name.encode():
            return start
        start = data.find(b"PK\x01\x02", start + 4)
    raise AssertionError(f"{name} is not in the zip")


def _patched(data: bytes, name: str, field: int, value: int) -> bytes:
    """The zip with a 2-byte field of `name`'s central and local headers set to `value`.

    `field` is the offset in the central record (8: flags, 10: method); the local header holds
    the same field 2 bytes earlier.
    """
    out = bytearray(data)
    central = _central_record(out, name)
    local = int.from_bytes(out[central + 42 : central + 46], "little")
    for offset in (central + field, local + field - 2):
        out[offset : offset + 2] = value.to_bytes(2, "little")
    return bytes(out)


def _payload_offset(data: bytes, name: str) -> int:
    """Where `name`'s (possibly compressed) bytes start in the zip."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        local = archive.getinfo(name).header_offset
    lengths = data[local + 26 : local + 30]
    return (
        local + 30 + int.from_bytes(lengths[:2], "little") + int.from_bytes(lengths[2:], "little")
    )


def test_an_encrypted_entry_is_refused_by_name():
    data = _patched(
        _zip(_two_classes(**{"dogs/secret.png": _png((9, 9, 9))})), "dogs/secret.png", 8, 1
    )
    with pytest.raises(DataError, match="dogs/secret.png is encrypted"):
        load_zip(data)


def test_an_entry_with_an_unknown_compression_method_is_refused_by_name():
    data = _patched(_zip(_two_classes(**{"dogs/odd.png": _png((9, 9, 9))})), "dogs/odd.png", 10, 99)
    with pytest.raises(DataError, match="dogs/odd.png is compressed with method 99"):
        load_zip(data)


def test_an_entry_whose_bytes_do_not_match_its_crc_is_refused_by_name():
    png = _png((9, 9, 9), size=(40, 40))
    data = bytearray(_zip(_two_classes(**{"dogs/flip.png": png}), zipfile.ZIP_STORED))
    data[_payload_offset(bytes(data), "dogs/flip.png") + len(png) - 20] ^= 0xFF
    with pytest.raises(DataError, match="dogs/flip.png is damaged inside the zip.*CRC"):
        load_zip(bytes(data))


def test_an_entry_with_corrupt_deflate_data_is_refused_by_name():
    data = bytearray(_zip(_two_classes(**{"dogs/bad.png": _png((9, 9, 9))})))
    data[_payload_offset(bytes(data), "dogs/bad.png")] = 0xFF  # deflate block type 3: invalid
    with pytest.raises(DataError, match="dogs/bad.png is damaged inside the zip"):
        load_zip(bytes(data))


@pytest.fixture(scope="module")
def huge_png() -> bytes:
    """A real 6000×6000 one-bit PNG: 36 million pixels in a few kilobytes."""
    buffer = io.BytesIO()
    Image.new("1", (6000, 6000)).save(buffer, "PNG")
    assert len(buffer.getvalue()) < 20_000
    return buffer.getvalue()


def test_600_small_pngs_claiming_6000_by_6000_are_refused_without_decoding_one(
    huge_png, monkeypatch
):
    files = {f"c{i % 2}/{i}.png": huge_png for i in range(600)}
    data = _zip(files, zipfile.ZIP_STORED)
    decoded = []
    real_load = ImageFile.ImageFile.load

    def counting_load(image):
        decoded.append(image.size)
        return real_load(image)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counting_load)
    with pytest.raises(DataError, match="more than 200 million pixels"):
        load_zip(data)
    assert decoded == []


def test_the_pixel_budget_comes_from_the_environment_and_counts_every_image(monkeypatch):
    files = {f"c{i % 2}/{i}.png": _png((i, 0, 0), size=(20, 10)) for i in range(6)}
    assert len(load_zip(_zip(files))[0].y) == 6  # 1,200 pixels
    monkeypatch.setenv("CNNLAB_MAX_ZIP_MPIXELS", "0.001")  # 1,000 pixels
    with pytest.raises(DataError, match="more than 0.001 million pixels.*CNNLAB_MAX_ZIP_MPIXELS"):
        load_zip(_zip(files))
    assert len(load_zip(_zip(files), ZipLimits(max_pixels=1_200))[0].y) == 6


def test_images_that_fail_their_own_header_checks_are_skipped_not_counted():
    strip = _png((1, 2, 3), size=(510, 10))  # 51:1, refused by load_image's header check
    data, skipped = load_zip(_zip(_two_classes(**{"dogs/strip.png": strip})))
    assert data.counts() == {"cats": 1, "dogs": 1} and skipped == 1


def _idx_images(n: int, side: int = 28) -> bytes:
    pixels = (np.arange(n * side * side) % 251).astype(np.uint8).tobytes()
    return struct.pack(">IIII", 2051, n, side, side) + pixels


def _idx_labels(labels: list[int]) -> bytes:
    return struct.pack(">II", 2049, len(labels)) + bytes(labels)


@pytest.mark.parametrize(
    ("name", "folder"), [("MNIST", "MNIST"), ("Fashion-MNIST", "FashionMNIST")]
)
def test_mnist_style_sets_load_from_idx_files_in_torchvision_layout(tmp_path, name, folder):
    raw = tmp_path / folder / "raw"
    raw.mkdir(parents=True)
    for split, n in (("train", 12), ("t10k", 3)):
        (raw / f"{split}-images-idx3-ubyte").write_bytes(_idx_images(n))
        (raw / f"{split}-labels-idx1-ubyte").write_bytes(_idx_labels([i % 10 for i in range(n)]))
    data = load_torchvision(name, tmp_path, download=False, limit=10)
    assert data.x.shape == (10, 1, 28, 28) and data.y.tolist() == list(range(10))
    assert len(data.class_names) == 10


def test_cifar10_loads_from_python_pickle_batches(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(batch))
    names = [
        "airplane",
        "automobile",
        "bird",
        "cat",
        "deer",
        "dog",
        "frog",
        "horse",
        "ship",
        "truck",
    ]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": names}))
    data = load_torchvision("CIFAR-10", tmp_path, download=False)
    assert data.x.shape == (20, 3, 32, 32) and data.class_names[3] == "cat"
    assert data.y[:4].tolist() == [0, 1, 2, 3]


def test_missing_download_without_network_says_to_use_the_built_in_sets(tmp_path):
    with pytest.raises(DataError, match="built-in data set"):
        load_torchvision("CIFAR-10", tmp_path, download=False)


def test_image_data_counts_classes_by_name():
    data = ImageData(
        torch.zeros(3, 1, 2, 2, dtype=torch.uint8), torch.tensor([1, 1, 0]), ("a", "b"), "t"
    )
    assert data.counts() == {"a": 1, "b": 2}


def test_a_jpeg_whose_header_is_longer_than_the_first_read_is_still_measured_and_loaded():
    buffer = io.BytesIO()
    profile = np.random.default_rng(0).integers(0, 256, 400_000, dtype=np.uint8).tobytes()
    Image.new("RGB", (30, 20), (0, 200, 0)).save(buffer, "JPEG", icc_profile=profile)
    jpeg = buffer.getvalue()
    with pytest.raises(OSError):
        Image.open(io.BytesIO(jpeg[: 256 * 2**10]))  # the size lies past the first 256 KB
    data, skipped = load_zip(_zip(_two_classes(**{"dogs/long.jpg": jpeg})))
    assert data.counts() == {"cats": 1, "dogs": 2} and skipped == 0

"""Image data sets for training: built-in, downloaded or uploaded, split and fitted to a network.

Every set becomes an `ImageData`: uint8 images (N, C, H, W) with int64 labels and class names.
Keeping uint8 until a batch is drawn uses a quarter of the memory of float32, which matters on a
classroom server where every student holds a copy. `prepare` resizes to the network's input,
makes a stratified train/validation split and takes normalization statistics from the training
split only, so nothing about the validation images leaks into training.
"""

from __future__ import annotations

import functools
import io
import os
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from models.shapes import SHAPE_CLASSES, ShapeStyle, make_shapes
from models.spec import LinearSpec, NetworkSpec, SpecError

ZIP_SIDE = 64  # uploaded images are centre-cropped to a square of this side
LUMA = (0.299, 0.587, 0.114)  # ITU-R 601 weights for RGB -> gray


class DataError(ValueError):
    """A data set that cannot be used, with a reason a user can read."""


@dataclass(frozen=True)
class ImageData:
    x: torch.Tensor  # (N, C, H, W) uint8
    y: torch.Tensor  # (N,) int64 class indices
    class_names: tuple[str, ...]
    name: str

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    def counts(self) -> dict[str, int]:
        """Images per class, by name."""
        per = torch.bincount(self.y, minlength=len(self.class_names)).tolist()
        return dict(zip(self.class_names, per, strict=True))


@dataclass(frozen=True)
class PreparedData:
    """A train/validation split at the network's input size, with training-split statistics."""

    train_x: torch.Tensor  # (N, C, H, W) uint8
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    class_names: tuple[str, ...]
    mean: tuple[float, ...]  # per channel, of pixels scaled to [0, 1]
    std: tuple[float, ...]
    name: str


@functools.lru_cache(maxsize=2)
def digits() -> ImageData:
    """scikit-learn's 1,797 handwritten digits, 8×8 gray, values 0..16 scaled to 0..255."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.from_numpy(np.rint(bunch.images * (255 / 16)).astype(np.uint8))[:, None]
    y = torch.from_numpy(bunch.target.astype(np.int64))
    return ImageData(x, y, tuple(str(d) for d in range(10)), "digits")


@functools.lru_cache(maxsize=4)
def shapes(n: int = 2000, seed: int = 0, noise: float = 0.0, imbalance: float = 1.0) -> ImageData:
    """The generated coloured shapes (64×64 RGB); cached so a rerun does not redraw them."""
    images, labels = make_shapes(n, seed, ShapeStyle(noise=noise), imbalance)
    x = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W)
    return ImageData(x, torch.from_numpy(labels), SHAPE_CLASSES, "shapes")


# ---------------------------------------------------------------- torchvision sets


def data_dir() -> Path:
    """Where downloads are kept: $CNNLAB_DATA_DIR, else ~/.cache/cnn-lab."""
    return Path(os.environ.get("CNNLAB_DATA_DIR", Path.home() / ".cache" / "cnn-lab"))


def _cifar_class():
    from torchvision.datasets import CIFAR10

    class CIFAR10Files(CIFAR10):
        """CIFAR-10 that checks the batch files are present rather than their md5 sums.

        torchvision already checks the archive's md5 when it downloads it; re-hashing 170 MB on
        every load is slow, and files that do not unpickle are reported as damaged instead.
        """

        def _check_integrity(self) -> bool:
            folder = Path(self.root) / self.base_folder
            return all((folder / name).is_file() for name, _ in self.train_list + self.test_list)

        def _load_meta(self) -> None:
            import pickle

            with open(Path(self.root) / self.base_folder / self.meta["filename"], "rb") as f:
                self.classes = pickle.load(f, encoding="latin1")[self.meta["key"]]
            self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    return CIFAR10Files


def _torchvision_class(name: str):
    from torchvision.datasets import MNIST, FashionMNIST

    return {"MNIST": MNIST, "Fashion-MNIST": FashionMNIST, "CIFAR-10": _cifar_class()}[name]


TORCHVISION_SETS: tuple[str, ...] = ("MNIST", "Fashion-MNIST", "CIFAR-10")


def load_torchvision(
    name: str, root: Path | None = None, download: bool = True, limit: int = 10_000
) -> ImageData:
    """The first `limit` training images of a torchvision set, downloading it once if asked."""
    if name not in TORCHVISION_SETS:
        raise DataError(f"unknown data set {name!r}; choose one of {', '.join(TORCHVISION_SETS)}")
    root = root or data_dir()
    try:
        ds = _torchvision_class(name)(str(root), train=True, download=download)
    except Exception as err:  # network errors come as URLError, OSError or RuntimeError
        raise DataError(
            f"{name} could not be loaded from {root} ({type(err).__name__}: {err}). Without an "
            "internet connection, use a built-in data set (shapes or digits)."
        ) from None
    data = torch.as_tensor(np.asarray(ds.data))[:limit]
    x = data[:, None] if data.ndim == 3 else data.permute(0, 3, 1, 2)  # (N, C, H, W)
    y = torch.as_tensor(np.asarray(ds.targets), dtype=torch.int64)[:limit]
    return ImageData(x.contiguous().to(torch.uint8), y, tuple(map(str, ds.classes)), name)


# ---------------------------------------------------------------- zip of class folders


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 20_000  # files and folders in the archive
    max_total_bytes: int = 300 * 2**20  # uncompressed, all files together
    max_ratio: float = 200.0  # uncompressed / compressed size of one file: above is a bomb


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The path's parts, or None for a path that is absolute or climbs out with '..'."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in (path.parts[0] if path.parts else ""):
        return None
    return path.parts


def _check_zip(archive: zipfile.ZipFile, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    infos = archive.infolist()
    if len(infos) > limits.max_entries:
        raise DataError(f"the zip holds {len(infos):,} entries; at most {limits.max_entries:,}")
    total = sum(i.file_size for i in infos)
    if total > limits.max_total_bytes:
        raise DataError(
            f"the zip unpacks to {total / 2**20:,.0f} MB; at most "
            f"{limits.max_total_bytes / 2**20:,.0f} MB"
        )
    for info in infos:
        if info.file_size > limits.max_ratio * max(info.compress_size, 1) + 1024:
            raise DataError(f"{info.filename} expands {limits.max_ratio:.0f}× or more: a zip bomb")
    return [i for i in infos if not i.is_dir()]


def _read_image(archive: zipfile.ZipFile, info: zipfile.ZipInfo):
    from models.images import ImageError, load_image

    with archive.open(info) as f:
        raw = f.read(info.file_size + 1)  # never more than the header promised
    if len(raw) > info.file_size:
        raise DataError(f"{info.filename} is larger than the zip says: a damaged or forged zip")
    try:
        return ImageOps.fit(load_image(raw), (ZIP_SIDE, ZIP_SIDE))
    except ImageError:
        return None


def load_zip(data: bytes, limits: ZipLimits = ZipLimits()) -> tuple[ImageData, int]:
    """Images in class folders (cat/1.png, dog/2.jpg, ...) and how many files were skipped."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise DataError("this is not a zip file") from None
    with archive:
        files = _check_zip(archive, limits)
        images: list[Image.Image] = []
        labels: list[str] = []
        skipped, escaping = 0, 0
        for info in files:
            parts = _safe_parts(info.filename)
            if parts is None:
                escaping += 1
                continue
            if len(parts) < 2 or any(p.startswith((".", "__MACOSX")) for p in parts):
                skipped += 1
                continue
            image = _read_image(archive, info)
            if image is None:
                skipped += 1
                continue
            images.append(image)
            labels.append(parts[-2])
    return _from_images(images, labels, skipped, escaping), skipped + escaping


def _from_images(images: list, labels: list[str], skipped: int, escaping: int) -> ImageData:
    note = f" ({skipped} files were not images" + (
        f"; {escaping} paths pointed outside the folder and were ignored)" if escaping else ")"
    )
    if not images:
        raise DataError("the zip holds no images in class folders like cat/1.png" + note)
    names = tuple(sorted(set(labels)))
    if len(names) < 2:
        raise DataError(f"all images are in one class ({names[0]}); a classifier needs two or more")
    x = torch.from_numpy(np.stack([np.asarray(i) for i in images])).permute(0, 3, 1, 2)
    y = torch.tensor([names.index(label) for label in labels], dtype=torch.int64)
    return ImageData(x.contiguous(), y, names, "uploaded zip")


# ---------------------------------------------------------------- fitting and splitting


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 (N, C, H, W) images with `channels` channels: gray <-> RGB."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1:
        return x.expand(-1, channels, -1, -1).contiguous()
    if c == 3 and channels == 1:
        w = torch.tensor(LUMA).view(1, 3, 1, 1)
        return (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise DataError(f"cannot turn {c}-channel images into {channels}-channel ones")


def resize(x: torch.Tensor, size: tuple[int, int], chunk: int = 1024) -> torch.Tensor:
    """uint8 images resized (bilinear, antialiased when shrinking), in chunks to cap memory."""
    if tuple(x.shape[2:]) == tuple(size):
        return x
    out = [
        F.interpolate(part.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
        .round_()
        .clamp_(0, 255)
        .to(torch.uint8)
        for part in x.split(chunk)
    ]
    return torch.cat(out)


def fit_data(data: ImageData, input_shape: tuple[int, int, int]) -> ImageData:
    """The images converted to the network's channels and resized to its height and width."""
    x = resize(convert_channels(data.x, input_shape[0]), tuple(input_shape[1:]))
    return replace(data, x=x)


def stratified_split(
    y: torch.Tensor, val_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and validation indices with each class in the same proportion in both."""
    if not 0 < val_fraction < 1:
        raise DataError(f"the validation share must be between 0 and 1, not {val_fraction}")
    gen = torch.Generator().manual_seed(seed)
    train, val = [], []
    for c in torch.unique(y):
        idx = torch.nonzero(y == c).flatten()
        idx = idx[torch.randperm(len(idx), generator=gen)]
        n_val = min(max(1, round(len(idx) * val_fraction)), len(idx) - 1) if len(idx) > 1 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return torch.cat(train).sort().values, torch.cat(val).sort().values


def channel_stats(
    x: torch.Tensor, chunk: int = 1024
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images scaled to [0, 1]."""
    total = torch.zeros(x.shape[1], dtype=torch.float64)
    squares = torch.zeros_like(total)
    for part in x.split(chunk):
        p = part.double() / 255
        total += p.sum((0, 2, 3))
        squares += (p * p).sum((0, 2, 3))
    n = x.shape[0] * x.shape[2] * x.shape[3]
    mean = total / n
    std = (squares / n - mean**2).clamp_min(1e-12).sqrt().clamp_min(1e-3)
    return tuple(mean.tolist()), tuple(std.tolist())


def prepare(
    data: ImageData, input_shape: tuple[int, int, int], val_fraction: float = 0.2, seed: int = 0
) -> PreparedData:
    """Fit the images to the network, split them, and measure the training split."""
    if len(data.y) < 4:
        raise DataError(f"{len(data.y)} images are too few to train and validate on")
    fitted = fit_data(data, input_shape)
    tr, va = stratified_split(fitted.y, val_fraction, seed)
    if len(va) == 0:
        raise DataError("every class has a single image: nothing is left to validate on")
    mean, std = channel_stats(fitted.x[tr])
    return PreparedData(
        fitted.x[tr],
        fitted.y[tr],
        fitted.x[va],
        fitted.y[va],
        data.class_names,
        mean,
        std,
        data.name,
    )


@dataclass(frozen=True)
class FitReport:
    """How a data set and a network disagree; empty `problems` when they fit."""

    problems: tuple[str, ...]
    classes_match: bool


def check_fit(data: ImageData, spec: NetworkSpec) -> FitReport:
    """Compare the data's channels, size and classes with the network's input and output."""
    (c, h, w), (nc, nh, nw) = data.shape, spec.input_shape
    out, k = spec.output_shape, len(data.class_names)
    problems = []
    if c != nc:
        problems.append(f"the images have {c} channel(s), the network expects {nc}")
    if (h, w) != (nh, nw):
        problems.append(f"the images are {h}×{w}, the network expects {nh}×{nw}")
    classes_match = out == (k,)
    if not classes_match:
        problems.append(
            f"the data has {k} classes, the network has {'×'.join(map(str, out))} outputs"
        )
    return FitReport(tuple(problems), classes_match)


def adapt_spec(spec: NetworkSpec, data: ImageData) -> NetworkSpec:
    """The network with the data's input shape and one output per class (last linear layer)."""
    last = max((i for i, ly in enumerate(spec.layers) if isinstance(ly, LinearSpec)), default=None)
    if last is None:
        raise SpecError("the network has no linear layer whose outputs could become the classes")
    layers = list(spec.layers)
    layers[last] = replace(layers[last], out_features=len(data.class_names))
    adapted = NetworkSpec(data.shape, tuple(layers))
    if adapted.output_shape != (len(data.class_names),):
        raise SpecError("layers after the last linear layer change the number of outputs")
    return adapted


def image_tensor(image: Image.Image, input_shape: tuple[int, int, int], mean, std) -> torch.Tensor:
    """One PIL image as a normalized float batch (1, C, H, W) for a network."""
    x = torch.from_numpy(np.array(image.convert("RGB"))).permute(2, 0, 1)[None].contiguous()
    x = resize(convert_channels(x, input_shape[0]), tuple(input_shape[1:]))
    m = torch.tensor(mean).view(1, -1, 1, 1)
    s = torch.tensor(std).view(1, -1, 1, 1)
    return (x.float() / 255 - m) / s

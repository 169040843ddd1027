"""Downloaded data sets: MNIST, Fashion-MNIST and CIFAR-10 through torchvision, read as `ImageData`.

Each set is downloaded once into `data_dir()` and read from there afterwards; without a network,
loading fails with a `DataError` that points to the built-in sets.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from models.data.datasets import DataError, ImageData


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

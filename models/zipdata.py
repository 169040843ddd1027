"""An uploaded zip of class folders (cat/1.png, dog/2.jpg, ...) read safely as `ImageData`.

The archive is untrusted: entry count, unpacked size and compression ratio are capped before
anything is read (`ZipLimits`), paths that climb out of the folder are ignored, and every file is
read no further than its header promises.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageOps

from models.data import DataError, ImageData

ZIP_SIDE = 64  # uploaded images are centre-cropped to a square of this side


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

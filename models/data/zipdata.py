"""An uploaded zip of class folders (cat/1.png, dog/2.jpg, ...) read safely as `ImageData`.

The archive is untrusted, so everything is checked before the work it would cost: entry count,
unpacked size and compression ratio from the zip's directory; encrypted entries and unknown
compression methods are refused by name; the decoded pixels of all images together are summed
from their headers (`ZipLimits.max_pixels`) before any image is decoded, so 600 small PNGs that
each claim 6000×6000 pixels are refused in milliseconds. Paths that climb out of the folder are
ignored, every file is read no further than the zip promises, and a damaged entry (bad CRC,
corrupt deflate data) is named in the message.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import numpy as np
import torch
from PIL import Image, ImageOps

from models.data.datasets import DataError, ImageData
from models.data.images import ImageError, load_image, read_header
from models.settings import positive_setting

ZIP_SIDE = 64  # uploaded images are centre-cropped to a square of this side
MAX_PIXELS_ENV = "CNNLAB_MAX_ZIP_MPIXELS"  # overrides the default pixel budget, in millions
DEFAULT_MPIXELS = 200.0  # decoded pixels of all images in a zip, in millions (600 MB as RGB)
HEADER_BYTES = 256 * 2**10  # read this much of an entry to find its size; more if it needs
_LONG_HEADERS = (b"\xff\xd8", b"II*\x00", b"MM\x00*", b"RIFF")  # JPEG, TIFF, WebP: may need more
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate"}
_READ_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    OSError,
    RuntimeError,
    ValueError,
    NotImplementedError,
)


def _env_pixels() -> int:
    """The pixel budget: CNNLAB_MAX_ZIP_MPIXELS (millions) when set to a positive number."""
    return int(positive_setting(MAX_PIXELS_ENV, DEFAULT_MPIXELS, DataError) * 1e6)


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 20_000  # files and folders in the archive
    max_total_bytes: int = 300 * 2**20  # uncompressed, all files together
    max_ratio: float = 200.0  # uncompressed / compressed size of one file: above is a bomb
    max_pixels: int = field(default_factory=_env_pixels)  # decoded, all images together


def _shown(name: str) -> str:
    """A file name fit for a message: printable and at most 80 characters."""
    clean = "".join(c if c.isprintable() else "?" for c in name)
    return clean if len(clean) <= 80 else clean[:77] + "..."


def _safe_parts(name: str) -> tuple[str, ...] | None:
    """The path's parts, or None for a path that is absolute or climbs out with '..'."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or ":" in (path.parts[0] if path.parts else ""):
        return None
    return path.parts


def _check_zip(archive: zipfile.ZipFile, limits: ZipLimits) -> list[zipfile.ZipInfo]:
    """The files of the archive, once its directory passes every cap; nothing is unpacked."""
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
        name = _shown(info.filename)
        if info.file_size > limits.max_ratio * max(info.compress_size, 1) + 1024:
            raise DataError(f"{name} expands {limits.max_ratio:.0f}× or more: a zip bomb")
        if info.flag_bits & 0x1:
            raise DataError(f"{name} is encrypted; zip the folders again without a password")
        if info.compress_type not in METHODS:
            raise DataError(
                f"{name} is compressed with method {info.compress_type}, which is not "
                "supported; zip the folders again with ordinary (deflate) compression"
            )
    return [i for i in infos if not i.is_dir()]


def _damaged(info: zipfile.ZipInfo, err: Exception) -> DataError:
    return DataError(f"{_shown(info.filename)} is damaged inside the zip ({err}); zip it again")


def _read(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int) -> bytes:
    """Up to `size` bytes of an entry; a damaged entry raises DataError naming it."""
    try:
        with archive.open(info) as f:
            return f.read(size)
    except _READ_ERRORS as err:
        raise _damaged(info, err) from None


def _header_size(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int] | None:
    """The image's size from its header (reading the whole entry only if the header is long)."""
    head = _read(archive, info, HEADER_BYTES)
    try:
        return read_header(head)
    except ImageError:
        if len(head) >= info.file_size or not head.startswith(_LONG_HEADERS):
            return None
    try:
        return read_header(_read(archive, info, info.file_size))
    except ImageError:
        return None


def _within_budget(
    archive: zipfile.ZipFile, entries: list[tuple[zipfile.ZipInfo, str]], max_pixels: int
) -> list[tuple[zipfile.ZipInfo, str]]:
    """The entries whose headers show an image, once their pixels together fit the budget."""
    kept, pixels = [], 0
    for info, label in entries:
        size = _header_size(archive, info)
        if size is None:
            continue
        pixels += size[0] * size[1]
        if pixels > max_pixels:
            raise DataError(
                f"the images in the zip hold more than {max_pixels / 1e6:,.6g} million pixels "
                f"once decoded (the limit, set by {MAX_PIXELS_ENV}); use fewer or smaller images"
            )
        kept.append((info, label))
    return kept


def _read_image(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Image.Image | None:
    raw = _read(archive, info, info.file_size + 1)  # never more than the header promised
    if len(raw) > info.file_size:
        raise DataError(
            f"{_shown(info.filename)} is larger than the zip says: a damaged or forged zip"
        )
    try:
        return ImageOps.fit(load_image(raw, max_side=ZIP_SIDE * 8), (ZIP_SIDE, ZIP_SIDE))
    except ImageError:
        return None


def _class_entries(
    files: list[zipfile.ZipInfo],
) -> tuple[list[tuple[zipfile.ZipInfo, str]], int, int]:
    """(entry, class folder) pairs, the count of files outside class folders, of escaping paths."""
    entries, skipped, escaping = [], 0, 0
    for info in files:
        parts = _safe_parts(info.filename)
        if parts is None:
            escaping += 1
        elif len(parts) < 2 or any(p.startswith((".", "__MACOSX")) for p in parts):
            skipped += 1
        else:
            entries.append((info, parts[-2]))
    return entries, skipped, escaping


def load_zip(data: bytes, limits: ZipLimits | None = None) -> tuple[ImageData, int]:
    """Images in class folders (cat/1.png, dog/2.jpg, ...) and how many files were skipped."""
    limits = limits or ZipLimits()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError):
        raise DataError("this is not a zip file") from None
    with archive:
        entries, skipped, escaping = _class_entries(_check_zip(archive, limits))
        measured = _within_budget(archive, entries, limits.max_pixels)
        skipped += len(entries) - len(measured)
        images: list[Image.Image] = []
        labels: list[str] = []
        for info, label in measured:
            image = _read_image(archive, info)
            if image is None:
                skipped += 1
                continue
            images.append(image)
            labels.append(label)
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

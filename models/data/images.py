"""Turning bytes a person uploads into a plain RGB picture, or a message saying why not.

An upload's file name proves nothing, so the content is sniffed by Pillow, restricted to the
usual photo formats. The declared size and shape are checked before any pixel is decoded (a tiny
file can claim billions of pixels, or a strip 70,000 pixels long), EXIF orientation is applied,
transparency is laid on white, deep (16-bit, integer, float) images are brought to 8 bits,
animations give their first frame, and the result is shrunk to a size a page can show
(a JPEG is decoded at reduced scale straight away, so a 40-megapixel photo never is in full).
"""

from __future__ import annotations

import io
import math
import warnings
from typing import IO

import numpy as np
from PIL import Image, ImageOps

from models.errors import CNNLabError

MAX_PIXELS = 40_000_000  # 40 megapixels: a large phone photo, 160 MB once decoded as RGBA
MAX_ASPECT = 50  # longer side / shorter side: beyond this a picture is a strip nothing can show
MAX_SIDE = 2048  # longer side of the image a session keeps; larger uploads are shrunk on intake
PREVIEW_SIDE = 640  # longer side of the sidebar thumbnail (twice its width, for sharp screens)
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
_TRANSPARENT_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_DEEP_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


class ImageError(CNNLabError):
    """An upload that cannot be used as an image; the message is meant for the user."""


def load_image(data: bytes, max_side: int = MAX_SIDE) -> Image.Image:
    """Decode an upload into an RGB image whose longer side is at most `max_side` pixels.

    Raises ImageError, with a sentence for the user, for anything that is not a usable image.
    """
    if not data:
        raise ImageError("The file is empty (0 bytes).")
    with warnings.catch_warnings():
        # Pillow only warns below twice its own cap; here any "bomb" warning refuses the file.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(data)
        _check_size(image.size)
        try:
            image.draft(None, _target_size(image.size, max_side))  # JPEG: decode at 1/2..1/8
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            return _shrink(_to_rgb(image), max_side)
        except ImageError:
            raise
        except Exception as err:  # a damaged file can make Pillow raise almost anything
            raise ImageError(
                "The image is damaged or incomplete (for example cut short during upload) "
                f"and could not be decoded: {err}."
            ) from err


def read_header(source: bytes | IO[bytes]) -> tuple[int, int]:
    """The (width, height) a file declares, checked as `load_image` would, decoding nothing."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(source)
    _check_size(image.size)
    return image.size


def preview_bytes(image: Image.Image, max_side: int = PREVIEW_SIDE) -> bytes:
    """A small JPEG of the image, for showing it; Streamlit sends such bytes on as they are."""
    small = _shrink(image.convert("RGB"), max_side)
    buffer = io.BytesIO()
    small.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _open(source: bytes | IO[bytes]) -> Image.Image:
    """Read the header only; refuse files that are not images or claim too many pixels."""
    try:
        stream = io.BytesIO(source) if isinstance(source, bytes) else source
        return Image.open(stream, formats=ALLOWED_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise ImageError(
            f"The image claims to be far too large ({err}); the limit is "
            f"{MAX_PIXELS / 1e6:.0f} megapixels."
        ) from err
    except Image.UnidentifiedImageError as err:
        raise ImageError(
            f"This file is not an image the app can read. Use {', '.join(ALLOWED_FORMATS)}."
        ) from err
    except Exception as err:
        raise ImageError(f"The image header is damaged or cut short: {err}.") from err


def _check_size(size: tuple[int, int]) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageError(f"The image has no pixels ({width}×{height}).")
    if width * height > MAX_PIXELS:
        raise ImageError(
            f"The image is {width}×{height} = {width * height / 1e6:.0f} megapixels; "
            f"the limit is {MAX_PIXELS / 1e6:.0f} megapixels. Please resize it first."
        )
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageError(
            f"The image is {width}×{height} pixels, a strip "
            f"{max(width, height) / min(width, height):,.0f} times longer than it is wide; "
            f"the limit is {MAX_ASPECT}:1. Please crop it first."
        )


def _target_size(size: tuple[int, int], max_side: int) -> tuple[int, int]:
    """`size` scaled so that its longer side is `max_side` (unchanged when already smaller)."""
    scale = min(1.0, max_side / max(size))
    return max(1, math.ceil(size[0] * scale)), max(1, math.ceil(size[1] * scale))


def _shrink(image: Image.Image, max_side: int) -> Image.Image:
    """The image with its longer side at most `max_side`, resampled as Pillow's thumbnails are."""
    if max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # Bicubic at a third of Lanczos's cost, after a fast integer reduction down to twice the size.
    return image.resize(size, Image.Resampling.BICUBIC, reducing_gap=2.0)


def _to_rgb(image: Image.Image) -> Image.Image:
    """RGB from any mode; transparent pixels become white."""
    if image.mode in _DEEP_MODES:
        image = _deep_to_8bit(image)
    if image.mode in _TRANSPARENT_MODES or "transparency" in image.info:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def _deep_to_8bit(image: Image.Image) -> Image.Image:
    """A greyscale image of 16-bit, 32-bit integer or float pixels as 8-bit "L".

    16-bit data is scaled from 0..65535; floats within 0..1 from 0..1; values that already fit
    0..255 are kept; anything else is stretched from its minimum to its maximum.
    """
    values = np.nan_to_num(np.asarray(image, dtype=np.float64))
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    if image.mode.startswith("I;16"):
        values = values / 257.0
    elif image.mode == "F" and low >= 0.0 and high <= 1.0:
        values = values * 255.0
    elif low >= 0.0 and high <= 255.0:
        pass
    elif image.mode == "I" and low >= 0.0 and high <= 65535.0:
        values = values / 257.0
    else:
        values = (values - low) * (255.0 / max(high - low, 1e-12))
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))  # mode "L"

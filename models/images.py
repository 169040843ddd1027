"""Turning bytes a person uploads into a plain RGB picture, or a message saying why not.

An upload's file name proves nothing, so the content is sniffed by Pillow, restricted to the
usual photo formats. The declared size is checked before any pixel is decoded (a tiny file can
claim billions of pixels), EXIF orientation is applied, transparency is laid on white, deep
(16-bit, integer, float) images are brought to 8 bits, and animations give their first frame.
"""

from __future__ import annotations

import io
import warnings

import numpy as np
from PIL import Image, ImageOps
from models.errors import CNNLabError

MAX_PIXELS = 40_000_000  # 40 megapixels: a large phone photo, 160 MB once decoded as RGBA
ALLOWED_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")
_TRANSPARENT_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
_DEEP_MODES = ("I", "F", "I;16", "I;16L", "I;16B", "I;16N")


class ImageError(CNNLabError):
    """An upload that cannot be used as an image; the message is meant for the user."""


def load_image(data: bytes) -> Image.Image:
    """Decode an uploaded file into an RGB image, or raise ImageError saying what is wrong."""
    if not data:
        raise ImageError("The file is empty (0 bytes).")
    with warnings.catch_warnings():
        # Pillow only warns below twice its own cap; here any "bomb" warning refuses the file.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        image = _open(data)
        _check_size(image.size)
        try:
            image.load()
            image = ImageOps.exif_transpose(image)
            return _to_rgb(image)
        except ImageError:
            raise
        except Exception as err:  # a damaged file can make Pillow raise almost anything
            raise ImageError(
                "The image is damaged or incomplete (for example cut short during upload) "
                f"and could not be decoded: {err}."
            ) from err


def image_to_png_bytes(img: Image.Image) -> bytes:
    """The image as PNG file bytes, for a download button."""
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def _open(data: bytes) -> Image.Image:
    """Read the header only; refuse files that are not images or claim too many pixels."""
    try:
        return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
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

"""Uploads of every awkward kind become RGB images or a readable ImageError; files made here."""

from __future__ import annotations

import io
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from models.data.images import (
    MAX_PIXELS,
    MAX_SIDE,
    ImageError,
    load_image,
    preview_bytes,
    read_header,
)
from ui.results import value_key

RED, BLUE, WHITE = (255, 0, 0), (0, 0, 255), (255, 255, 255)


def _encode(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _from_values(values: list[float], mode: str) -> Image.Image:
    image = Image.new(mode, (len(values), 1))
    for x, v in enumerate(values):
        image.putpixel((x, 0), v)
    return image


def _row(image: Image.Image) -> list[tuple[int, int, int]]:
    assert image.mode == "RGB"
    return [image.getpixel((x, 0)) for x in range(image.width)]


def _png_claiming(width: int, height: int) -> bytes:
    """A 1×1 PNG whose header is rewritten to claim width×height pixels."""
    data = bytearray(_encode(Image.new("L", (1, 1)), "PNG"))
    data[16:20], data[20:24] = width.to_bytes(4, "big"), height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")  # IHDR checksum
    return bytes(data)


def _noisy_jpeg() -> bytes:
    pixels = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    return _encode(Image.fromarray(pixels), "JPEG", quality=90)


def test_a_plain_png_comes_back_pixel_for_pixel():
    pixels = np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    image = load_image(_encode(Image.fromarray(pixels), "PNG"))
    assert image.mode == "RGB" and image.size == (7, 5)
    assert np.array_equal(np.asarray(image), pixels)


def test_exif_orientation_turns_the_picture_upright():
    image = Image.new("RGB", (4, 2), BLUE)
    image.paste(RED, (0, 0, 2, 2))  # left half red
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    loaded = load_image(_encode(image, "PNG", exif=exif.tobytes()))
    assert loaded.size == (2, 4)
    assert loaded.getpixel((0, 0)) == RED and loaded.getpixel((1, 3)) == BLUE


def test_a_palette_image_keeps_its_colours():
    image = _from_values([0, 1], "P")
    image.putpalette([*RED, *BLUE])
    assert _row(load_image(_encode(image, "PNG"))) == [RED, BLUE]


def test_a_palette_image_with_a_transparent_index_shows_white_there():
    image = _from_values([0, 1], "P")
    image.putpalette([*RED, *BLUE])
    assert _row(load_image(_encode(image, "PNG", transparency=0))) == [WHITE, BLUE]


def test_rgba_pixels_are_laid_on_white_by_their_alpha():
    image = _from_values([(255, 0, 0, 0), (255, 0, 0, 255), (0, 0, 0, 128)], "RGBA")
    clear, solid, half = _row(load_image(_encode(image, "PNG")))
    assert clear == WHITE and solid == RED
    assert all(abs(c - 127) <= 1 for c in half)


def test_grey_with_alpha_is_laid_on_white():
    image = _from_values([(50, 0), (50, 255)], "LA")
    assert _row(load_image(_encode(image, "PNG"))) == [WHITE, (50, 50, 50)]


def test_cmyk_inks_become_rgb_colours():
    image = _from_values([(0, 0, 0, 0), (0, 255, 255, 0), (0, 0, 0, 255)], "CMYK")
    assert _row(load_image(_encode(image, "TIFF"))) == [WHITE, RED, (0, 0, 0)]


def test_a_cmyk_jpeg_loads_as_rgb():
    image = Image.new("CMYK", (8, 8), (0, 255, 255, 0))
    loaded = load_image(_encode(image, "JPEG", quality=95))
    assert loaded.mode == "RGB" and loaded.size == (8, 8)
    assert np.abs(np.asarray(loaded, dtype=int)[4, 4] - RED).max() < 16


def test_sixteen_bit_grey_is_scaled_to_eight_bits():
    image = _from_values([0, 32896, 65535], "I;16")
    assert _row(load_image(_encode(image, "PNG"))) == [(0,) * 3, (128,) * 3, (255,) * 3]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([0, 100, 255], [0, 100, 255]),
        ([0, 1000, 65535], [0, 4, 255]),
        ([-10, 0, 10], [0, 128, 255]),
    ],
)
def test_32_bit_integer_grey_is_brought_into_eight_bits(values, expected):
    image = _from_values(values, "I")
    assert _row(load_image(_encode(image, "TIFF"))) == [(v,) * 3 for v in expected]


@pytest.mark.parametrize(
    ("values", "expected"), [([0.0, 0.5, 1.0], [0, 128, 255]), ([-1.0, 0.0, 3.0], [0, 64, 255])]
)
def test_float_grey_is_brought_into_eight_bits(values, expected):
    image = _from_values(values, "F")
    assert _row(load_image(_encode(image, "TIFF"))) == [(v,) * 3 for v in expected]


def test_a_one_bit_image_becomes_black_and_white():
    image = _from_values([0, 1], "1")
    assert _row(load_image(_encode(image, "PNG"))) == [(0, 0, 0), WHITE]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_an_animation_gives_its_first_frame(fmt):
    frames = [Image.new("RGB", (8, 8), RED), Image.new("RGB", (8, 8), BLUE)]
    options = {"lossless": True} if fmt == "WEBP" else {}
    data = _encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, **options)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    loaded = load_image(data)
    assert loaded.mode == "RGB" and loaded.size == (8, 8)
    assert loaded.getpixel((4, 4)) == RED


@pytest.mark.parametrize("size", [(1, 1), (500, 10), (10, 500)])
def test_tiny_images_and_strips_up_to_fifty_to_one_load(size):
    loaded = load_image(_encode(Image.new("RGB", size, BLUE), "PNG"))
    assert loaded.size == size and loaded.mode == "RGB"


@pytest.mark.parametrize("size", [(70000, 8), (8, 70000), (51, 1), (10000, 3)])
def test_a_strip_longer_than_fifty_to_one_is_refused_from_its_header(size):
    data = _png_claiming(*size)  # a header and no pixels: refusing it must not decode anything
    with pytest.raises(ImageError, match="50:1") as caught:
        load_image(data)
    assert f"{size[0]}×{size[1]}" in str(caught.value)
    with pytest.raises(ImageError, match="50:1"):
        read_header(data)


def test_a_real_70000_by_8_png_is_refused_as_a_strip():
    with pytest.raises(ImageError, match="50:1"):
        load_image(_encode(Image.new("RGB", (70000, 8), BLUE), "PNG"))


def test_the_header_gives_the_size_without_decoding_any_pixel():
    assert read_header(_png_claiming(6000, 4000)) == (6000, 4000)
    assert read_header(io.BytesIO(_png_claiming(30, 20))) == (30, 20)
    with pytest.raises(ImageError, match="megapixels"):
        read_header(_png_claiming(8000, 8000))
    with pytest.raises(ImageError, match="not an image"):
        read_header(b"plain text")


def _halves(size: tuple[int, int]) -> Image.Image:
    """Red on the left half, blue on the right."""
    image = Image.new("RGB", size, BLUE)
    image.paste(RED, (0, 0, size[0] // 2, size[1]))
    return image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_large_image_is_shrunk_on_intake_to_the_display_size(fmt):
    loaded = load_image(_encode(_halves((4100, 1025)), fmt))
    assert loaded.size == (MAX_SIDE, 512) and loaded.mode == "RGB"
    pixels = np.asarray(loaded, dtype=int)
    assert np.abs(pixels[256, 100] - RED).max() < 8 and np.abs(pixels[256, -100] - BLUE).max() < 8


def test_a_large_rotated_jpeg_is_shrunk_and_turned_upright():
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display": the red left half ends on top
    loaded = load_image(_encode(_halves((4096, 1024)), "JPEG", exif=exif.tobytes()))
    assert loaded.size == (512, MAX_SIDE)
    pixels = np.asarray(loaded, dtype=int)
    assert np.abs(pixels[100, 256] - RED).max() < 8 and np.abs(pixels[-100, 256] - BLUE).max() < 8


def test_the_longer_side_can_be_capped_lower_for_a_caller_that_needs_less():
    assert load_image(_encode(_halves((300, 200)), "PNG"), max_side=60).size == (60, 40)


def test_a_preview_is_a_small_jpeg_of_the_image():
    data = preview_bytes(_halves((2048, 1024)))
    preview = Image.open(io.BytesIO(data))
    assert preview.format == "JPEG" and preview.size == (640, 320)
    assert len(data) < 50_000


@pytest.mark.parametrize(
    "size",
    [(8000, 8000), (10000, 10000), (30000, 30000)],
    ids=["over-our-cap", "pillow-warns", "pillow-refuses"],
)
def test_a_small_file_claiming_a_huge_size_is_refused_before_decoding(size):
    data = _png_claiming(*size)
    assert len(data) < 100
    before = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no DecompressionBombWarning may escape either
        with pytest.raises(ImageError, match="too large|megapixels"):
            load_image(data)
    assert before == Image.MAX_IMAGE_PIXELS


def test_an_image_just_under_the_pixel_cap_is_accepted_by_the_size_check():
    width = MAX_PIXELS // 1000
    with pytest.raises(ImageError, match="damaged|incomplete"):  # header fine, pixels missing
        load_image(_png_claiming(width, 1000))


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.95])
def test_a_truncated_jpeg_is_refused_not_half_decoded(keep):
    data = _noisy_jpeg()
    with pytest.raises(ImageError, match="damaged|cut short|incomplete"):
        load_image(data[: int(len(data) * keep)])


def test_a_jpeg_missing_only_its_end_marker_is_refused():
    with pytest.raises(ImageError, match="damaged|incomplete"):
        load_image(_noisy_jpeg()[:-2])


def test_a_truncated_png_is_refused():
    pixels = np.random.default_rng(2).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    data = _encode(Image.fromarray(pixels), "PNG")
    with pytest.raises(ImageError, match="damaged|incomplete"):
        load_image(data[: len(data) // 2])


def test_zero_bytes_are_refused_as_empty():
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


@pytest.mark.parametrize(
    "data",
    [b"Dear teacher, this is not a picture.\n", b"\x7fELF\x02\x01\x01\x00" + bytes(120)],
    ids=["text", "elf-executable"],
)
def test_a_file_that_is_not_an_image_is_refused_whatever_its_name(data):
    with pytest.raises(ImageError, match="not an image"):
        load_image(data)


def test_a_postscript_file_is_refused_rather_than_handed_to_ghostscript():
    with pytest.raises(ImageError, match="not an image"):
        load_image(_encode(Image.new("RGB", (4, 4)), "EPS"))


@pytest.mark.parametrize(
    "data", [b"", b"GIF89a", _png_claiming(9000, 9000), b"\x89PNG\r\n\x1a\n" + bytes(40)]
)
def test_every_refusal_reads_as_a_sentence_for_a_person(data):
    with pytest.raises(ImageError) as caught:
        load_image(data)
    message = str(caught.value)
    assert message[0].isupper() and message.endswith(".") and "Traceback" not in message


def _sidebar_picker() -> None:
    """The image picker alone, as every page draws it (AppTest runs this as a script)."""
    from ui import state
    from ui.image_picker import image_picker

    state.init()
    image_picker()


def test_the_sidebar_thumbnail_is_encoded_once_per_image_not_on_every_rerun():
    at = AppTest.from_function(_sidebar_picker, default_timeout=60)
    at.run()
    key, thumbnail = at.session_state["_image_picker.preview"]
    assert thumbnail.startswith(b"\xff\xd8") and key == value_key(at.session_state["image"])
    at.run()
    assert at.session_state["_image_picker.preview"][1] is thumbnail
    samples = at.selectbox(key="sidebar.sample")
    samples.select(next(o for o in samples.options if o != samples.value)).run()
    assert not at.exception and at.session_state["_image_picker.preview"][1] != thumbnail

"""Decode uploaded image bytes into an upright RGB array, safely.

The format is decided from the content by Pillow's decoders, never from the
file name. The pixel count is checked from the header before any pixel is
decoded, so a small file that expands to gigabytes is refused cheaply, and the
pixels are converted to RGB a band at a time into one array: decoding holds at
most the decoded image and that array (no float copy, no second full-size image).
Every decoding failure is a CorruptMedia with a readable message.
"""

from __future__ import annotations

import io
import struct
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from inference.errors import CorruptMedia, MediaTooLarge, UnsupportedMediaType
from messages import N_, Phrase

# Pillow's format name -> ours. MPO (multi-picture JPEG, written by many phones) is a JPEG whose first picture
# is the photo.
SUPPORTED_FORMATS: dict[str, str] = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp", "BMP": "bmp"}
# What Pillow raises on bytes it cannot decode (besides UnidentifiedImageError, an OSError).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError)
CORRUPT = Phrase(N_("The image is truncated or corrupt and cannot be decoded."))
# The first bytes of each supported format: a file that starts like one but that Pillow cannot identify is corrupt
# (a truncated header), not of an unsupported type.
SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"BM")
DEFAULT_MAX_PIXELS = 40_000_000


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB image and the format its bytes were in."""

    rgb: np.ndarray
    format: str

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def _open(data: bytes) -> Image.Image:
    if not data:
        raise CorruptMedia(Phrase(N_("The file is empty.")))
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        if data.startswith(SIGNATURES) or (data.startswith(b"RIFF") and data[8:12] == b"WEBP"):
            raise CorruptMedia(CORRUPT) from error
        raise UnsupportedMediaType(Phrase(
            N_("This is not a supported image (JPEG, PNG, WebP or BMP) or video (MP4, MOV, WebM or AVI).")
        )) from error
    except Image.DecompressionBombError as error:
        raise MediaTooLarge(Phrase(N_("The image has too many pixels to analyse."))) from error
    except DECODE_ERRORS as error:  # a known format whose header is broken
        raise CorruptMedia(CORRUPT) from error


BAND_PIXELS = 1 << 20  # pixels converted at a time: the conversion never holds a second full-size copy
ORIENTATIONS: dict[int, Callable[[np.ndarray], np.ndarray]] = {  # EXIF orientation -> the view that undoes it
    2: lambda rgb: rgb[:, ::-1],
    3: lambda rgb: rgb[::-1, ::-1],
    4: lambda rgb: rgb[::-1],
    5: lambda rgb: rgb.swapaxes(0, 1),
    6: lambda rgb: np.rot90(rgb, -1),
    7: lambda rgb: rgb[::-1, ::-1].swapaxes(0, 1),
    8: lambda rgb: np.rot90(rgb, 1),
}


def on_white(image: Image.Image) -> Image.Image:
    """The image in RGB, any transparency laid over white (a plain conversion shows transparent pixels as the
    colour stored under them, often black)."""
    if not image.has_transparency_data:
        return image.convert("RGB")
    return Image.alpha_composite(Image.new("RGBA", image.size, "white"), image.convert("RGBA")).convert("RGB")


def _band_to_rgb(band: Image.Image, integer_peak: int) -> np.ndarray:
    """One horizontal band of the image as RGB uint8: transparency over white, 16/32-bit gray scaled by the
    image's brightest value (`integer_peak`)."""
    if band.mode.startswith("I"):
        gray = (np.asarray(band).astype(np.int64) * 255 // max(1, integer_peak)).clip(0, 255).astype(np.uint8)
        return np.repeat(gray[..., None], 3, axis=2)
    return np.asarray(on_white(band))


def _rgb_array(image: Image.Image) -> np.ndarray:
    """The decoded image as an RGB uint8 array, converted band by band into one preallocated array (peak memory:
    the decoded image plus the array, whatever the mode: no float or second full-size copy)."""
    width, height = image.size
    integer_peak = int(image.getextrema()[1]) if image.mode.startswith("I") else 255
    rgb = np.empty((height, width, 3), np.uint8)
    rows = max(1, BAND_PIXELS // width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        rgb[top:bottom] = _band_to_rgb(image.crop((0, top, width, bottom)), integer_peak)
    return rgb


def _upright(rgb: np.ndarray, orientation: int) -> np.ndarray:
    """The array turned as its EXIF orientation says (as PIL.ImageOps.exif_transpose does), contiguous."""
    turn = ORIENTATIONS.get(orientation)
    return np.ascontiguousarray(turn(rgb)) if turn else rgb


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode image bytes to an upright (EXIF-rotated) RGB uint8 array.

    Raises UnsupportedMediaType, CorruptMedia or MediaTooLarge with a readable message.
    """
    image = _open(data)
    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedMediaType(Phrase(
            N_("%(format)s images are not supported; use JPEG, PNG, WebP or BMP."), format=image.format or "These"
        ))
    width, height = image.size
    if width * height > max_pixels:
        raise MediaTooLarge(Phrase(N_("The image is %(width)dx%(height)d pixels; the limit is %(limit)d megapixels."),
                                   width=width, height=height, limit=max_pixels // 1_000_000))
    if width < 2 or height < 2:
        raise CorruptMedia(Phrase(N_("The image is %(width)dx%(height)d pixels; each side needs at least 2."),
                                  width=width, height=height))
    fmt = SUPPORTED_FORMATS[image.format]
    try:
        with image:
            image.load()
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            rgb = _rgb_array(image)
    except Image.DecompressionBombError as error:
        raise MediaTooLarge(Phrase(N_("The image has too many pixels to analyse."))) from error
    except DECODE_ERRORS as error:
        raise CorruptMedia(CORRUPT) from error
    return DecodedImage(rgb=_upright(rgb, orientation), format=fmt)


def fit_within(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """The image scaled down (area averaging) so that its longer side is at most `max_side`; itself if it fits."""
    height, width = rgb.shape[:2]
    factor = max_side / max(width, height)
    if factor >= 1:
        return rgb
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)

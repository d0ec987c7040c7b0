"""Decode uploaded image bytes into an upright RGB array, safely.

The format is decided from the content by Pillow's decoders, never from the
file name. The pixel count is checked from the header before any pixel is
decoded, so a small file that expands to gigabytes is refused cheaply.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from inference.errors import CorruptMedia, MediaTooLarge, UnsupportedMediaType

SUPPORTED_FORMATS: dict[str, str] = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp", "BMP": "bmp"}
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
        raise CorruptMedia("The file is empty.")
    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError as error:
        raise UnsupportedMediaType(
            "This is not a supported image (JPEG, PNG, WebP or BMP) or video (MP4, MOV, WebM or AVI)."
        ) from error
    except Image.DecompressionBombError as error:
        raise MediaTooLarge("The image has too many pixels to analyse.") from error


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode == "RGB":
        return image  # convert() would copy it
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        background = Image.new("RGB", image.size, (255, 255, 255))
        background.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return background
    if image.mode.startswith("I;16") or image.mode == "I":
        array = np.asarray(image, dtype=np.float64)
        scaled = (array / max(1.0, float(array.max())) * 255).astype(np.uint8)
        return Image.fromarray(scaled).convert("RGB")
    return image.convert("RGB")


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode image bytes to an upright (EXIF-rotated) RGB uint8 array.

    Raises UnsupportedMediaType, CorruptMedia or MediaTooLarge with a readable message.
    """
    image = _open(data)
    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedMediaType(
            f"{image.format or 'This'} images are not supported; use JPEG, PNG, WebP or BMP."
        )
    width, height = image.size
    if width * height > max_pixels:
        raise MediaTooLarge(f"The image is {width}x{height} pixels; the limit is {max_pixels // 1_000_000} megapixels.")
    if width < 2 or height < 2:
        raise CorruptMedia(f"The image is only {width}x{height} pixels.")
    try:
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # a copy otherwise, even with nothing to turn
        rgb = np.asarray(_to_rgb(image), dtype=np.uint8)
    except (OSError, SyntaxError, ValueError) as error:
        raise CorruptMedia("The image is truncated or corrupt and cannot be decoded.") from error
    return DecodedImage(rgb=rgb, format=SUPPORTED_FORMATS[image.format])

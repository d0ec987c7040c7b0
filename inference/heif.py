"""HEIC photos (an iPhone's) and AVIF ones, decoded in a process of their own with a ceiling on its memory.

Their pictures are a video codec's frames (HEVC, read by libde265 inside the pillow-heif wheel; AV1, read by Pillow's
own libavif), so they are decoded as a video's frames are (inference.video_decode): in a child (`python -m
inference.heif`, torch-free; inference.child) whose memory may grow by at most DECODE_MEMORY. The child reads the
upload from an unnamed file, checks the picture's size as it is shown (after the file's rotation) against the limits
before it decodes, turns it upright, lays any transparency over white, and writes the RGB pixels into another unnamed
file its parent reads them from, followed by a JPEG of those upright pixels with the file's colour profile and no other
metadata (`DecodedImage.kept_as`): few browsers show HEIC, so the app keeps that JPEG in place of the upload
(services.analyses), and AVIF likewise, so that every stored photo is read in the app's own processes. A file that
crashes the decoder or needs more memory is refused, and the app's own processes never hold one of these decoders.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from inference.child import MemoryCeiling, answer_of, answered, read_back, run_for, run_reserved
from inference.errors import CorruptMedia, MediaTooLarge
from inference.images import (DEFAULT_MAX_PIXELS, HEIF_BRANDS, DecodedImage, check_size, decode_image, decoding,
                              orientation, refusal, upright_rgb_array)
from messages import N_, Phrase

log = logging.getLogger(__name__)

HEIF_FORMATS = {"HEIF": "heic", "AVIF": "avif"}  # the Pillow plugins that may read such a file -> our format name
DECODE_MEMORY = 448 * 2**20  # resident memory decoding may add (its peak): a 40-megapixel HEIC takes about 340 MB,
                             # an AVIF 380 MB
DECODE_ADDRESS_SPACE = 768 * 2**20  # address space it may add
DECODE_CEILING = 2**30  # the most it can add: an allocation past it fails
DECODE_SECONDS = 60.0  # a decoding that runs longer is refused (a 40-megapixel HEIC takes about 4 s here)
DECODER_THREADS = 2  # libheif's default is 4 threads, each decoding a tile and holding it
PIXELS_HEADER = struct.Struct("<II4sI")  # the upright picture's height, width, format and JPEG's length; then its
                                        # RGB bytes and the JPEG
KEPT_QUALITY = 92  # the JPEG kept in place of the upload (Pillow's default is 75; phones write 85 to 95)
MAX_KEPT_RATIO = 3  # the JPEG's bytes at most this many per pixel (quality 92 needs at most about 1.5)
NEEDS_TOO_MUCH_MEMORY = N_("The photo takes more memory to decode than this app allows; share it as a JPEG.")
CANNOT_DECODE = N_("The photo could not be decoded: it is damaged, or a HEIC or AVIF file this app cannot read; "
                   "share it as a JPEG.")


def is_heif(head: bytes) -> bool:
    """Whether a file's first bytes are a HEIF photo's (HEIC, HEIF or AVIF: an ISO file of a still image's brand)."""
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def decode_photo(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """A photo's bytes as an upright RGB array: a HEIC or AVIF photo decoded in a child (its format "heic" or
    "avif", the JPEG to keep in `kept_as`), any other by `decode_image`. Raises UnsupportedMediaType, CorruptMedia or
    MediaTooLarge."""
    if not is_heif(data[:16]):
        return decode_image(data, max_pixels)
    with ExitStack() as files:  # unnamed files: nothing is left behind, however this process ends
        photo, answer, pixels = (files.enter_context(tempfile.TemporaryFile()) for _ in range(3))
        photo.write(data)
        photo.seek(0)  # the child reads from here: the file's offset is shared
        descriptors = (photo.fileno(), answer.fileno(), pixels.fileno())
        command = [sys.executable, "-m", __name__, *map(str, descriptors), str(max_pixels)]
        try:
            returncode, printed = run_for(command, DECODE_SECONDS, descriptors)
        except subprocess.TimeoutExpired as error:
            log.warning("decoding a HEIF photo of %d bytes took more than %.0f s: refused", len(data), DECODE_SECONDS)
            raise CorruptMedia(Phrase(CANNOT_DECODE)) from error
        if answer_of(returncode, read_back(answer), NEEDS_TOO_MUCH_MEMORY) is not None:  # it failed, or crashed
            log.error("decoding a HEIF photo failed (return code %d): %s", returncode,
                      printed.decode(errors="replace")[-2000:])
            raise CorruptMedia(Phrase(CANNOT_DECODE))
        return _read_pixels(pixels, max_pixels)


def _read_pixels(pixels: BinaryIO, max_pixels: int) -> DecodedImage:
    """The picture the child wrote into the unnamed file `pixels` (its size checked again: never trusted)."""
    pixels.seek(0)
    header = pixels.read(PIXELS_HEADER.size)
    if len(header) < PIXELS_HEADER.size:
        raise CorruptMedia(Phrase(CANNOT_DECODE))
    height, width, fmt, jpeg_length = PIXELS_HEADER.unpack(header)
    check_size(width, height, max_pixels)
    if fmt.decode(errors="replace") not in HEIF_FORMATS.values() or jpeg_length > MAX_KEPT_RATIO * width * height:
        raise CorruptMedia(Phrase(CANNOT_DECODE))
    rgb = np.empty((height, width, 3), np.uint8)
    if pixels.readinto(memoryview(rgb).cast("B")) != rgb.nbytes:
        raise CorruptMedia(Phrase(CANNOT_DECODE))
    jpeg = pixels.read(jpeg_length)
    if len(jpeg) != jpeg_length:
        raise CorruptMedia(Phrase(CANNOT_DECODE))
    return DecodedImage(rgb=rgb, format=fmt.decode(), kept_as=jpeg)


def _decoded_here(photo: BinaryIO, max_pixels: int) -> tuple[np.ndarray, str, bytes | None]:
    """The child's decoding: the picture's size checked before its pixels are decoded, then the upright RGB array
    (the decoded picture closed), our name of its format and its colour profile. What the decoders raise on a file
    they cannot read is CANNOT_DECODE; libheif's failed allocations, NEEDS_TOO_MUCH_MEMORY."""
    import pillow_heif  # only here: the parent never loads libheif

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False,
                                     decode_threads=DECODER_THREADS)
    try:
        image = Image.open(photo, formats=list(HEIF_FORMATS))
    except Image.DecompressionBombError as error:  # past Pillow's own limit, far above ours
        raise refusal(error) from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, RuntimeError) as error:
        raise CorruptMedia(Phrase(CANNOT_DECODE)) from error
    check_size(*image.size, max_pixels)
    fmt, profile = HEIF_FORMATS[image.format], image.info.get("icc_profile")
    try:
        with decoding(image):
            return upright_rgb_array(image, orientation(image.info)), fmt, profile
    except RuntimeError as error:  # libheif's and libavif's own errors
        memory = "memory" in str(error).lower()
        raise MediaTooLarge(Phrase(NEEDS_TOO_MUCH_MEMORY)) if memory else CorruptMedia(Phrase(CANNOT_DECODE)) from error
    except CorruptMedia as error:  # one message for a damaged file, whichever step found it
        raise CorruptMedia(Phrase(CANNOT_DECODE)) from error


def _kept_jpeg(rgb: np.ndarray, profile: bytes | None) -> bytes:
    """The upright pixels as a JPEG of quality KEPT_QUALITY with the file's colour profile (an iPhone's is Display
    P3) and no other metadata: its location, camera and times are left out."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=KEPT_QUALITY, icc_profile=profile)
    return buffer.getvalue()


def _write_decoded(photo: str, pixels: str, max_pixels: int) -> None:
    """The child's work: the photo read from the file whose descriptor is `photo`, and PIXELS_HEADER, its upright
    pixels and the JPEG to keep written into the file whose descriptor is `pixels`."""
    with os.fdopen(int(photo), "rb") as sent:
        rgb, fmt, profile = _decoded_here(sent, max_pixels)
    jpeg = _kept_jpeg(rgb, profile)
    with open(int(pixels), "wb") as written:
        written.write(PIXELS_HEADER.pack(*rgb.shape[:2], fmt.encode(), len(jpeg)))
        written.write(rgb.data)
        written.write(jpeg)


def _decode_here(photo: str, answer: str, pixels: str, max_pixels: str) -> None:
    """The child's side of `decode_photo`: `_write_decoded` under its ceiling, then None, or the MediaError, pickled
    into the file whose descriptor is `answer` (`answered`: past DECODE_MEMORY or DECODE_ADDRESS_SPACE, a photo is
    refused, whatever the decoder made of it)."""
    ceiling = MemoryCeiling(DECODE_MEMORY, DECODE_ADDRESS_SPACE, DECODE_CEILING)
    answered(lambda: _write_decoded(photo, pixels, int(max_pixels)), ceiling, answer, NEEDS_TOO_MUCH_MEMORY)


if __name__ == "__main__":  # the child: run as the module itself, so that what it pickles names this module
    from inference import heif

    run_reserved(lambda: heif._decode_here(*sys.argv[1:5]))

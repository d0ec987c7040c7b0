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
import math
import os
import resource
import signal
import struct
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from inference.child import MemoryCeiling, answer_of, answered, read_back, run_for, run_reserved
from inference.errors import CorruptMedia, MediaTooLarge, UnsupportedMediaType
from inference.formats import FileFormat
from inference.heif_items import inspect
from inference.images import (DEFAULT_MAX_PIXELS, HEIF_BRANDS, DecodedImage, check_size, decode_image, decoding,
                              exif_orientation, refusal, upright_rgb_array)
from messages import N_, Phrase

log = logging.getLogger(__name__)

HEIF_FORMATS = {"HEIF": FileFormat.HEIC, "AVIF": FileFormat.AVIF}  # the Pillow plugins that may read such a file
DECODE_MEMORY = 448 * 2**20  # resident memory decoding may add (its peak): a 40-megapixel HEIC takes about 340 MB,
                             # an AVIF 380 MB
DECODE_ADDRESS_SPACE = 768 * 2**20  # address space it may add
DECODE_CEILING = 896 * 2**20  # the most it can add, while it decodes: an allocation past it fails
DECODE_SECONDS = 30.0  # a decoding that runs longer is refused (a 40-megapixel HEIC takes about 4 s here)
CPU_SECONDS, CPU_SECONDS_PER_MEGAPIXEL = 4.0, 0.4  # the processor time a decoding may take, by the size shown (its
# threads' together: a 12-megapixel HEIC took 2.5 s, a 40-megapixel one 6 s, on 2 shared cores); past it, SIGXCPU
DECODER_THREADS = 2  # libheif's default is 4 threads, libavif's one per core: each holds what it decodes
CODED_SHARE = 4.0  # pixels decoded per pixel shown, at most: an alpha plane doubles them, and a grid's tiles pad
                   # them (a 1,537 x 1,537 picture in 512-pixel tiles with alpha: 3.6)
CODED_FLOOR = 16_000_000  # pixels decoded whatever the size shown (a tiny HEIC is coded 64 x 64 at least, a narrow
                          # one in tiles may be padded most; the processor time limit holds what is left)
MOST_CODED_SHARE = 2.5  # pixels decoded per pixel of the limit, at most (a 40-megapixel picture with alpha: 2)
PIXELS_HEADER = struct.Struct("<II4sI")  # the upright picture's height, width, format and JPEG's length; then its
                                        # RGB bytes and the JPEG
KEPT_QUALITIES = (92, 85, 75, 60)  # the JPEG kept in place of the upload, at the first that fits the bytes allowed
MAX_PROFILE_BYTES = 2**20  # a colour profile larger than this is not kept (an iPhone's Display P3 is 536 bytes)
NEEDS_TOO_MUCH_MEMORY = N_("The photo takes more memory to decode than this app allows; share it as a JPEG.")
CANNOT_DECODE = N_("The photo could not be decoded: it is damaged, or a HEIC or AVIF file this app cannot read; "
                   "share it as a JPEG.")
TAKES_TOO_LONG = N_("The photo took too long to decode; share it as a JPEG.")
TOO_MANY_CODED = N_("The photo is made of far more pictures than it shows (%(coded)s megapixels to decode for "
                    "%(shown)s shown); share it as a JPEG.")
NOT_AS_CAMERAS_WRITE = N_("This HEIC or AVIF file is put together as no camera writes one; share it as a JPEG.")
CROPS_ITSELF = N_("AVIF photos that crop their own picture are not supported; share it as a JPEG.")
KEPT_TOO_LARGE = N_("The photo, kept as a JPEG, would be larger than %(mb)s MB; share a smaller one.")


def is_heif(head: bytes) -> bool:
    """Whether a file's first bytes are a HEIF photo's (HEIC, HEIF or AVIF: an ISO file of a still image's brand)."""
    return head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS


def decode_photo(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS, max_kept_bytes: int = 0) -> DecodedImage:
    """A photo's bytes as an upright RGB array: a HEIC or AVIF photo decoded in a child (its format "heic" or
    "avif", the JPEG to keep in `kept_as`, at most `max_kept_bytes` long where that is not 0), any other by
    `decode_image`. Raises UnsupportedMediaType, CorruptMedia or MediaTooLarge."""
    if not is_heif(data[:16]):
        return decode_image(data, max_pixels)
    with ExitStack() as files:  # unnamed files: nothing is left behind, however this process ends
        photo, answer, pixels = (files.enter_context(tempfile.TemporaryFile()) for _ in range(3))
        photo.write(data)
        photo.seek(0)  # the child reads from here: the file's offset is shared
        descriptors = (photo.fileno(), answer.fileno(), pixels.fileno())
        command = [sys.executable, "-m", __name__, *map(str, descriptors), str(max_pixels), str(max_kept_bytes)]
        try:
            returncode, printed = run_for(command, DECODE_SECONDS, descriptors)
        except subprocess.TimeoutExpired as error:
            log.warning("decoding a HEIF photo of %d bytes took more than %.0f s: refused", len(data), DECODE_SECONDS)
            raise MediaTooLarge(Phrase(TAKES_TOO_LONG)) from error
        if returncode == -signal.SIGXCPU:
            log.warning("decoding a HEIF photo of %d bytes took more processor time than it may: refused", len(data))
            raise MediaTooLarge(Phrase(TAKES_TOO_LONG))
        if answer_of(returncode, read_back(answer), NEEDS_TOO_MUCH_MEMORY) is not None:  # it failed, or crashed
            log.error("decoding a HEIF photo failed (return code %d): %s", returncode,
                      printed.decode(errors="replace")[-2000:])
            raise CorruptMedia(Phrase(CANNOT_DECODE))
        return _read_pixels(pixels, max_pixels, max_kept_bytes)


def _read_pixels(pixels: BinaryIO, max_pixels: int, max_kept_bytes: int = 0) -> DecodedImage:
    """The picture the child wrote into the unnamed file `pixels` (its size checked again: never trusted)."""
    pixels.seek(0)
    header = pixels.read(PIXELS_HEADER.size)
    if len(header) < PIXELS_HEADER.size:
        raise CorruptMedia(Phrase(CANNOT_DECODE))
    height, width, fmt, jpeg_length = PIXELS_HEADER.unpack(header)
    check_size(width, height, max_pixels)
    most = max_kept_bytes or 4 * width * height + 2 * MAX_PROFILE_BYTES  # never more than a raw copy and a profile
    if fmt.decode(errors="replace") not in HEIF_FORMATS.values() or jpeg_length > most:
        raise CorruptMedia(Phrase(CANNOT_DECODE))
    rgb = np.empty((height, width, 3), np.uint8)
    if pixels.readinto(memoryview(rgb).cast("B")) != rgb.nbytes:
        raise CorruptMedia(Phrase(CANNOT_DECODE))
    jpeg = pixels.read(jpeg_length)
    if len(jpeg) != jpeg_length:
        raise CorruptMedia(Phrase(CANNOT_DECODE))
    return DecodedImage(rgb=rgb, format=fmt.decode(), kept_as=jpeg)


def _decoded_here(photo: BinaryIO, max_pixels: int) -> tuple[np.ndarray, str, bytes | None]:
    """The child's decoding: the picture's size, and the pixels its decoding would decode (`_check_items`), checked
    before any is decoded; then the upright RGB array (the decoded picture closed), our name of its format and its
    colour profile. What the decoders raise on a file they cannot read is CANNOT_DECODE; libheif's failed allocations,
    NEEDS_TOO_MUCH_MEMORY."""
    data = photo.read()
    image = _opened(data)
    check_size(*image.size, max_pixels)
    fmt, profile = HEIF_FORMATS[image.format], image.info.get("icc_profile")
    _limit_processor_time(image.size)
    _check_items(data, fmt, image.size, max_pixels)
    try:
        with decoding(image):  # only the file's rotation counts: libheif applied it, Pillow's AVIF put it in the EXIF
            turn = exif_orientation(image.info.get("exif")) or 1
            return upright_rgb_array(image, turn), fmt, profile if len(profile or b"") <= MAX_PROFILE_BYTES else None
    except RuntimeError as error:  # libheif's and libavif's own errors
        memory = "memory" in str(error).lower()
        raise MediaTooLarge(Phrase(NEEDS_TOO_MUCH_MEMORY)) if memory else CorruptMedia(Phrase(CANNOT_DECODE)) from error
    except CorruptMedia as error:  # one message for a damaged file, whichever step found it
        raise CorruptMedia(Phrase(CANNOT_DECODE)) from error


def _opened(data: bytes) -> Image.Image:
    """The file opened (not decoded) by the plugin its brands name first: AVIF's for a file compatible with AVIF (one
    whose major brand is the generic "mif1" too), else pillow-heif's, which has no AV1 decoder."""
    import pillow_heif  # only here: the parent never loads libheif
    from PIL import AvifImagePlugin

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False,
                                     decode_threads=DECODER_THREADS)
    AvifImagePlugin.DEFAULT_MAX_THREADS = DECODER_THREADS
    brands = data[8:12] + data[16:int.from_bytes(data[:4], "big")]  # the major brand, then the compatible ones
    avif = any(brands[start:start + 4] in (b"avif", b"avis") for start in range(0, len(brands) - 3, 4))
    try:
        return Image.open(io.BytesIO(data), formats=["AVIF", "HEIF"] if avif else ["HEIF", "AVIF"])
    except Image.DecompressionBombError as error:  # past Pillow's own limit, far above ours
        raise refusal(error) from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, RuntimeError) as error:
        raise CorruptMedia(Phrase(CANNOT_DECODE)) from error


def _check_items(data: bytes, fmt: str, shown: tuple[int, int], max_pixels: int) -> None:
    """Refuse a file put together as no camera writes one (`heif_items.inspect`), one whose decoding would decode far
    more pixels than it shows (CODED_SHARE of what it shows, at least CODED_FLOOR, at most MOST_CODED_SHARE of the
    limit),
    and an AVIF that crops its own picture (Pillow's AVIF reader would show what the crop leaves out)."""
    inspection = inspect(data)
    if inspection.odd:
        log.warning("a HEIF photo refused: %s", inspection.odd)
        raise UnsupportedMediaType(Phrase(NOT_AS_CAMERAS_WRITE))
    shown_pixels = shown[0] * shown[1]
    if inspection.coded > min(MOST_CODED_SHARE * max_pixels, max(CODED_SHARE * shown_pixels, CODED_FLOOR)):
        raise MediaTooLarge(Phrase(TOO_MANY_CODED, coded=f"{inspection.coded / 1e6:,.1f}",
                                   shown=f"{shown[0]}x{shown[1]}"))
    if fmt == FileFormat.AVIF and inspection.crops:
        raise UnsupportedMediaType(Phrase(CROPS_ITSELF))


def _limit_processor_time(shown: tuple[int, int]) -> None:
    """The rest of the decoding limited to CPU_SECONDS and CPU_SECONDS_PER_MEGAPIXEL of the size shown, counted
    from now (past it the kernel sends SIGXCPU, which ends the child: no core file)."""
    spent = resource.getrusage(resource.RUSAGE_SELF)
    allowed = spent.ru_utime + spent.ru_stime + CPU_SECONDS + CPU_SECONDS_PER_MEGAPIXEL * shown[0] * shown[1] / 1e6
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (math.ceil(allowed), math.ceil(allowed) + 1))


def _kept_jpeg(rgb: np.ndarray, profile: bytes | None, max_bytes: int) -> bytes:
    """The upright pixels as a JPEG, at the first of KEPT_QUALITIES within `max_bytes` (0: the first), with the file's
    colour profile (an iPhone's is Display P3) and no other metadata: its location, camera and times are left out.
    MediaTooLarge when none fits."""
    picture = Image.fromarray(rgb)
    for quality in KEPT_QUALITIES:
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=quality, icc_profile=profile)
        if not max_bytes or buffer.tell() <= max_bytes:
            return buffer.getvalue()
    raise MediaTooLarge(Phrase(KEPT_TOO_LARGE, mb=max_bytes // 2**20))


def _write_decoded(photo: str, pixels: str, max_pixels: int, max_kept_bytes: int) -> None:
    """The child's work: the photo read from the file whose descriptor is `photo`, and PIXELS_HEADER, its upright
    pixels and the JPEG to keep written into the file whose descriptor is `pixels`."""
    with os.fdopen(int(photo), "rb") as sent:
        rgb, fmt, profile = _decoded_here(sent, max_pixels)
    jpeg = _kept_jpeg(rgb, profile, max_kept_bytes)
    with open(int(pixels), "wb") as written:
        written.write(PIXELS_HEADER.pack(*rgb.shape[:2], fmt.encode(), len(jpeg)))
        written.write(rgb.data)
        written.write(jpeg)


def _decode_here(photo: str, answer: str, pixels: str, max_pixels: str, max_kept_bytes: str) -> None:
    """The child's side of `decode_photo`: `_write_decoded` under its ceiling, then None, or the MediaError, pickled
    into the file whose descriptor is `answer` (`answered`: past DECODE_MEMORY or DECODE_ADDRESS_SPACE, a photo is
    refused, whatever the decoder made of it)."""
    ceiling = MemoryCeiling(DECODE_MEMORY, DECODE_ADDRESS_SPACE, DECODE_CEILING)
    answered(lambda: _write_decoded(photo, pixels, int(max_pixels), int(max_kept_bytes)), ceiling, answer,
             NEEDS_TOO_MUCH_MEMORY)


if __name__ == "__main__":  # the child: run as the module itself, so that what it pickles names this module
    from inference import heif

    run_reserved(lambda: heif._decode_here(*sys.argv[1:6]))

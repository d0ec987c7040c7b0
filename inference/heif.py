"""HEIC photos (an iPhone's) and AVIF ones, decoded in a process of their own with a ceiling on its memory.

Their pictures are a video codec's frames (HEVC, read by libde265 inside the pillow-heif wheel; AV1, read by Pillow's
own libavif), so they are decoded as a video's frames are (inference.video_decode): in a child (`python -m
inference.heif`, torch-free) whose memory may grow by at most DECODE_MEMORY. The child checks the picture's size as it
is shown (after the file's rotation) against the limits before it decodes, turns it upright, lays any transparency over
white, and writes the RGB pixels into an unnamed file its parent reads them from, followed by a JPEG of the picture
(`DecodedImage.kept_as`): most browsers show neither format, so the app keeps that JPEG in place of the upload
(services.analyses). A file that crashes the decoder or needs more memory is refused, and the app's own processes
never hold one of these decoders.
"""

from __future__ import annotations

import io
import logging
import struct
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from inference.errors import CorruptMedia, MediaError, MediaTooLarge
from inference.images import (DEFAULT_MAX_PIXELS, ORIENTATION_TAG, HEIF_BRANDS, DecodedImage, check_size,
                              decode_image, decoding, on_white, orientation, refusal, upright_rgb_array)
from inference.video_check import (MemoryCeiling, answer_of, read_back, run_reserved, start_child,
                                   write_answer)
from messages import N_, Phrase

log = logging.getLogger(__name__)

HEIF_FORMATS = {"HEIF": "heic", "AVIF": "avif"}  # the Pillow plugins that may read such a file -> our format name
DECODE_MEMORY = 448 * 2**20  # resident memory decoding may add (its peak): a 40-megapixel HEIC takes about 330 MB
DECODE_ADDRESS_SPACE = 768 * 2**20  # address space it may add
DECODE_CEILING = 2**30  # the most it can add: an allocation past it fails
DECODE_SECONDS = 60.0  # a decoding that runs longer is refused (a 12-megapixel HEIC takes about 0.5 s here)
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
    """An uploaded photo's bytes as an upright RGB array: a HEIC or AVIF photo decoded in a child (its format "heic"
    or "avif"), any other by `decode_image`. Raises UnsupportedMediaType, CorruptMedia or MediaTooLarge."""
    if not is_heif(data[:16]):
        return decode_image(data, max_pixels)
    with ExitStack() as files:
        photo = files.enter_context(tempfile.NamedTemporaryFile(suffix=".heif"))  # named: the child opens it
        photo.write(data)
        photo.flush()
        answer = files.enter_context(tempfile.TemporaryFile())  # unnamed: nothing is left behind
        pixels = files.enter_context(tempfile.TemporaryFile())
        returncode, said_else = _run(photo.name, answer, pixels, max_pixels)
        if answer_of(returncode, read_back(answer), NEEDS_TOO_MUCH_MEMORY) is not None:  # it failed, or crashed
            log.error("decoding a HEIF photo failed (return code %d): %s", returncode,
                      said_else.decode(errors="replace")[-2000:])
            raise CorruptMedia(Phrase(CANNOT_DECODE))
        return _read_pixels(pixels, max_pixels)


def _run(path: str, answer: BinaryIO, pixels: BinaryIO, max_pixels: int) -> tuple[int, bytes]:
    """The child (`_decode_here`) run on the file at `path`: its return code and what it printed."""
    command = [sys.executable, "-m", __name__, path, str(answer.fileno()), str(pixels.fileno()), str(max_pixels)]
    child = start_child(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                        pass_fds=(answer.fileno(), pixels.fileno()))
    try:
        said_else = child.communicate(timeout=DECODE_SECONDS)[0]
    except subprocess.TimeoutExpired as error:
        raise CorruptMedia(Phrase(CANNOT_DECODE)) from error
    finally:  # past its time, or this process stopped waiting: it holds the signals that stop a service back
        if child.poll() is None:
            child.kill()
            child.communicate()
    return child.returncode, said_else


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


def _decoded_here(path: str, max_pixels: int) -> tuple[np.ndarray, str, bytes]:
    """The child's decoding: the picture's size checked before its pixels are decoded, then the upright RGB array,
    our name of its format and the JPEG to keep."""
    import pillow_heif  # only here: the parent never loads libheif

    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False,
                                     decode_threads=DECODER_THREADS)
    try:
        image = Image.open(path, formats=list(HEIF_FORMATS))
    except Image.DecompressionBombError as error:  # past Pillow's own limit, far above ours
        raise refusal(error) from error
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as error:
        raise CorruptMedia(Phrase(CANNOT_DECODE)) from error
    check_size(*image.size, max_pixels)
    fmt = HEIF_FORMATS[image.format]
    with decoding(image):
        turn = orientation(image.info)
        return upright_rgb_array(image, turn), fmt, _kept_jpeg(image, turn)


def _kept_jpeg(image: Image.Image, turn: int) -> bytes:
    """The decoded picture as a JPEG of quality KEPT_QUALITY, with no metadata but its EXIF orientation `turn` (the
    file's other metadata, its location among them, is left out)."""
    exif = Image.Exif()
    if turn != 1:
        exif[ORIENTATION_TAG] = turn
    buffer = io.BytesIO()
    picture = image if image.mode in ("RGB", "L") else on_white(image)
    picture.save(buffer, "JPEG", quality=KEPT_QUALITY, exif=exif.tobytes())
    return buffer.getvalue()


def _decode_here(path: str, answer: str, pixels: str, max_pixels: str) -> None:
    """The child's side of `decode_photo`: PIXELS_HEADER, the upright pixels and the JPEG written into the file whose
    descriptor is `pixels`, then None, or the MediaError, pickled into the file whose descriptor is `answer`. Past
    DECODE_MEMORY or DECODE_ADDRESS_SPACE, a photo is refused, whatever the decoder made of it."""
    ceiling = MemoryCeiling(DECODE_MEMORY, DECODE_ADDRESS_SPACE, DECODE_CEILING)
    outcome: MediaError | None = None
    try:
        rgb, fmt, jpeg = _decoded_here(path, int(max_pixels))
        with open(int(pixels), "wb") as written:
            written.write(PIXELS_HEADER.pack(*rgb.shape[:2], fmt.encode(), len(jpeg)))
            written.write(rgb.data)
            written.write(jpeg)
    except MemoryError:
        outcome = MediaTooLarge(Phrase(NEEDS_TOO_MUCH_MEMORY))
    except MediaError as error:
        outcome = error
    if ceiling.exceeded() and outcome is None:
        outcome = MediaTooLarge(Phrase(NEEDS_TOO_MUCH_MEMORY))
    write_answer(answer, outcome)


if __name__ == "__main__":  # the child: run as the module itself, so that what it pickles names this module
    from inference import heif

    run_reserved(lambda: heif._decode_here(*sys.argv[1:5]))

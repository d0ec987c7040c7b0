"""Decode uploaded image bytes into an upright RGB array, safely.

The format is decided from the content by Pillow's decoders of the supported
formats alone (no other Pillow plugin parses an upload), never from the file
name. The pixel count is checked from the header before any pixel is decoded,
so a small file that expands to gigabytes is refused cheaply, and so is what
makes a decoder slow or hungry beyond the pixels: a JPEG of many segments or
scans (walked before Pillow parses it), a progressive JPEG's coefficients, a
WebP's canvases, run-length BMP (decoded in Python), a side longer than a JPEG
can be (what costs by the column outgrows the pixels). The pixels are converted
to RGB a band at a time, straight into one upright array: decoding holds at most
the decoded image and that array (no float copy, no second full-size image,
whatever the EXIF orientation). Every decoding failure is a CorruptMedia with a
readable message.
"""

from __future__ import annotations

import io
import re
import struct
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageFile, PngImagePlugin, UnidentifiedImageError

from inference.errors import CorruptMedia, MediaTooLarge, UnsupportedMediaType
from inference.formats import FileFormat
from messages import N_, Phrase

# Pillow's format name -> ours. MPO (multi-picture JPEG, written by many phones) is a JPEG whose first picture
# is the photo.
SUPPORTED_FORMATS: dict[str, FileFormat] = {"JPEG": FileFormat.JPEG, "MPO": FileFormat.JPEG, "PNG": FileFormat.PNG,
                                            "WEBP": FileFormat.WEBP, "BMP": FileFormat.BMP}
OPENERS = ("JPEG", "PNG", "WEBP", "BMP")  # the Pillow plugins that may parse an upload (JPEG's opens MPO too)
# What Pillow raises on bytes it cannot decode (besides UnidentifiedImageError, an OSError).
DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError, KeyError, TypeError)
CORRUPT = Phrase(N_("The image is truncated or corrupt and cannot be decoded."))
NOT_SUPPORTED = N_("%(format)s images are not supported; use JPEG, PNG, WebP, BMP, HEIC or AVIF.")
TOO_MANY_PIXELS = N_("The image is %(width)dx%(height)d pixels; the limit is %(limit)d megapixels.")
# The first bytes of each supported format: a file that starts like one but that Pillow cannot identify is corrupt
# (a truncated header), not of an unsupported type.
JPEG_SIGNATURE = b"\xff\xd8\xff"  # what makes Pillow's JPEG plugin parse a file
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SIGNATURES = (JPEG_SIGNATURE, PNG_SIGNATURE, b"BM")
# A PNG's or a WebP's chunks: a photo has a few dozen (a large PNG's image data in chunks of 8 KB, a few thousand);
# walking 1.3 million empty ones took 0.9 s and 290 MB.
MAX_CHUNKS = 100_000
DEFAULT_MAX_PIXELS = 40_000_000
# The longest side read: a JPEG's own limit, beyond any camera's photo or phone's panorama (about 20,000 px). Past it
# what costs memory by the column outgrows the pixels: Pillow's PNG decoder keeps two rows, OpenCV's area resize a
# table entry per column (19,999,999 x 2 pixels cost +300 to +350 MB, though the conversion went a tile at a time;
# 65,535 x 610 as much as a square image).
MAX_SIDE = 65_535
# The brands of HEIF photos' ISO files (HEIC, HEIF, AVIF): read by inference.heif, in a process of its own; never
# videos (inference.video_check.sniff_video leaves them to the photo path).
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif", b"avis"})
# Formats people try that are not read, named by their first bytes.
OTHER_IMAGE_SIGNATURES = {b"GIF87a": "GIF", b"GIF89a": "GIF", b"II*\x00": "TIFF", b"MM\x00*": "TIFF",
                          b"\x00\x00\x00\x0cjP  ": "JPEG 2000", b"8BPS": "PSD", b"\x00\x00\x01\x00": "ICO"}
# A JPEG's scans: libjpeg's progressive script has 10, and each scan is a pass over every block of the image, so a
# file of thousands of tiny scans costs minutes (counted in the first picture's segments).
MAX_JPEG_SCANS = 100
# A JPEG's segments (each marker, with its data if it has any): Pillow keeps every metadata segment before the first
# scan in a list, at 50 to 120 bytes each whatever its size (2.6 million empty APP5 segments in a 10 MB file: +306 MB),
# and libjpeg skips the others one at a time. A photo has a dozen to a few dozen (EXIF, XMP, ICC profile, MPF, tables,
# scans; a large XMP or ICC profile one per 64 KB: 10 MB of XMP is 160). Their bytes are not limited: within the upload
# limit they cost at most their size once more (bench.upload_memory: a 10 MB JPEG that is nearly all XMP, no growth).
MAX_JPEG_SEGMENTS = 1000
# Markers with no length after them as Pillow's parser reads them (TEM as libjpeg does): TEM, JPG, RSTn, SOI, EOI, JPGn.
NO_LENGTH_MARKERS = frozenset({0x01, 0xC8, *range(0xD0, 0xDA), *range(0xF0, 0xFE)})
START_OF_SCAN, END_OF_IMAGE = 0xDA, 0xD9
RESTART_MARKERS = range(0xD0, 0xD8)
# An 0xFF and what follows it, searched for (a file of fill bytes took seconds a byte at a time): a marker is any byte
# but a stuffed 0x00 or another 0xFF (a fill byte); among the scans reserved markers too are skipped, as libjpeg's
# resynchronisation skips them; a scan's data ends at any marker but a restart marker.
MARKER = re.compile(rb"\xff[^\x00\xff]")
MARKER_AMONG_SCANS = re.compile(rb"\xff[\x01\xc0-\xfe]")
ENTROPY_END = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
# A progressive JPEG's decoder keeps every coefficient (2 bytes a sample) beside the image: at most 2.5 samples a
# pixel of the pixel limit, so 4:2:0 and 4:2:2 colour (1.5 and 2 samples a pixel: every phone's) get the whole limit,
# 4:4:4 five sixths of it (33 MP: a 40 MP one cost +321 MB in bench.upload_memory, over its 300 MB), CMYK 25 MP.
PROGRESSIVE_SAMPLES_PER_PIXEL = 2.5
# Pillow's WebP decoder holds two canvases, a copy of the frame and the image (about 12 bytes a pixel, three times a
# JPEG's): WebP gets half the pixel limit (20 MP: +206 MB in bench.upload_memory, 40 MP: +505), checked before the
# decoder is made (it allocates its canvases).
WEBP_SHARE_OF_LIMIT = 0.5
BMP_RLE_COMPRESSIONS = (1, 2)  # RLE8, RLE4: Pillow decodes them in Python, a pixel at a time
# A PNG's text chunks are decoded into Python strings when the file is opened, and Pillow counts their characters
# (64 M by default): text of emoji takes 4 bytes a character, so 64 compressed 1 MB chunks in a 68 KB file cost
# +260 MB. 2 M characters (8 MB at most) hold any photo's metadata. Past that, or past 1 MB unpacked in one chunk of
# text or colour profile (Pillow's MAX_TEXT_CHUNK), the PNG is refused as too large.
PngImagePlugin.MAX_TEXT_MEMORY = 2 * ImageFile.SAFEBLOCK
PNG_METADATA_REFUSALS = ("MAX_TEXT_MEMORY", "MAX_TEXT_CHUNK")  # in the ValueError Pillow raises past those limits
TOO_MUCH_METADATA = Phrase(N_("The PNG holds more metadata (text or a colour profile) than a photo does; it is not "
                              "read."))
# EXIF orientation is read from the first directory's entry alone, a single SHORT (1-8): Pillow's reader makes a
# Python object of every value of the entry, and a PNG's or WebP's EXIF is not limited to a JPEG's 64 KB (an
# orientation of a million fractions in a 9 MB PNG: +300 MB and 10 s).
ORIENTATION_TAG, SHORT_TYPE = 0x0112, 3
EXIF_HEADER = b"Exif\x00\x00"
XMP_ORIENTATION = re.compile(rb'tiff:Orientation(?:="|>)([1-8])')  # as Pillow's getexif() reads it


@dataclass(frozen=True)
class DecodedImage:
    """An upright RGB image and the format its bytes were in."""

    rgb: np.ndarray
    format: str
    orientation: int = 1  # how the stored picture was turned upright (EXIF's 1-8)
    kept_as: bytes | None = None  # a JPEG to store in place of the upload's bytes (a HEIC or AVIF photo's: few browsers
                                  # show those formats), else None: the upload is stored as sent

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def is_webp(data: bytes) -> bool:
    """Whether the bytes start as a WebP file does (a RIFF of type WEBP)."""
    return data.startswith(b"RIFF") and data[8:12] == b"WEBP"


def other_image_format(head: bytes) -> str | None:
    """The name of an image format that is not read (GIF, TIFF, PSD...), from a file's first bytes; else None."""
    return next((name for signature, name in OTHER_IMAGE_SIGNATURES.items() if head.startswith(signature)), None)


def _unsupported(data: bytes) -> UnsupportedMediaType:
    if other := other_image_format(data[:16]):
        return UnsupportedMediaType(Phrase(NOT_SUPPORTED, format=other))
    return UnsupportedMediaType(Phrase(
        N_("This is not a supported image (JPEG, PNG, WebP, BMP, HEIC or AVIF) or video (MP4, MOV, WebM or AVI).")))


def _open(data: bytes) -> Image.Image:
    if not data:
        raise CorruptMedia(Phrase(N_("The file is empty.")))
    try:
        return Image.open(io.BytesIO(data), formats=OPENERS)
    except UnidentifiedImageError as error:
        if data.startswith(SIGNATURES) or is_webp(data):
            raise CorruptMedia(CORRUPT) from error
        raise _unsupported(data) from error
    except (Image.DecompressionBombError, *DECODE_ERRORS) as error:  # a known format whose header is broken
        raise refusal(error) from error


def refusal(error: Exception) -> MediaTooLarge | CorruptMedia:
    """What a Pillow error while opening or decoding says to the uploader."""
    if isinstance(error, Image.DecompressionBombError):
        return MediaTooLarge(Phrase(N_("The image has too many pixels to analyse.")))
    if isinstance(error, ValueError) and any(limit in str(error) for limit in PNG_METADATA_REFUSALS):
        return MediaTooLarge(TOO_MUCH_METADATA)
    return CorruptMedia(CORRUPT)


def orientation(info: dict) -> int:
    """The orientation (1-8) Pillow's info of a decoded image says, where Pillow's getexif() found it: the EXIF
    (a JPEG's APP1, a PNG's eXIf, a WebP's EXIF), else a PNG's "Raw profile type exif" text (ImageMagick writes it),
    else the XMP's tiff:Orientation; 1 (upright) without one."""
    for exif in (info.get("exif"), _raw_profile(info.get("Raw profile type exif"))):
        if (found := exif_orientation(exif)) is not None:
            return found
    xmp = info.get("xmp") or b""
    match = XMP_ORIENTATION.search(xmp.encode() if isinstance(xmp, str) else xmp)
    return int(match.group(1)) if match else 1


def _raw_profile(text: str | None) -> bytes | None:
    """The EXIF bytes of ImageMagick's "Raw profile type exif" text: a name, a length, then hexadecimal lines."""
    try:
        return bytes.fromhex("".join(text.split("\n")[3:])) if text else None
    except ValueError:
        return None


def exif_orientation(exif: bytes | None) -> int | None:
    """The orientation in raw EXIF bytes (a TIFF header and directories, after "Exif\\0\\0" or not): the first
    directory's orientation entry when it is one SHORT from 1 to 8, 1 (upright) for another entry, None without
    one. Only that entry's bytes are read, whatever the other entries or the file's size."""
    tiff = (exif or b"").removeprefix(EXIF_HEADER)
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    directory = struct.unpack(order + "I", tiff[4:8])[0]
    if directory + 2 > len(tiff):
        return None
    entries = struct.unpack(order + "H", tiff[directory:directory + 2])[0]
    for start in range(directory + 2, min(len(tiff) - 11, directory + 2 + 12 * entries), 12):
        tag, kind, count = struct.unpack(order + "HHI", tiff[start:start + 8])
        if tag == ORIENTATION_TAG:
            value = struct.unpack(order + "H", tiff[start + 8:start + 10])[0]
            return value if kind == SHORT_TYPE and count == 1 and 1 <= value <= 8 else 1
    return None


BAND_PIXELS = 1 << 20  # pixels converted at a time (a band of rows: sides are at most MAX_SIDE)
# EXIF orientation -> the view of the upright array laid out as the image is stored: what is written through it lands
# turned as PIL.ImageOps.exif_transpose turns it.
STORED_LAYOUTS: dict[int, Callable[[np.ndarray], np.ndarray]] = {
    2: lambda upright: upright[:, ::-1],
    3: lambda upright: upright[::-1, ::-1],
    4: lambda upright: upright[::-1],
    5: lambda upright: upright.swapaxes(0, 1),
    6: lambda upright: np.rot90(upright, 1),
    7: lambda upright: upright[::-1, ::-1].swapaxes(0, 1),
    8: lambda upright: np.rot90(upright, -1),
}
SIDEWAYS = (5, 6, 7, 8)  # the orientations whose upright image is as wide as the stored one is high


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


def upright_rgb_array(image: Image.Image, orientation: int) -> np.ndarray:
    """The decoded image as a contiguous RGB uint8 array turned upright as its EXIF `orientation` says, converted
    band by band straight into its place in that array (peak memory: the decoded image plus the array, whatever the
    mode or the orientation: no float or second full-size copy)."""
    width, height = image.size
    integer_peak = int(image.getextrema()[1]) if image.mode.startswith("I") else 255
    upright = np.empty((width, height, 3) if orientation in SIDEWAYS else (height, width, 3), np.uint8)
    stored = STORED_LAYOUTS.get(orientation, lambda same: same)(upright)
    rows = max(1, BAND_PIXELS // width)
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        stored[top:bottom] = _band_to_rgb(image.crop((0, top, width, bottom)), integer_peak)
    return upright


def _webp_size(data: bytes) -> tuple[int, int]:
    """A WebP's canvas size from its first chunk's header (as Pillow reads it), without decoding."""
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a" and len(data) >= 30:
        width, height = struct.unpack_from("<HH", data, 26)
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    raise CorruptMedia(CORRUPT)


def _check_webp(data: bytes, max_pixels: int) -> None:
    """Refuse a WebP whose canvas is over its share of the pixel limit, before Pillow's decoder allocates it."""
    width, height = _webp_size(data)
    limit = int(max_pixels * WEBP_SHARE_OF_LIMIT)
    if width * height > limit:
        raise MediaTooLarge(Phrase(
            N_("The WebP image is %(width)dx%(height)d pixels; the limit for WebP is %(limit)d megapixels (for JPEG, "
               "PNG, BMP, HEIC and AVIF %(general)d)."),
            width=width, height=height, limit=limit // 1_000_000, general=max_pixels // 1_000_000))


def _check_decoding_cost(image: Image.Image, jpeg_scans: int, max_pixels: int) -> None:
    """Refuse what would cost a decoder far more than the pixels: a progressive JPEG (or one of `jpeg_scans` > 1)
    with more coefficients than the limit allows, a run-length BMP."""
    if image.format == "BMP" and image.info.get("compression") in BMP_RLE_COMPRESSIONS:
        raise UnsupportedMediaType(Phrase(N_("Compressed (RLE) BMP images are not supported; use PNG or JPEG.")))
    if image.format in ("JPEG", "MPO") and (image.info.get("progressive") or jpeg_scans > 1):
        _check_progressive(image, max_pixels)  # libjpeg keeps every coefficient of a multi-scan picture


@dataclass(frozen=True)
class Chunk:
    """One chunk of a PNG or a WebP: its type and where it lies, from its length field to its end (a chunk cut short:
    the file's end)."""

    kind: bytes
    start: int
    end: int


def png_chunks(data: bytes) -> Iterator[Chunk]:
    """A PNG's chunks after its signature, up to its IEND; MediaTooLarge past MAX_CHUNKS."""
    position = len(PNG_SIGNATURE)
    for _ in range(MAX_CHUNKS):
        if position + 12 > len(data):
            return
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        yield Chunk(kind, position, end := min(len(data), position + 12 + length))
        if kind == b"IEND":
            return
        position = end
    raise _too_many_chunks("PNG")


def webp_chunks(data: bytes) -> Iterator[Chunk]:
    """A WebP's chunks, within its RIFF (none after it); MediaTooLarge past MAX_CHUNKS."""
    position, riff_end = 12, min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    for _ in range(MAX_CHUNKS):
        if position + 8 > riff_end:
            return
        length = int.from_bytes(data[position + 4:position + 8], "little")
        yield Chunk(data[position:position + 4], position, end := min(riff_end, position + 8 + length + (length & 1)))
        position = end
    raise _too_many_chunks("WebP")


def _too_many_chunks(fmt: str) -> MediaTooLarge:
    return MediaTooLarge(Phrase(N_("The %(format)s image has more than %(limit)s chunks (a photo has a few dozen); it "
                                   "is not read."), format=fmt, limit=f"{MAX_CHUNKS:,}"))


def _check_jpeg_segments(data: bytes) -> int:
    """Refuse a JPEG whose first picture has more than MAX_JPEG_SEGMENTS segments or MAX_JPEG_SCANS scans, before
    Pillow parses it (it keeps every segment before the first scan); the number of scans."""
    segments = scans = 0
    for segment in jpeg_segments(data):
        segments += 1
        scans += segment.marker == START_OF_SCAN
        if segments > MAX_JPEG_SEGMENTS:
            raise MediaTooLarge(Phrase(
                N_("The JPEG has more than %(limit)d segments (a photo has a few dozen); it is not read."),
                limit=MAX_JPEG_SEGMENTS))
        if scans > MAX_JPEG_SCANS:
            raise MediaTooLarge(Phrase(
                N_("The JPEG has more than %(limit)d scans (a photo has about 10); they are not read."),
                limit=MAX_JPEG_SCANS))
    return scans


@dataclass(frozen=True)
class JpegSegment:
    """One segment of a JPEG: its marker and where it lies, from its 0xFF to the end of its data (a scan's: of its
    entropy-coded data)."""

    marker: int
    start: int
    end: int


def jpeg_segments(data: bytes) -> Iterator[JpegSegment]:
    """The segments of a JPEG's first picture, found as Pillow's parser and libjpeg find them: bytes that are not a
    marker skipped (after the first scan, reserved markers too: MARKER_AMONG_SCANS), a scan's entropy-coded data
    passed over, an end of image before the first scan passed over (Pillow reads on); the picture's end last (its
    end of image, where it has one), nothing after it (an EXIF thumbnail, a motion photo's video)."""
    position, scanned = 2, False
    while found := (MARKER_AMONG_SCANS if scanned else MARKER).search(data, position):
        position, marker = found.start(), data[found.start() + 1]
        if 0x02 <= marker < 0xC0:  # a reserved marker before the first scan: both refuse the file there
            return
        if marker == END_OF_IMAGE and scanned:
            yield JpegSegment(marker, position, position + 2)
            return
        start = position
        position += 2 if marker in NO_LENGTH_MARKERS else 2 + segment_length(data, position)
        if marker == START_OF_SCAN or (scanned and RESTART_MARKERS.start <= marker < RESTART_MARKERS.stop):
            scanned = True  # a restart marker met outside a scan's data (a reserved marker skipped): data follows
            position = _entropy_end(data, position)
        yield JpegSegment(marker, start, min(position, len(data)))


def segment_length(data: bytes, marker_at: int) -> int:
    """The length a segment's header says (its two bytes counted), at least those two bytes: both Pillow and libjpeg
    read on after them when it says less."""
    return max(2, int.from_bytes(data[marker_at + 2:marker_at + 4], "big"))


def _entropy_end(data: bytes, position: int) -> int:
    """Where a scan's entropy-coded data ends: the first 0xFF not followed by 0x00 (a stuffed byte), a restart
    marker or another 0xFF."""
    found = ENTROPY_END.search(data, position)
    return found.start() if found else len(data)


def _check_progressive(image: Image.Image, max_pixels: int) -> None:
    """A progressive (or multi-scan) JPEG's samples (each channel's share of the pixels, by its sampling) within the
    limit."""
    samplings = [(horizontal, vertical) for _, horizontal, vertical, _ in image.layer]
    if not samplings or not all(h and v for h, v in samplings):
        raise CorruptMedia(CORRUPT)
    largest = max(horizontal for horizontal, _ in samplings), max(vertical for _, vertical in samplings)
    samples_per_pixel = sum(h * v for h, v in samplings) / (largest[0] * largest[1])
    limit = int(max_pixels * PROGRESSIVE_SAMPLES_PER_PIXEL / samples_per_pixel)
    width, height = image.size
    if width * height > limit:
        raise MediaTooLarge(Phrase(
            N_("The image is a progressive or multi-scan JPEG of %(width)dx%(height)d pixels in %(channels)d channels; "
               "such a file is limited to %(limit)d megapixels."),
            width=width, height=height, channels=len(samplings), limit=limit // 1_000_000))


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> DecodedImage:
    """Decode image bytes (JPEG, PNG, WebP or BMP) to an upright (EXIF-rotated) RGB uint8 array.

    Raises UnsupportedMediaType, CorruptMedia or MediaTooLarge with a readable message.
    """
    if is_webp(data):
        _check_webp(data, max_pixels)
        deque(webp_chunks(data), maxlen=0)  # counted, as Pillow's demuxer will walk them
    if data.startswith(PNG_SIGNATURE):
        deque(png_chunks(data), maxlen=0)
    jpeg_scans = _check_jpeg_segments(data) if data.startswith(JPEG_SIGNATURE) else 0
    image = _open(data)
    check_size(*image.size, max_pixels)
    _check_decoding_cost(image, jpeg_scans, max_pixels)
    fmt = SUPPORTED_FORMATS[image.format]
    with decoding(image):
        turned = orientation(image.info)
        return DecodedImage(rgb=upright_rgb_array(image, turned), format=fmt, orientation=turned)


def stored_orientation(data: bytes) -> int:
    """The orientation (1-8) the app reads in a stored photo, whatever its size: from the header Pillow parses (a
    PNG's pixels read too: its EXIF may follow them). Raises CorruptMedia or UnsupportedMediaType."""
    image = _open(data)
    if image.format != "PNG":
        with image:
            return orientation(image.info)
    with decoding(image):
        return orientation(image.info)


def check_size(width: int, height: int, max_pixels: int) -> None:
    """Refuse a picture of `width` x `height` over the pixel limit or MAX_SIDE (MediaTooLarge), or under 2 pixels
    on a side (CorruptMedia), before it is decoded."""
    if width * height > max_pixels:
        raise MediaTooLarge(Phrase(TOO_MANY_PIXELS, width=width, height=height, limit=max_pixels // 1_000_000))
    if max(width, height) > MAX_SIDE:
        raise MediaTooLarge(Phrase(
            N_("The image is %(width)dx%(height)d pixels; its sides may be at most %(limit)d pixels long."),
            width=width, height=height, limit=MAX_SIDE))
    if width < 2 or height < 2:
        raise CorruptMedia(Phrase(N_("The image is %(width)dx%(height)d pixels; each side needs at least 2."),
                                  width=width, height=height))


@contextmanager
def decoding(image: Image.Image) -> Iterator[None]:
    """An opened image loaded (decoded) for the block and closed after it; what Pillow raises meanwhile as
    CorruptMedia or MediaTooLarge."""
    try:
        with image:
            image.load()
            yield
    except (Image.DecompressionBombError, *DECODE_ERRORS) as error:
        raise refusal(error) from error


def fit_within(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """The image scaled down (area averaging) so that its longer side is at most `max_side`; itself if it fits."""
    height, width = rgb.shape[:2]
    factor = max_side / max(width, height)
    if factor >= 1:
        return rgb
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)

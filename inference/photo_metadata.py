"""What a stored photo keeps of the metadata its file carried: its orientation and its colour profile, nothing else.

A phone's JPEG carries where it was taken (EXIF GPS, XMP), when, with which camera and often the owner's name, and
a motion photo's video, a depth map or a gain map after the picture, each with its own EXIF. The app reads none of
it but the orientation, and administrators can open every upload, so a photo is stored without it, as a HEIC photo
is (inference/heif.py). The file is rewritten without re-encoding a pixel: of a JPEG's segments, a PNG's chunks and
a WebP's chunks only those that say how to decode and show the picture are kept, whole (a list of what is kept, not
of what is left out: a maker's own segment or chunk goes too), and the orientation is written again in an EXIF of
its own (one entry), so that browsers and the app turn the picture as before. The photo is analysed from the bytes
sent; every segment or chunk that decodes is kept as it was, so the stored copy decodes to the same pixels (a fuzz
of these rewrites, tests/test_metadata.py).
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from PIL import Image

from inference.errors import MediaError
from inference.images import (END_OF_IMAGE, JPEG_SIGNATURE, NO_LENGTH_MARKERS, ORIENTATION_TAG, PNG_SIGNATURE,
                              START_OF_SCAN, JpegSegment, decode_image, is_webp, jpeg_segments, png_chunks,
                              segment_length, webp_chunks)

APP0, APP1, APP2, APP14, APP15, COMMENT = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF, 0xFE
END_OF_IMAGE_MARKER = bytes((0xFF, END_OF_IMAGE))
# The application segments that say how to decode the picture, by their marker and the name their data starts with:
# JFIF's header, Adobe's (how the colours are coded), a part of the colour profile. The others are metadata (EXIF
# and XMP in APP1, MPF and FlashPix in APP2, IPTC in APP13, a camera maker's own), and so are comments.
KEPT_APPLICATION_SEGMENTS = ((APP0, b"JFIF\x00"), (APP14, b"Adobe"), (APP2, b"ICC_PROFILE\x00"))
# The bytes of JFIF's and Adobe's fields; JFIF's last two give the size of a thumbnail that follows (set to none).
JFIF_FIELDS, ADOBE_FIELDS = 14, 12
# A PNG's chunks that make or show the picture: the critical ones, transparency, colour (gamma, chromaticities,
# sRGB, a profile, HDR's cICP, mDCV and cLLI), significant bits, pixel size, background, and an animation's. Not
# kept: text (XMP lives in iTXt; ImageMagick writes EXIF as text), eXIf, tIME, and any other.
PNG_KEPT_CHUNKS = frozenset({b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"cICP",
                             b"mDCV", b"cLLI", b"sBIT", b"pHYs", b"bKGD", b"acTL", b"fcTL", b"fdAT"})
# A WebP's chunks that make or show the picture (not EXIF, XMP or any other).
WEBP_KEPT_CHUNKS = frozenset({b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
WEBP_EXIF_FLAG, WEBP_XMP_FLAG, WEBP_ANIMATION_FLAG = 0x08, 0x04, 0x02  # in a VP8X chunk's flags


def without_private_metadata(data: bytes, orientation: int) -> bytes | None:
    """A JPEG, PNG or WebP photo's bytes without its metadata, its `orientation` (1-8, as the app read it) written
    again where it is not 1; None when there was nothing to leave out (the file is kept as sent), and for any other
    format."""
    rewrite = _rewriter(data)
    if rewrite is None:
        return None
    kept = rewrite(data, _orientation_exif(orientation))
    return None if kept == data else kept


def _rewriter(data: bytes) -> Callable[[bytes, bytes | None], bytes] | None:
    if data.startswith(JPEG_SIGNATURE):
        return _jpeg
    if data.startswith(PNG_SIGNATURE):
        return _png
    if is_webp(data):
        return _webp
    return None


def _orientation_exif(orientation: int) -> bytes | None:
    """An EXIF that says only the orientation (a TIFF header and one entry, no "Exif\\0\\0"), None for upright."""
    if orientation == 1:
        return None
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes().removeprefix(b"Exif\x00\x00")


def _jpeg(data: bytes, exif: bytes | None) -> bytes:
    """The JPEG's first picture: of the segments before its first scan, only those that decode it (and the colour
    profile: where cameras and editors write EXIF, XMP, IPTC and MPF), the orientation's EXIF after the JFIF header;
    from the first scan on every byte as it was (what a decoder makes of odd bytes among the scans stays what it
    was) up to the metadata and end of image that close it (`_picture_end`), then an end of image (a last segment
    cut short left out: the end of image would be read as its length); nothing after it."""
    segments = _whole(data, list(jpeg_segments(data)))
    first_scan = next((at for at, segment in enumerate(segments) if segment.marker == START_OF_SCAN), len(segments))
    kept = [_without_extras(data, segment) for segment in segments[:first_scan] if _decodes_jpeg(data, segment)]
    if exif is not None:
        at = 1 if kept and kept[0][1] == APP0 else 0
        kept.insert(at, _jpeg_segment(APP1, b"Exif\x00\x00" + exif))
    if first_scan < len(segments):
        kept.append(data[segments[first_scan].start:_picture_end(segments[first_scan:])])
    return JPEG_SIGNATURE[:2] + b"".join(kept) + END_OF_IMAGE_MARKER


def _picture_end(from_first_scan: list[JpegSegment]) -> int:
    """Where the picture's last bytes end: before the run of metadata segments and end of image that closes it, else
    (no end of image: a file cut short) at its last segment's end."""
    trailing = len(from_first_scan)
    while trailing > 1 and _after_picture(from_first_scan[trailing - 1].marker):
        trailing -= 1
    return from_first_scan[trailing].start if trailing < len(from_first_scan) else from_first_scan[-1].end


def _after_picture(marker: int) -> bool:
    """Whether a segment after the last scan is left out: metadata (an application segment, a comment) or the end."""
    return marker in (COMMENT, END_OF_IMAGE) or APP0 <= marker <= APP15


def _whole(data: bytes, segments: list[JpegSegment]) -> list[JpegSegment]:
    """The segments without a last one whose header runs past the file's end (the decoders met the end there)."""
    if segments and segments[-1].marker not in NO_LENGTH_MARKERS and \
            segments[-1].start + 2 + segment_length(data, segments[-1].start) > len(data):
        return segments[:-1]
    return segments


def _decodes_jpeg(data: bytes, segment: JpegSegment) -> bool:
    """Whether a segment is kept: anything but an application segment or a comment, and the application segments
    that say how to decode the picture (KEPT_APPLICATION_SEGMENTS)."""
    if segment.marker == COMMENT:
        return False
    if not APP0 <= segment.marker <= APP15:
        return True
    payload = data[segment.start + 4:segment.end]
    return any(segment.marker == marker and payload.startswith(name) for marker, name in KEPT_APPLICATION_SEGMENTS)


def _without_extras(data: bytes, segment: JpegSegment) -> bytes:
    """A kept segment's bytes; JFIF's header and Adobe's without what may follow their fields (JFIF's thumbnail)."""
    payload = data[segment.start + 4:segment.end]
    if segment.marker == APP0 and len(payload) >= JFIF_FIELDS:
        return _jpeg_segment(APP0, payload[:JFIF_FIELDS - 2] + b"\x00\x00")  # a thumbnail of 0 x 0
    if segment.marker == APP14 and len(payload) >= ADOBE_FIELDS:
        return _jpeg_segment(APP14, payload[:ADOBE_FIELDS])
    return data[segment.start:segment.end]


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _png(data: bytes, exif: bytes | None) -> bytes:
    """The PNG's chunks up to its end that make or show the picture (PNG_KEPT_CHUNKS); the orientation's EXIF
    before the first image data. A chunk cut short ends the file there, as a decoder stops there."""
    kept = [PNG_SIGNATURE]
    for chunk in png_chunks(data):
        if chunk.kind == b"IDAT" and exif is not None:
            kept.append(png_chunk(b"eXIf", exif))
            exif = None
        if chunk.kind in PNG_KEPT_CHUNKS:
            kept.append(data[chunk.start:chunk.end])
    return b"".join(kept)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """A PNG chunk: its length, its type, `payload` and their CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _webp(data: bytes, exif: bytes | None) -> bytes:
    """The WebP's chunks that make or show the picture (WEBP_KEPT_CHUNKS), the orientation's EXIF at the end (its
    VP8X flags and the RIFF size set to match), nothing after the RIFF. A simple WebP (no VP8X chunk) holds one
    picture chunk and nothing else: that chunk alone, and no orientation (a simple WebP has none)."""
    chunks = webp_chunks(data)
    first = next(chunks, None)
    kept = [data[chunk.start:chunk.end] for chunk in (first, *chunks) if chunk and chunk.kind in WEBP_KEPT_CHUNKS]
    if first is None or first.kind != b"VP8X":
        return _riff(kept[:1])
    if len(kept[0]) < 9:  # no flags: not a WebP that decodes
        return _riff(kept)
    flags = kept[0][8] & ~(WEBP_EXIF_FLAG | WEBP_XMP_FLAG)
    if exif is not None:
        kept.append(b"EXIF" + struct.pack("<I", len(exif)) + exif + b"\x00" * (len(exif) & 1))
        flags |= WEBP_EXIF_FLAG
    kept[0] = kept[0][:8] + bytes((flags,)) + kept[0][9:]
    return _riff(kept) if not flags & WEBP_ANIMATION_FLAG else _decodable_or(_riff(kept), data)


def _decodable_or(kept: bytes, data: bytes) -> bytes:
    """`kept` where it decodes, else `data` as sent: libwebp reads the first frame of some broken animations only
    with the chunks that follow it (a fuzz found two), so an animation's rewrite is decoded once to be sure."""
    try:
        decode_image(kept)
    except MediaError:
        return data
    return kept


def _riff(chunks: list[bytes]) -> bytes:
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body

"""What a stored photo keeps of the metadata its file carried: its orientation and its colour profile, nothing else.

A phone's JPEG carries where it was taken (EXIF GPS, XMP), when, with which camera and often the owner's name, and
a motion photo's video, a depth map or a gain map after the picture, each with its own EXIF. The app reads none of
it but the orientation, and administrators can open every upload, so a photo is stored without it, as a HEIC photo
is (inference/heif.py). The file is rewritten without re-encoding a pixel: a JPEG's segments, a PNG's chunks, a
WebP's chunks are left out or kept whole, and the orientation is written again in an EXIF of its own (one entry),
so that browsers and the app turn the picture as before. The photo is analysed from the bytes that are stored.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable

from PIL import Image

from inference.images import END_OF_IMAGE, JPEG_SIGNATURE, ORIENTATION_TAG, JpegSegment, jpeg_segments

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
APP0, APP1, APP2, APP14, APP15, COMMENT = 0xE0, 0xE1, 0xE2, 0xEE, 0xEF, 0xFE
END_OF_IMAGE_MARKER = bytes((0xFF, END_OF_IMAGE))
ICC_PROFILE = b"ICC_PROFILE\x00"  # an APP2 segment that holds (part of) the colour profile; other APP2s: MPF, FlashPix
# APP0 (JFIF) and APP14 (Adobe: how the colours are coded) say how to decode the picture; the other application
# segments and comments are metadata (EXIF and XMP in APP1, MPF in APP2, IPTC in APP13, a camera maker's own).
KEPT_APPLICATION_MARKERS = frozenset({APP0, APP14})
# A PNG's chunks of text (XMP lives in iTXt; ImageMagick writes EXIF as text), its EXIF and its last-modified time.
PNG_METADATA_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"})
WEBP_METADATA_CHUNKS = frozenset({b"EXIF", b"XMP "})
WEBP_EXIF_FLAG, WEBP_XMP_FLAG = 0x08, 0x04  # in a VP8X chunk's flags


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
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
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
    """The JPEG's first picture with only the segments that decode it (and the colour profile), the orientation's
    EXIF after the JFIF header; anything between or after the segments left out, and an end of image where the
    picture had none (the decoders end it there: a segment left out after the last scan no longer does)."""
    segments = list(jpeg_segments(data))
    kept = [data[segment.start:segment.end] for segment in segments if _decodes_jpeg(data, segment)]
    if exif is not None:
        at = 1 if kept and kept[0][1] == APP0 else 0
        kept.insert(at, _jpeg_segment(APP1, b"Exif\x00\x00" + exif))
    ended = segments and segments[-1].marker == END_OF_IMAGE and segments[-1].end == segments[-1].start + 2
    return JPEG_SIGNATURE[:2] + b"".join(kept) + (b"" if ended else END_OF_IMAGE_MARKER)


def _decodes_jpeg(data: bytes, segment: JpegSegment) -> bool:
    """Whether a segment is kept: anything but an application segment or a comment, JFIF's and Adobe's, a
    colour profile's part."""
    if segment.marker == COMMENT:
        return False
    if not APP0 <= segment.marker <= APP15 or segment.marker in KEPT_APPLICATION_MARKERS:
        return True
    return segment.marker == APP2 and data[segment.start + 4:segment.start + 4 + len(ICC_PROFILE)] == ICC_PROFILE


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _png(data: bytes, exif: bytes | None) -> bytes:
    """The PNG's chunks up to its end without text, EXIF or time; the orientation's EXIF before the first image
    data. A chunk cut short ends the file there, as a decoder stops there."""
    kept, position = [PNG_SIGNATURE], len(PNG_SIGNATURE)
    while position + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        end = min(len(data), position + 12 + length)
        if kind == b"IDAT" and exif is not None:
            kept.append(png_chunk(b"eXIf", exif))
            exif = None
        if kind not in PNG_METADATA_CHUNKS:
            kept.append(data[position:end])
        if kind == b"IEND":
            break
        position = end
    return b"".join(kept)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    """A PNG chunk: its length, its type, `payload` and their CRC."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _webp(data: bytes, exif: bytes | None) -> bytes:
    """The WebP's chunks without EXIF and XMP, the orientation's EXIF at the end (its VP8X flags and the RIFF size
    set to match). A simple WebP (no VP8X chunk) has no metadata and is returned as it is."""
    chunks, position = [], 12
    riff_end = min(len(data), 8 + int.from_bytes(data[4:8], "little"))
    while position + 8 <= riff_end:
        kind, length = data[position:position + 4], int.from_bytes(data[position + 4:position + 8], "little")
        end = min(riff_end, position + 8 + length + (length & 1))
        chunks.append((kind, data[position:end]))
        position = end
    if not chunks or chunks[0][0] != b"VP8X" or len(chunks[0][1]) < 9:
        return data
    kept = [chunk for kind, chunk in chunks if kind not in WEBP_METADATA_CHUNKS]
    flags = kept[0][8] & ~(WEBP_EXIF_FLAG | WEBP_XMP_FLAG)
    if exif is not None:
        kept.append(b"EXIF" + struct.pack("<I", len(exif)) + exif + b"\x00" * (len(exif) & 1))
        flags |= WEBP_EXIF_FLAG
    kept[0] = kept[0][:8] + bytes((flags,)) + kept[0][9:]
    body = b"WEBP" + b"".join(kept)
    return b"RIFF" + struct.pack("<I", len(body)) + body

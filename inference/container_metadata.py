"""A Matroska (MKV, WebM) or AVI file's metadata, sized before FFmpeg opens the file.

FFmpeg reads every tag, chapter and cue point of a file when it opens it, at a cost that grows with the square of
their number: 80,000 tags in a 1.4 MB MKV took 45 s of CPU at each opening, 500,000 cue points in reverse order
90 s, and an AVI's 60,000 INFO entries 15 s (OpenCV's timeout cannot stop it). So the elements that hold them are
found first (their sizes only: nothing inside is read) and a file whose metadata is far larger than a video's is
refused. MP4 and MOV have their own check (inference/movie_index.py).
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from inference.errors import CorruptMedia
from messages import N_, Phrase

MAX_METADATA_BYTES = 64 * 1024  # a Matroska file's tags and chapters together, an AVI's INFO list: a few hundred
                                # tags take some KB
MAX_CUES_BYTES = 512 * 1024  # a Matroska file's cue points (its seek index, ~16 bytes each): a 2-minute video has
                             # some hundreds
MAX_PIECES = 100_000  # elements or chunks read to find them: a 2-minute video has some thousands (its clusters, and
                      # the frames of clusters written without a size)
TOO_MUCH_METADATA = N_("The video's tags, chapters or index are far larger than a video's: it is not a video this "
                       "app can read.")

EBML = 0x1A45DFA3
SEGMENT = 0x18538067
METADATA = {0x1254C367, 0x1043A770}  # Tags, Chapters
CUES = 0x1C53BB6B


def check_container_metadata(path: Path) -> None:
    """Raise CorruptMedia(TOO_MUCH_METADATA) for a Matroska or AVI file whose tags, chapters or cue points (or the
    pieces read to find them) are more than MAX_METADATA_BYTES, MAX_CUES_BYTES (or MAX_PIECES); other files pass."""
    with path.open("rb") as stream:
        head = stream.read(12)
        stream.seek(0)
        if head[:4] == EBML.to_bytes(4, "big"):
            _check_matroska(stream)
        elif head[:4] == b"RIFF" and head[8:12] == b"AVI ":
            _check_avi(stream)


def _refuse() -> CorruptMedia:
    return CorruptMedia(Phrase(TOO_MUCH_METADATA))


def _vint(stream: BinaryIO, keep_marker: bool) -> int | None:
    """An EBML variable-length integer: an element's ID (`keep_marker`) or size (None: "unknown", all ones).
    Raises EOFError at the end of the file or on a byte that starts none."""
    first = stream.read(1)
    if not first or not first[0]:
        raise EOFError
    length = 9 - first[0].bit_length()
    rest = stream.read(length - 1)
    if len(rest) < length - 1:
        raise EOFError
    if keep_marker:
        return int.from_bytes(first + rest, "big")
    value = int.from_bytes(bytes([first[0] & (0xFF >> length)]) + rest, "big")
    return None if value == (1 << (7 * length)) - 1 else value


def _check_matroska(stream: BinaryIO) -> None:
    """Read the file's elements in order, never inside one of known size (skipped) but inside one of unknown size
    (the segment, a cluster written live), so every element of the segment's level is met."""
    metadata = cues = 0
    for pieces in range(MAX_PIECES + 1):
        try:
            element, size = _vint(stream, True), _vint(stream, False)
        except EOFError:
            return  # the end, or a file FFmpeg will judge
        if pieces == MAX_PIECES:
            raise _refuse()
        if element in METADATA or element == CUES:
            if size is None:
                raise _refuse()
            metadata += size if element in METADATA else 0
            cues += size if element == CUES else 0
            if metadata > MAX_METADATA_BYTES or cues > MAX_CUES_BYTES:
                raise _refuse()
        if size is not None and element != SEGMENT:
            stream.seek(size, 1)


def _check_avi(stream: BinaryIO) -> None:
    """Read the RIFF chunks in order, inside the RIFF and LIST ones but the frames' (movi) and the INFO list (whose
    size is checked)."""
    stream.seek(12)
    for _ in range(MAX_PIECES):
        header = stream.read(12)
        if len(header) < 8:
            return
        chunk, size = header[:4], struct.unpack("<I", header[4:8])[0]
        kind = header[8:12]
        if chunk == b"LIST" and kind == b"INFO" and size > MAX_METADATA_BYTES:
            raise _refuse()
        if chunk in (b"RIFF", b"LIST") and kind not in (b"movi", b"INFO"):
            continue  # its chunks follow
        stream.seek(size + (size & 1) - 4, 1)
    raise _refuse()

"""An MP4's or MOV's metadata blanked in the stored file: where it was filmed, when, with which phone.

A phone writes them in the movie box: user data (`udta`: ISO 6709 location `©xyz`, dates, make and model) and
metadata (`meta`: Apple's keys, `com.apple.quicktime.location.ISO6709` among them), in the movie or in a track, and
some editors an XMP packet (a `uuid` box); the movie's, each track's and each track's media's headers (`mvhd`,
`tkhd`, `mdhd`) say when it was recorded. The app reads none of them, and administrators can open every upload, so
each metadata box is turned into a `free` box of the same size, its bytes zeroed, and the headers' creation and
modification times are zeroed (players read 0 as "not known"), as a photo's metadata is left out
(photo_metadata.py): no other byte moves, so the sample offsets the index holds stay right and the video plays
and decodes as before. Run on a stored video once its checks have passed (movie_index.py bounds the movie box).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from inference.movie_index import MAX_MOVIE_BOX, box_header, top_level_boxes

METADATA_BOXES = frozenset({b"udta", b"meta"})
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")  # the user type of a uuid box that holds XMP
# the boxes whose children are looked at: the movie, its tracks and every box FFmpeg reads a track's user data in
HOLDERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"})
TIMED_HEADERS = frozenset({b"mvhd", b"tkhd", b"mdhd"})  # version, flags, creation and modification times first
ZEROS = bytes(2**20)  # written a megabyte at a time


def blank_metadata(path: Path) -> int:
    """Turn every metadata box of the MP4 or MOV at `path` (at the top, in its movie box and in its tracks) into a
    zeroed `free` box of the same size and zero its headers' times; how many boxes that changed (0: none held
    any)."""
    with open(path, "r+b") as stream:
        blanks, total = [], stream.seek(0, 2)
        for offset, (kind, start, size) in top_level_boxes(stream):
            stream.seek(offset + start)
            if _is_metadata(kind, stream.read(16)) and offset + size <= total:  # never past the file's end
                blanks.append(Blank(offset, start, size, retype=True))
            elif kind == b"moov" and size - start <= MAX_MOVIE_BOX:
                stream.seek(offset + start)
                blanks += _blanks_within(memoryview(stream.read(size - start)), offset + start)
        changes = [blank for blank in blanks if blank.changes(stream)]
        for blank in changes:
            blank.write(stream)
    return len(changes)


@dataclass(frozen=True)
class Blank:
    """Bytes of the file to zero: a box's payload from `start` on (`retype`: the box becomes `free`), or its
    times."""

    offset: int  # where the box starts in the file
    start: int  # the first byte zeroed, from the box's start
    end: int  # past the last, from the box's start
    retype: bool = False

    def changes(self, stream: BinaryIO) -> bool:
        """Whether writing it would change a byte of the file."""
        stream.seek(self.offset + 4)
        if self.retype and stream.read(4) != b"free":
            return True
        stream.seek(self.offset + self.start)
        return any(stream.read(min(len(ZEROS), self.end - read)).strip(b"\x00")
                   for read in range(self.start, self.end, len(ZEROS)))

    def write(self, stream: BinaryIO) -> None:
        if self.retype:
            stream.seek(self.offset + 4)
            stream.write(b"free")
        stream.seek(self.offset + self.start)
        for written in range(self.start, self.end, len(ZEROS)):
            stream.write(ZEROS[:min(len(ZEROS), self.end - written)])


def _is_metadata(kind: bytes, payload_head: bytes | memoryview) -> bool:
    return kind in METADATA_BOXES or (kind == b"uuid" and bytes(payload_head[:16]) == XMP_UUID)


def _blanks_within(payload: memoryview, base: int) -> Iterator[Blank]:
    """What to zero among the children of a box whose payload is `payload`, starting at `base` in the file: its
    metadata boxes and its headers' times, and those of the boxes among them that hold others (HOLDERS); a child that
    runs past its parent is read as ending with it, as FFmpeg reads it (nothing past the parent is ever written)."""
    offset = 0
    while (box := box_header(payload[offset:offset + 16], len(payload) - offset)) is not None:
        kind, start, size = box
        size = min(size, len(payload) - offset)
        if _is_metadata(kind, payload[offset + start:offset + start + 16]):
            yield Blank(base + offset, start, size, retype=True)
        elif kind in TIMED_HEADERS and size >= start + 4:
            times = 16 if payload[offset + start] == 1 else 8  # version 1: 64-bit times
            yield Blank(base + offset, start + 4, min(size, start + 4 + times))
        elif kind in HOLDERS:
            yield from _blanks_within(payload[offset + start:offset + size], base + offset + start)
        offset += size

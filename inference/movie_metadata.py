"""An MP4's or MOV's metadata blanked in the stored file: where it was filmed, when, with which phone.

A phone writes them in the movie box: user data (`udta`: ISO 6709 location `©xyz`, dates, make and model) and
metadata (`meta`: Apple's keys, `com.apple.quicktime.location.ISO6709` among them), in the movie or in a track, and
some editors an XMP packet (a `uuid` box). The app reads none of them, and administrators can open every upload, so
each is turned into a `free` box of the same size, its bytes zeroed, as a photo's metadata is left out
(photo_metadata.py): no other byte moves, so the sample offsets the index holds stay right and the video plays
and decodes as before. Run on a stored video once its checks have passed (movie_index.py bounds the movie box).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from inference.movie_index import MAX_MOVIE_BOX, box_header, top_level_boxes

METADATA_BOXES = frozenset({b"udta", b"meta"})
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")  # the user type of a uuid box that holds XMP
HOLDERS = frozenset({b"moov", b"trak"})  # the boxes whose children are looked at
ZEROS = bytes(2**20)  # written a megabyte at a time


def blank_metadata(path: Path) -> int:
    """Turn every metadata box of the MP4 or MOV at `path` (at the top, in its movie box and in its tracks) into a
    zeroed `free` box of the same size; how many were blanked."""
    with open(path, "r+b") as stream:
        spans, total = [], stream.seek(0, 2)
        for offset, (kind, start, size) in top_level_boxes(stream):
            stream.seek(offset + start)
            if _is_metadata(kind, stream.read(16)) and offset + size <= total:  # never past the file's end
                spans.append((offset, start, size))
            elif kind == b"moov" and size - start <= MAX_MOVIE_BOX:
                stream.seek(offset + start)
                spans += _metadata_within(memoryview(stream.read(size - start)), offset + start)
        for offset, start, size in spans:
            stream.seek(offset + 4)
            stream.write(b"free")
            stream.seek(offset + start)
            for written in range(0, size - start, len(ZEROS)):
                stream.write(ZEROS[:min(len(ZEROS), size - start - written)])
    return len(spans)


def _is_metadata(kind: bytes, payload_head: bytes | memoryview) -> bool:
    return kind in METADATA_BOXES or (kind == b"uuid" and bytes(payload_head[:16]) == XMP_UUID)


def _metadata_within(payload: memoryview, base: int) -> Iterator[tuple[int, int, int]]:
    """(offset in the file, header length, size) of each metadata box among the children of a box whose payload
    is `payload`, starting at `base` in the file, and in the tracks among them; a child that runs past its
    parent ends the walk (nothing past the parent is ever written)."""
    offset = 0
    while (box := box_header(payload[offset:offset + 16], len(payload) - offset)) is not None:
        kind, start, size = box
        if size > len(payload) - offset:
            return
        if _is_metadata(kind, payload[offset + start:offset + start + 16]):
            yield base + offset, start, size
        elif kind in HOLDERS:
            yield from _metadata_within(payload[offset + start:offset + size], base + offset + start)
        offset += size

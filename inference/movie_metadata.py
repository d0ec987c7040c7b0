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

import numpy as np

from inference.movie_index import MAX_MOVIE_BOX, box_header, child_boxes, top_level_boxes

METADATA_BOXES = frozenset({b"udta", b"meta"})
XMP_UUID = bytes.fromhex("BE7ACFCB97A942E89C71999491E3AFAC")  # the user type of a uuid box that holds XMP
# the boxes whose children are looked at: the movie, its tracks and every box FFmpeg reads a track's user data in
HOLDERS = frozenset({b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts"})
TIMED_HEADERS = frozenset({b"mvhd", b"tkhd", b"mdhd"})  # version, flags, creation and modification times first
# The handlers of tracks whose samples are timed metadata, not pictures or sound: "meta" (a GoPro's GPS, gpmd),
# "text", "sbtl" and "subt" (a drone's or a dash-cam's positions as subtitles), "clcp" (captions), "tmcd" (the time
# of day as timecode).
TIMED_METADATA_HANDLERS = frozenset({b"meta", b"text", b"sbtl", b"subt", b"clcp", b"tmcd"})
MAX_METADATA_CHUNKS = 100_000
ZEROS = bytes(2**20)  # written a megabyte at a time


def blank_metadata(path: Path) -> int:
    """Turn every metadata box of the MP4 or MOV at `path` (at the top, in its movie box and in its tracks) into a
    zeroed `free` box of the same size, zero its headers' times and the samples of its timed metadata tracks; how
    many boxes or chunks of samples that changed (0: none held any). Never where a chunk of a picture or sound track
    starts (a crafted file's samples in a box named `udta`: its checks read them, and so does its analysis)."""
    with open(path, "r+b") as stream:
        blanks, total, samples = [], stream.seek(0, 2), np.zeros(0, np.uint64)
        for offset, (kind, start, size) in top_level_boxes(stream):
            stream.seek(offset + start)
            if _is_metadata(kind, stream.read(16)) and offset + size <= total:  # never past the file's end
                blanks.append(Blank(offset, start, size, retype=True))
            elif kind == b"moov" and size - start <= MAX_MOVIE_BOX:
                stream.seek(offset + start)
                movie = memoryview(stream.read(size - start))
                blanks += _blanks_within(movie, offset + start)
                blanks += _timed_metadata(movie, range(offset, offset + size), total)
                samples = _picture_and_sound_chunks(movie)
        changes = [blank for blank in blanks if not blank.holds_any(samples) and blank.changes(stream)]
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

    def holds_any(self, offsets: np.ndarray) -> bool:
        """Whether any of these file offsets lies in what it would change."""
        return bool(((offsets >= self.offset) & (offsets < self.offset + self.end)).any())

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


def _timed_metadata(movie: memoryview, movie_span: range, total: int) -> Iterator[Blank]:
    """The chunks of samples of the movie's timed metadata tracks (TIMED_METADATA_HANDLERS: a GoPro's GPS, a drone's
    or a dash-cam's subtitles of positions, captions, timecodes), zeroed where they lie: within the file and outside
    the movie box (a sample table pointing into the index is not followed). The tracks themselves stay, so every
    other track plays as before; a track of more than MAX_METADATA_CHUNKS chunks is passed over."""
    for handler, sample_table in _tracks(movie):
        if handler not in TIMED_METADATA_HANDLERS:
            continue
        for start, length in _chunk_spans(sample_table):
            end = min(total, start + length)
            if start < end and (end <= movie_span.start or start >= movie_span.stop):
                yield Blank(start, 0, end - start)


def _picture_and_sound_chunks(movie: memoryview) -> np.ndarray:
    """Where each chunk of the movie's other tracks (pictures, sound) starts in the file."""
    chunks = [_chunk_offsets(table) for handler, table in _tracks(movie) if handler not in TIMED_METADATA_HANDLERS]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.uint64)


def _tracks(movie: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    """(handler type, sample table) of each of the movie's tracks that has both."""
    for kind, track in child_boxes(movie):
        media = _child(track, b"mdia") if kind == b"trak" else None
        handler = _child(media, b"hdlr")
        sample_table = _child(_child(media, b"minf"), b"stbl")
        if handler is not None and sample_table is not None and len(handler) >= 12:
            yield bytes(handler[8:12]), sample_table


def _child(payload: memoryview | None, kind: bytes) -> memoryview | None:
    """The first child box of that type, None without one (or without a parent)."""
    if payload is None:
        return None
    return next((child for found, child in child_boxes(payload) if found == kind), None)


def _chunk_spans(sample_table: memoryview) -> list[tuple[int, int]]:
    """(offset, length) of each chunk of a track's samples, from its sample table (chunk offsets, samples per chunk,
    sample sizes), each count bounded by the entries its box holds; [] past MAX_METADATA_CHUNKS chunks."""
    offsets, sizes, runs = _chunk_offsets(sample_table), _sample_sizes(sample_table), _samples_per_chunk(sample_table)
    if len(offsets) > MAX_METADATA_CHUNKS:
        return []
    spans, sample, next_chunk = [], 0, 1
    for run, (first_chunk, per_chunk) in enumerate(runs):  # each chunk once, in order, whatever the runs say
        last_chunk = min(runs[run + 1][0] - 1 if run + 1 < len(runs) else len(offsets), len(offsets))
        for chunk in range(max(first_chunk, next_chunk), last_chunk + 1):
            spans.append((int(offsets[chunk - 1]), int(sizes[sample:sample + per_chunk].sum())))
            sample += per_chunk
        next_chunk = max(next_chunk, last_chunk + 1)
    return spans


def _chunk_offsets(sample_table: memoryview) -> np.ndarray:
    wide = _child(sample_table, b"co64")
    entries = wide if wide is not None else _child(sample_table, b"stco")
    return _table(entries, 4, ">u8" if wide is not None else ">u4")


def _sample_sizes(sample_table: memoryview) -> np.ndarray:
    sizes = _child(sample_table, b"stsz")
    if sizes is None or len(sizes) < 12:
        return np.zeros(0, np.uint64)
    common = int.from_bytes(sizes[4:8], "big")
    if common:
        return np.full(min(int.from_bytes(sizes[8:12], "big"), MAX_METADATA_CHUNKS * 64), common, np.uint64)
    return _table(sizes, 8, ">u4")


def _samples_per_chunk(sample_table: memoryview) -> list[tuple[int, int]]:
    """(first chunk, samples per chunk) of each run of the sample-to-chunk box."""
    runs = _table(_child(sample_table, b"stsc"), 4, ">u4", width=3)
    return [(int(first), int(count)) for first, count, _ in runs.reshape(-1, 3)]


def _table(box: memoryview | None, count_at: int, dtype: str, width: int = 1) -> np.ndarray:
    """A full box's table: the count at `count_at`, then the entries (of `width` numbers), as many as it holds."""
    if box is None or len(box) < count_at + 4:
        return np.zeros(0, np.uint64)
    size = np.dtype(dtype).itemsize * width
    count = min(int.from_bytes(box[count_at:count_at + 4], "big"), (len(box) - count_at - 4) // size)
    return np.frombuffer(box, dtype, count * width, count_at + 4).astype(np.uint64)

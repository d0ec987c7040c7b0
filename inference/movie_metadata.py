"""An MP4's or MOV's metadata blanked in the stored file: where it was filmed, when, with which camera.

Cameras write it in many places: user data and metadata boxes (`udta`: ISO 6709 location `©xyz`, dates, make and
model; `meta`: Apple's keys, `com.apple.quicktime.location.ISO6709` among them) in the movie or in a track, a maker's
own boxes (Canon's and Garmin's `uuid`, an XMP `uuid`, a dash-cam's `gps ` index of `freeGPS` blocks, or those
blocks with no index, a top-level `IDIT` date), the recording times in the movie's, tracks' and media's headers
(`mvhd`, `tkhd`, `mdhd`) and in a fragment's `prft`, timed metadata tracks (a GoPro's GPS, a phone's camera motion,
a drone's or a dash-cam's positions as subtitles), and bytes after the last box (an Insta360 trailer). The app
reads none of it, and administrators can open every upload, so it is zeroed in place, as a photo's metadata is left
out (photo_metadata.py): a box becomes a `free` box of the same size; only the boxes a movie is made of are kept at
the top and in the movie and its tracks (lists of what is kept); no byte moves, so the sample offsets the index
holds stay right. Nothing is written over a box's header that
is kept, over the first movie box (the one FFmpeg reads), or where a picture or sound track's samples lie, so the
video plays and decodes as before. The plan is worked out on arrays (sample_tables.py), and its ranges merged before
a byte is read or written; an index a camera does not write (more than MAX_BOXES boxes, MAX_RANGES places, or
nested deeper than MAX_DEPTH) is refused before a byte is changed: a crafted index costs milliseconds. Run on a
stored video once its checks have passed (movie_index.py bounds the movie box and the top-level boxes). A fragmented
movie's fragments are not read: their timed metadata stays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from inference.errors import MediaTooLarge
from inference.file_bytes import ZEROS, write_zeros
from inference.movie_index import MAX_MOVIE_BOX, TOO_DEEP, box_header, child_boxes, top_level_boxes
from inference.sample_tables import MAX_ENTRIES, chunk_spans, child, sample_format
from messages import N_, Phrase

# What a movie is made of, kept where it is; any other box at these levels is blanked.
KEPT_AT_TOP = frozenset({b"ftyp", b"moov", b"mdat", b"moof", b"mfra", b"free", b"skip", b"wide", b"pdin", b"styp",
                         b"sidx", b"ssix", b"prft", b"emsg"})
KEPT_IN_MOVIE = frozenset({b"mvhd", b"trak", b"mvex", b"iods", b"pssh", b"free", b"skip", b"wide"})
KEPT_IN_TRACK = frozenset({b"tkhd", b"mdia", b"edts", b"tref", b"tapt", b"load", b"txas", b"free", b"skip",
                           b"wide"})
# Deeper, the boxes left out wherever they are (FFmpeg reads user data at any depth), and those looked into.
METADATA_BOXES = frozenset({b"udta", b"meta", b"uuid"})
HOLDERS = frozenset({b"mdia", b"minf", b"stbl", b"edts", b"dinf"})
TIMED_HEADERS = frozenset({b"mvhd", b"tkhd", b"mdhd"})  # version, flags, creation and modification times first
PICTURE_AND_SOUND = frozenset({b"vide", b"soun"})  # handlers; a track of any other (meta, text, sbtl, camm, tmcd,
# data...) holds timed metadata, unless its samples are coded pictures or sound, whatever its handler says:
CODED_FORMATS = frozenset({b"avc1", b"avc2", b"avc3", b"avc4", b"H264", b"h264", b"hvc1", b"hev1", b"hvc2", b"hev2",
                           b"dvh1", b"dvhe", b"dvav", b"dva1", b"dav1", b"av01", b"vp08", b"vp09", b"mjp2", b"png ",
                           b"mp4v", b"jpeg", b"mjpa", b"apch", b"apcn", b"apcs", b"apco", b"ap4h", b"s263",
                           b"mp4a", b"ac-3", b"ec-3", b"Opus", b"fLaC", b"alac", b"lpcm", b"sowt", b"twos", b"samr",
                           b".mp3", b"ulaw", b"alaw", b"in24", b"in32", b"fl32", b"fl64", b"raw "})
MAX_BOXES = 20_000  # boxes of the movie boxes looked at: a movie holds dozens to hundreds (500,000 empty: seconds)
MAX_DEPTH = 10  # boxes within boxes within a movie box (FFmpeg reads 10 levels: stbl is the fifth)
MAX_RANGES = 100_000  # places to zero or keep: a camera's 2-minute video has some thousands (a chunk a frame at most)
TOO_MANY_PLACES = N_("The video's index points at more than %(limit)s pieces; a camera's video has some thousands.")
FREE_GPS = b"freeGPS "  # a Novatek dash-cam's block of positions inside the media data: "free" box, "GPS " inside
FREE_GPS_LONGEST = 2**20
TOO_MANY_BOXES = N_("The video's index holds more than %(limit)s boxes; a video's holds a few hundred.")


@dataclass
class Ranges:
    """Byte ranges [start, end) of the file, gathered as arrays."""

    starts: list[np.ndarray] = field(default_factory=list)
    ends: list[np.ndarray] = field(default_factory=list)

    def add(self, start: int, end: int) -> None:
        self.add_all(np.array([start], np.uint64), np.array([end], np.uint64))

    def add_all(self, starts: np.ndarray, ends: np.ndarray) -> None:
        self.starts.append(starts.astype(np.uint64))
        self.ends.append(np.maximum(ends, starts).astype(np.uint64))

    def within(self, total: int) -> tuple[np.ndarray, np.ndarray]:
        """The non-empty ranges, cut at the file's end."""
        starts, ends = _joined(self.starts), np.minimum(_joined(self.ends), np.uint64(total))
        return starts[starts < ends], ends[starts < ends]

    def touch(self, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """For each range [start, end): whether one of these ranges (a range's first byte at least) lies in it."""
        starts, ends = starts.astype(np.uint64), ends.astype(np.uint64)
        kept_starts, kept_ends = _merged(_joined(self.starts), np.maximum(_joined(self.ends), _joined(self.starts) + 1))
        if not len(kept_starts):
            return np.zeros(len(starts), bool)
        before = np.searchsorted(kept_starts, ends, side="left").astype(np.int64) - 1  # the last starting before each
        return (before >= 0) & (kept_ends[np.maximum(before, 0)] > starts)  # end: does it reach into the range?


@dataclass
class Plan:
    """What to change in the file: the boxes to turn into zeroed `free` boxes, and the ranges to zero that the index
    points at (timed metadata samples, a `gps ` index's blocks, a trailer) or that a kept box holds (a header's
    times). Nothing may touch `samples` (where a picture or sound track's chunks lie): a box holding some stays as
    it is; the data may not touch `structure` either (a kept box's header, the first movie box)."""

    boxes: list[tuple[int, int, int]] = field(default_factory=list)  # (start, header length, size)
    walked: int = 0  # boxes of the movie looked at
    times: Ranges = field(default_factory=Ranges)
    data: Ranges = field(default_factory=Ranges)
    samples: Ranges = field(default_factory=Ranges)
    structure: Ranges = field(default_factory=Ranges)

    def look_at(self) -> None:
        """Count a box of the movie looked at; MediaTooLarge past MAX_BOXES (a movie holds dozens to thousands)."""
        self.walked += 1
        if self.walked > MAX_BOXES:
            raise MediaTooLarge(Phrase(TOO_MANY_BOXES, limit=f"{MAX_BOXES:,}"))

    def check_size(self) -> None:
        """MediaTooLarge for more places to zero, or chunks to keep, than a camera's video has (each place is read
        and written on its own); checked as they are found."""
        for ranges in (self.times, self.data, self.samples):
            if sum(len(part) for part in ranges.starts) > MAX_RANGES:
                raise MediaTooLarge(Phrase(TOO_MANY_PLACES, limit=f"{MAX_RANGES:,}"))

    def blank_box(self, offset: int, header: int, size: int) -> None:
        self.boxes.append((offset, header, size))

    def retyped(self) -> np.ndarray:
        """Where each box to blank starts, but those that picture or sound samples lie in."""
        boxes = np.array(self.boxes, np.uint64).reshape(-1, 3)
        return boxes[~self.samples.touch(boxes[:, 0], boxes[:, 0] + boxes[:, 2])]

    def ranges(self, total: int, retyped: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ranges to zero: the blanked boxes' payloads, and within the file and clear of what they may not touch
        the rest, merged (each byte at most once)."""
        time_starts, time_ends = self.times.within(total)
        data_starts, data_ends = self.data.within(total)
        times_clear = ~self.samples.touch(time_starts, time_ends)
        data_clear = ~self.samples.touch(data_starts, data_ends) & ~self.structure.touch(data_starts, data_ends)
        payloads = (retyped[:, 0] + retyped[:, 1], np.minimum(retyped[:, 0] + retyped[:, 2], np.uint64(total)))
        return _merged(np.concatenate((payloads[0], time_starts[times_clear], data_starts[data_clear])),
                       np.concatenate((payloads[1], time_ends[times_clear], data_ends[data_clear])))


def blank_metadata(path: Path) -> int:
    """Zero the metadata of the MP4 or MOV at `path` in place (the module's docstring says what and where); how many
    boxes were turned into `free` ones and separate stretches zeroed (0: it held none)."""
    with open(path, "r+b") as stream:
        plan, total = _plan(stream), stream.seek(0, 2)
        boxes = plan.retyped()
        starts, ends = plan.ranges(total, boxes)
        retyped = [at for at in dict.fromkeys(boxes[:, 0].tolist()) if _read(stream, at + 4, 4) != b"free"]
        zeroed = [(start, end) for start, end in zip(starts.tolist(), ends.tolist()) if _holds_data(stream, start, end)]
        for at in retyped:
            stream.seek(at + 4)
            stream.write(b"free")
        for start, end in zeroed:
            write_zeros(stream, start, end)
    return len(retyped) + len(zeroed)


def _plan(stream: BinaryIO) -> Plan:
    """What to zero in the file open in `stream`: first what must stay (the picture and sound tracks' samples, the
    headers of the top-level boxes kept, the first movie box), then the metadata."""
    plan, total = Plan(), stream.seek(0, 2)
    boxes = list(top_level_boxes(stream))
    movies = [(offset + start, memoryview(_read(stream, offset + start, size - start)))
              for offset, (kind, start, size) in boxes if kind == b"moov" and size - start <= MAX_MOVIE_BOX]
    for number, (movie_start, movie) in enumerate(movies):  # first: it counts the boxes
        _plan_within(plan, movie, movie_start, KEPT_IN_MOVIE, first=number == 0)
    if movies:
        movie_start, movie = movies[0]
        _keep_picture_and_sound(plan, movie)
        plan.structure.add(movie_start, movie_start + len(movie))
        _plan_timed_metadata(plan, movie)
    for offset, (kind, start, size) in boxes:
        if kind in KEPT_AT_TOP:
            plan.structure.add(offset, offset + start)
        else:
            plan.blank_box(offset, start, min(size, total - offset))
        if kind == b"prft" and size >= start + 16:  # a fragment's wall-clock time (NTP), after version, flags, track
            plan.times.add(offset + start + 8, offset + start + 16)
    _plan_free_gps(plan, stream, total)
    if boxes and (last_end := boxes[-1][0] + boxes[-1][1][2]) < total:
        plan.data.add(last_end, total)  # a trailer after the last box (no box refers to it)
    plan.check_size()
    return plan


def _keep_picture_and_sound(plan: Plan, movie: memoryview) -> None:
    for handler, sample_table in _tracks(movie):
        if not _holds_metadata(handler, sample_table):
            plan.samples.add_all(*chunk_spans(sample_table))
            plan.check_size()


def _plan_timed_metadata(plan: Plan, movie: memoryview) -> None:
    """The samples of the movie's timed metadata tracks, chunk by chunk (the tracks themselves stay)."""
    for handler, sample_table in _tracks(movie):
        if _holds_metadata(handler, sample_table):
            plan.data.add_all(*chunk_spans(sample_table))
            plan.check_size()


def _plan_within(plan: Plan, payload: memoryview, base: int, kept: frozenset[bytes] | None, first: bool = True,
                 depth: int = 1) -> None:
    """The metadata among the children of a box whose payload is `payload`, starting at `base` in the file: any box
    not in `kept` (None, deeper: any of METADATA_BOXES), the headers' times, a dash-cam's `gps ` index's blocks; and
    within the tracks and the boxes that hold others (`first`: in the movie box FFmpeg reads; the index blocks of
    the others are not followed). A child that runs past its parent ends with it, as FFmpeg reads it; nesting deeper
    than a movie's is refused, as the index's check refuses it (MediaTooLarge)."""
    if depth > MAX_DEPTH:
        raise MediaTooLarge(Phrase(TOO_DEEP))
    offset = 0
    while (box := box_header(payload[offset:offset + 16], len(payload) - offset)) is not None:
        kind, start, size = box
        size = min(size, len(payload) - offset)
        at = base + offset
        plan.look_at()
        if kind == b"gps " and first:
            _plan_gps_blocks(plan, payload[offset + start:offset + size])
        if (kind not in kept) if kept is not None else (kind in METADATA_BOXES):
            plan.blank_box(at, start, size)
        elif kind in TIMED_HEADERS and size >= start + 4:
            plan.times.add(at + start + 4, at + min(size, start + 4 + (16 if payload[offset + start] == 1 else 8)))
        elif kind == b"trak" or kind in HOLDERS:
            inner = KEPT_IN_TRACK if kind == b"trak" else None
            _plan_within(plan, payload[offset + start:offset + size], at + start, inner, first, depth + 1)
        offset += size


def _plan_gps_blocks(plan: Plan, index: memoryview) -> None:
    """A dash-cam's (Novatek's) `gps ` index: after 8 bytes, (offset, size) of each `freeGPS` block in the file."""
    count = min((len(index) - 8) // 8, MAX_ENTRIES) if len(index) >= 16 else 0
    entries = np.frombuffer(index, ">u4", count * 2, 8).astype(np.uint64).reshape(-1, 2)
    plan.data.add_all(entries[:, 0], entries[:, 0] + entries[:, 1])


def _plan_free_gps(plan: Plan, stream: BinaryIO, total: int) -> None:
    """A dash-cam's `freeGPS` blocks, found by their name wherever they lie (some cameras write no index of them):
    each block to its size (at most FREE_GPS_LONGEST); read 16 MB at a time."""
    window, overlap = 16 * 2**20, len(FREE_GPS) + 4
    for at in range(0, total, window):
        chunk = _read(stream, at, window + overlap)
        found = chunk.find(FREE_GPS)
        while 0 <= found < window:
            if found >= 4 and (size := int.from_bytes(chunk[found - 4:found], "big")) >= 8:
                plan.data.add(at + found + 4, at + found - 4 + min(size, FREE_GPS_LONGEST))
            found = chunk.find(FREE_GPS, found + 1)


def _tracks(movie: memoryview) -> list[tuple[bytes, memoryview]]:
    """(handler type, sample table) of each of the movie's tracks that has both."""
    found = []
    for kind, track in child_boxes(movie):
        media = child(track, b"mdia") if kind == b"trak" else None
        handler, sample_table = _last_child(media, b"hdlr"), child(child(media, b"minf"), b"stbl")
        if handler is not None and sample_table is not None and len(handler) >= 12:
            found.append((bytes(handler[8:12]), sample_table))
    return found


def _last_child(payload: memoryview | None, kind: bytes) -> memoryview | None:
    """The last child box of that type (FFmpeg's reading of a media box's handler: the last one it meets)."""
    found = None
    for child_kind, child_payload in child_boxes(payload) if payload is not None else ():
        found = child_payload if child_kind == kind else found
    return found


def _holds_metadata(handler: bytes, sample_table: memoryview) -> bool:
    return handler not in PICTURE_AND_SOUND and sample_format(sample_table) not in CODED_FORMATS


def _read(stream: BinaryIO, at: int, length: int) -> bytes:
    stream.seek(at)
    return stream.read(length)


def _holds_data(stream: BinaryIO, start: int, end: int) -> bool:
    """Whether the range holds a byte that is not zero."""
    return any(_read(stream, at, min(len(ZEROS), end - at)).strip(b"\x00") for at in range(start, end, len(ZEROS)))


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, np.uint64)


def _merged(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ranges sorted by start, the overlapping and touching ones merged into one."""
    if not len(starts):
        return starts, ends
    order = np.argsort(starts, kind="stable")
    starts, ends = starts[order], np.maximum.accumulate(ends[order])
    new = np.concatenate(([True], starts[1:] > ends[:-1]))
    group_ends = np.concatenate((np.flatnonzero(new)[1:] - 1, [len(starts) - 1]))
    return starts[new], ends[group_ends]

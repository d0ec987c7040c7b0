"""An MP4 or MOV file's index, read before FFmpeg opens the file.

FFmpeg builds its whole index when it opens an MP4: an entry per sample, for every edit of every track. A 10 KB
file whose sample table claims 40 million samples cost 1.3 GB there, a 1.6 KB fragmented file whose fragment
claims 30 million 950 MB, and an edit list repeating a 400-frame clip 100,000 times 820 MB, before any frame was
read. So the boxes that say how many samples there are (stsz, stz2, stts; trun in movie fragments) and how many
edits (elst) are read first, and a file claiming more than a video within the limits has is refused, as is a
compressed movie box (cmov, which FFmpeg inflates to the size it claims) and boxes nested deeper than a video's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from inference.errors import MediaTooLarge, UnsupportedMediaType
from inference.frame_headers import COMPRESSED_INDEX
from messages import N_, Phrase

MAX_MOVIE_BOX = 16 * 2**20  # bytes of an MP4's movie box (its index): a 120 s video's is some hundreds of KB
INDEX_TOO_LARGE = N_("The video's index is larger than %(mb)d MB: it is not a video this app can read.")
TOO_MANY_SAMPLES = N_("The video's index lists %(count)s samples in its sound and data tracks; a video within the "
                      "limits has at most %(limit)s.")
TOO_DEEP = N_("The video's index is nested deeper than a video's: it is not a video this app can read.")
TOO_MANY_BOXES = N_("The video's file is cut into more than %(limit)s pieces (fragments and other boxes); a video "
                    "within the limits has a few thousand at most.")
TOO_MANY_EDITS = N_("The video's edit list has %(count)s entries; at most %(limit)d are read.")
MAX_TOP_LEVEL_BOXES = 100_000  # a fragmented video has two a fragment (moof, mdat): a few thousand
MAX_DEPTH = 8  # moov > trak > mdia > minf > stbl > stsz: the deepest box read is 5 levels down
MAX_EDITS = 16  # edit list entries per track: a phone's or an editor's video has one to a few
AUDIO_SAMPLES_PER_SECOND = 48_000  # samples a second of the tracks that are not video together (48 kHz sound)
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"moof", b"traf"}


@dataclass
class Track:
    """What the index says of one track: its kind and how many samples and edits it has."""

    handler: bytes = b"vide"  # a fragment of a track the movie box does not describe counts as video
    samples: int = 0
    edits: int = 0

    @property
    def entries(self) -> int:
        """The entries of FFmpeg's index for this track: its samples, once for each edit."""
        return self.samples * max(1, self.edits)


@dataclass
class MovieIndex:
    """Every track of the movie box (each `trak` its own, whatever its id says) and of the fragments."""

    tracks: list[Track] = field(default_factory=list)
    by_id: dict[int, Track] = field(default_factory=dict)

    def track(self, track_id: int) -> Track:
        """The track a fragment adds samples to; a new one for an id the movie box does not describe."""
        if track_id not in self.by_id:
            self.by_id[track_id] = self._new()
        return self.by_id[track_id]

    def _new(self) -> Track:
        self.tracks.append(Track())
        return self.tracks[-1]

    def read(self, kind: bytes, payload: memoryview, track: Track | None = None, depth: int = 0) -> None:
        """Walk a box, noting each track's handler, sample counts and edits. A container nested deeper than any
        video's (the sample tables are 5 levels down; FFmpeg reads 10) is refused rather than skipped; a compressed
        movie box, which FFmpeg inflates to whatever size it claims, is refused."""
        if kind == b"cmov":
            raise UnsupportedMediaType(Phrase(COMPRESSED_INDEX))
        if kind in CONTAINERS:
            if depth >= MAX_DEPTH:
                raise MediaTooLarge(Phrase(TOO_DEEP))
            children = list(child_boxes(payload))
            if kind == b"trak":
                track = self._new()
            elif kind == b"traf":
                track = self.track(next((_number(child, 4) for name, child in children if name == b"tfhd"), 0))
            for child_kind, child in children:
                self.read(child_kind, child, track, depth + 1)
        elif track is not None:
            self._note(kind, payload, track)

    def _note(self, kind: bytes, payload: memoryview, track: Track) -> None:
        if kind == b"tkhd":
            self.by_id[_number(payload, 20 if payload[:1] == b"\x01" else 12)] = track
        elif kind == b"hdlr" and bytes(payload[4:8]) != b"dhlr":  # a MOV's data handler ("url ", "alis") comes
            track.handler = bytes(payload[8:12])                 # after its media handler: not the track's kind
        elif kind in (b"stsz", b"stz2"):
            track.samples = max(track.samples, _number(payload, 8))
        elif kind == b"stts":  # (sample count, duration) entries
            entries = max(0, min(_number(payload, 4), (len(payload) - 8) // 8))
            track.samples = max(track.samples, int(np.frombuffer(payload[8:8 + 8 * entries], ">u4")[::2]
                                                   .sum(dtype=np.int64)))
        elif kind == b"trun":
            track.samples += _number(payload, 4)
        elif kind == b"elst":
            track.edits += _number(payload, 4)


def index_boxes(path: Path, kinds: tuple[bytes, ...]) -> Iterator[tuple[bytes, memoryview]]:
    """(type, payload) of each top-level box of an ISO file of these kinds, reading only the other boxes' headers;
    MediaTooLarge for a box of these kinds past MAX_MOVIE_BOX, or for a file of more than MAX_TOP_LEVEL_BOXES
    boxes."""
    with open(path, "rb") as stream:
        for offset, (kind, start, size) in top_level_boxes(stream):
            if kind in kinds:
                if size - start > MAX_MOVIE_BOX:
                    raise MediaTooLarge(Phrase(INDEX_TOO_LARGE, mb=MAX_MOVIE_BOX // 2**20))
                stream.seek(offset + start)
                yield kind, memoryview(stream.read(size - start))


def top_level_boxes(stream: BinaryIO) -> Iterator[tuple[int, tuple[bytes, int, int]]]:
    """(offset, (type, header length, size)) of each top-level box of an ISO file open in `stream`, reading only
    their headers; MediaTooLarge past MAX_TOP_LEVEL_BOXES."""
    total, offset = stream.seek(0, 2), 0
    for _ in range(MAX_TOP_LEVEL_BOXES + 1):
        if offset + 8 > total:  # past the end (a 64-bit size near 2^64 would not even seek)
            return
        stream.seek(offset)
        if (box := box_header(stream.read(16), total - offset)) is None:
            return
        yield offset, box
        offset += box[2]
    raise MediaTooLarge(Phrase(TOO_MANY_BOXES, limit=f"{MAX_TOP_LEVEL_BOXES:,}"))


def box_header(header: bytes | memoryview, room: int) -> tuple[bytes, int, int] | None:
    """(type, header length, box size) of the box whose first 16 (or fewer) bytes are `header`, with `room` bytes
    left from its start; None where no box fits."""
    if room < 8 or len(header) < 8:
        return None
    size, kind, start = int.from_bytes(header[:4], "big"), bytes(header[4:8]), 8
    if size == 1 and len(header) >= 16:  # a 64-bit size follows the type
        size, start = int.from_bytes(header[8:16], "big"), 16
    size = size or room  # 0: to the end
    return None if size < start else (kind, start, size)


def child_boxes(payload: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    """(type, payload) of each box laid end to end in `payload`, up to the first that does not fit."""
    offset = 0
    while (box := box_header(payload[offset:offset + 16], len(payload) - offset)) is not None:
        kind, start, size = box
        yield kind, payload[offset + start:offset + size]
        offset += size


def _number(payload: memoryview, start: int) -> int:
    return int.from_bytes(payload[start:start + 4], "big") if len(payload) >= start + 4 else 0


def read_movie_index(path: Path) -> MovieIndex:
    """What an MP4's or MOV's movie box and fragments say of its tracks."""
    index = MovieIndex()
    for kind, payload in index_boxes(path, (b"moov", b"moof")):
        index.read(kind, payload)
    return index


def check_movie_index(path: Path, max_video_samples: int, max_seconds: float, too_many_frames: MediaTooLarge) -> None:
    """Refuse an MP4 or MOV whose index claims more entries than a video of `max_seconds` has: the video tracks
    together `max_video_samples` (refused with `too_many_frames`), the others together AUDIO_SAMPLES_PER_SECOND a
    second (each track's samples counted once per edit), or a track of more than MAX_EDITS edits."""
    index = read_movie_index(path)
    if any(track.edits > MAX_EDITS for track in index.tracks):
        edits = max(track.edits for track in index.tracks)
        raise MediaTooLarge(Phrase(TOO_MANY_EDITS, count=f"{edits:,}", limit=MAX_EDITS))
    if sum(track.entries for track in index.tracks if track.handler == b"vide") > max_video_samples:
        raise too_many_frames
    others, limit = sum(track.entries for track in index.tracks if track.handler != b"vide"), int(
        AUDIO_SAMPLES_PER_SECOND * max_seconds)
    if others > limit:
        raise MediaTooLarge(Phrase(TOO_MANY_SAMPLES, count=f"{others:,}", limit=f"{limit:,}"))

"""An MP4 or MOV file's index, read before FFmpeg opens the file.

FFmpeg builds its whole index when it opens an MP4: an entry per sample, for every edit of every track. A 10 KB
file whose sample table claims 40 million samples cost 1.3 GB there, a 1.6 KB fragmented file whose fragment
claims 30 million 950 MB, and an edit list repeating a 400-frame clip 100,000 times 820 MB, before any frame was
read. So the boxes that say how many samples there are (stsz, stz2, stts; trun in movie fragments) and how many
edits (elst) are read first, and a file claiming more than a video within the limits has is refused.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from inference.errors import MediaTooLarge
from messages import N_, Phrase

MAX_MOVIE_BOX = 16 * 2**20  # bytes of an MP4's movie box (its index): a 120 s video's is some hundreds of KB
INDEX_TOO_LARGE = N_("The video's index is larger than %(mb)d MB: it is not a video this app can read.")
TOO_MANY_SAMPLES = N_("The video's index lists %(count)s samples in one sound or data track; a video within the "
                      "limits has at most %(limit)s.")
TOO_MANY_EDITS = N_("The video's edit list has %(count)s entries; at most %(limit)d are read.")
MAX_TOP_LEVEL_BOXES = 100_000  # a fragmented video has two a fragment (moof, mdat): a few thousand
MAX_DEPTH = 8  # moov > trak > mdia > minf > stbl > stsz: the deepest box read is 5 levels down
MAX_EDITS = 16  # edit list entries per track: a phone's or an editor's video has one to a few
AUDIO_SAMPLES_PER_SECOND = 96_000  # samples per second of a track that is not video (96 kHz sound at most)
CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"moof", b"traf"}


@dataclass
class Track:
    """What the index says of one track: its kind and how many samples and edits it has."""

    handler: bytes = b""
    samples: int = 0
    edits: int = 0


@dataclass
class MovieIndex:
    tracks: dict[int, Track] = field(default_factory=lambda: defaultdict(Track))


def index_boxes(path: Path, kinds: tuple[bytes, ...]) -> Iterator[tuple[bytes, memoryview]]:
    """(type, payload) of each top-level box of an ISO file of these kinds, reading only the other boxes' headers;
    MediaTooLarge for a box of these kinds past MAX_MOVIE_BOX, or past MAX_TOP_LEVEL_BOXES boxes."""
    with open(path, "rb") as stream:
        total, offset = stream.seek(0, 2), 0
        for _ in range(MAX_TOP_LEVEL_BOXES):
            if offset + 8 > total:
                return
            stream.seek(offset)
            header = stream.read(16)
            size, kind, start = int.from_bytes(header[:4], "big"), header[4:8], 8
            if size == 1:  # a 64-bit size follows the type
                size, start = int.from_bytes(header[8:16], "big"), 16
            size = size or total - offset  # 0: to the end of the file
            if size < start:
                return
            if kind in kinds:
                if size - start > MAX_MOVIE_BOX:
                    raise MediaTooLarge(Phrase(INDEX_TOO_LARGE, mb=MAX_MOVIE_BOX // 2**20))
                stream.seek(offset + start)
                yield kind, memoryview(stream.read(size - start))
            offset += size
    raise MediaTooLarge(Phrase(INDEX_TOO_LARGE, mb=MAX_MOVIE_BOX // 2**20))


def _children(payload: memoryview) -> Iterator[tuple[bytes, memoryview]]:
    offset = 0
    while offset + 8 <= len(payload):
        size, kind = int.from_bytes(payload[offset:offset + 4], "big"), bytes(payload[offset + 4:offset + 8])
        start = 8
        if size == 1 and offset + 16 <= len(payload):
            size, start = int.from_bytes(payload[offset + 8:offset + 16], "big"), 16
        size = size or len(payload) - offset
        if size < start:
            return
        yield kind, payload[offset + start:offset + size]
        offset += size


def _number(payload: memoryview, start: int) -> int:
    return int.from_bytes(payload[start:start + 4], "big") if len(payload) >= start + 4 else 0


def _read(kind: bytes, payload: memoryview, index: MovieIndex, track_id: list[int], depth: int = 0) -> None:
    """Walk a box, noting each track's id (tkhd, tfhd), handler, sample counts and edits; containers deeper than
    MAX_DEPTH (the sample tables are 5 levels down) are not entered, so a box nested in itself a million times is
    not a million calls deep."""
    if kind in CONTAINERS and depth < MAX_DEPTH:
        if kind in (b"trak", b"traf"):
            track_id = [0]  # set by the track's tkhd or the fragment's tfhd, which come first
        for child_kind, child in _children(payload):
            _read(child_kind, child, index, track_id, depth + 1)
    elif kind == b"tkhd":
        track_id[0] = _number(payload, 20 if payload[:1] == b"\x01" else 12)
    elif kind == b"tfhd":
        track_id[0] = _number(payload, 4)
    elif kind == b"hdlr":
        index.tracks[track_id[0]].handler = bytes(payload[8:12])
    elif kind in (b"stsz", b"stz2"):
        index.tracks[track_id[0]].samples = max(index.tracks[track_id[0]].samples, _number(payload, 8))
    elif kind == b"stts":  # (sample count, duration) entries
        entries = max(0, min(_number(payload, 4), (len(payload) - 8) // 8))
        counted = int(np.frombuffer(payload[8:8 + 8 * entries], ">u4")[::2].sum(dtype=np.int64))
        index.tracks[track_id[0]].samples = max(index.tracks[track_id[0]].samples, counted)
    elif kind == b"trun":
        index.tracks[track_id[0]].samples += _number(payload, 4)
    elif kind == b"elst":
        index.tracks[track_id[0]].edits += _number(payload, 4)


def check_movie_index(path: Path, max_video_samples: int, max_seconds: float, too_many_frames: MediaTooLarge) -> None:
    """Refuse an MP4 or MOV whose index claims more samples in a track than a video of `max_seconds` has (a video
    track: `max_video_samples`, refused with `too_many_frames`; any other: AUDIO_SAMPLES_PER_SECOND a second), or
    more than MAX_EDITS edits."""
    index = MovieIndex()
    for kind, payload in index_boxes(path, (b"moov", b"moof")):
        _read(kind, payload, index, [0])
    for track in index.tracks.values():
        video = track.handler in (b"vide", b"")  # a fragment of a track the movie box does not describe: as video
        if video and track.samples > max_video_samples:
            raise too_many_frames
        limit = int(AUDIO_SAMPLES_PER_SECOND * max_seconds)
        if not video and track.samples > limit:
            raise MediaTooLarge(Phrase(TOO_MANY_SAMPLES, count=f"{track.samples:,}", limit=f"{limit:,}"))
        if track.edits > MAX_EDITS:
            raise MediaTooLarge(Phrase(TOO_MANY_EDITS, count=f"{track.edits:,}", limit=MAX_EDITS))

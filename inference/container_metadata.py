"""A Matroska (MKV, WebM) or AVI file's metadata, sized before FFmpeg opens the file.

FFmpeg reads every tag, chapter and cue point of a file when it opens it, at a cost that grows with the square of
their number: 80,000 tags in a 1.4 MB MKV took 45 s of CPU at each opening, 500,000 cue points in reverse order
90 s, and an AVI's 60,000 INFO entries 15 s (OpenCV's timeout cannot stop it); an AVI's index of 5 million
entries cost a second and 150 MB at every opening. So the elements that hold them are found first, as FFmpeg finds
them (in order, where the seek head points, and after a damaged stretch at the next element it knows), their sizes
added up (nothing inside is read), and a file whose metadata is far larger than a video's is refused. MP4 and MOV
have their own check (inference/movie_index.py).

The same walk finds what a file says about where, when and with what it was made, for `blank_container_metadata`
to blank in the stored file, in place as an MP4's is (inference/movie_metadata.py): a Matroska file's tags (title,
comment, location, dates), attachments (a cover picture) and its Info's title, date and writing applications become
Void elements of the same size; an AVI's INFO, `exif` and Nikon `ncdt` lists, its `IDIT` date and a stream's EXIF
(`strd` starting "AVIF") become JUNK chunks. No byte moves, nothing a frame is read from is written.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from inference.errors import CorruptMedia, UnsupportedMediaType
from inference.file_bytes import FileBytes, write_zeros
from messages import N_, Phrase

MAX_METADATA_BYTES = 64 * 1024  # a Matroska file's tags and chapters together, an AVI's INFO lists: a few hundred
                                # tags take some KB
MAX_CUES_BYTES = 512 * 1024  # a Matroska file's cue points (its seek index, ~16 bytes each): a 2-minute video has
                             # some hundreds
PIECES_PER_SECOND = 250  # elements or chunks read to find them, per second of the longest video: a live-recorded
                         # WebM (clusters without a size) has each of its ~100 video and audio frames a second
MIN_PIECES = 100_000
AVI_INDEX_ENTRY = 16  # bytes of an AVI idx1 entry
ODML_HEADER, ODML_SUPER_ENTRY, ODML_STANDARD_ENTRY = 24, 16, 8  # OpenDML (AVI 2.0) indexes: bytes
ODML_INDEX_OF_INDEXES = 0  # an indx's bIndexType: a super index (1: an index of chunks)
TOO_MUCH_METADATA = N_("The video's tags, chapters or index are far larger than a video's: it is not a video this "
                       "app can read.")

EBML = 0x1A45DFA3
SEGMENT = 0x18538067
SEEK_HEAD, SEEK, SEEK_ID, SEEK_POSITION = 0x114D9B74, 0x4DBB, 0x53AB, 0x53AC
TAGS, CHAPTERS, CUES = 0x1254C367, 0x1043A770, 0x1C53BB6B
METADATA = {TAGS, CHAPTERS}
TRACKS, TRACK_ENTRY, CODEC_ID, CONTENT_ENCODINGS = 0x1654AE6B, 0xAE, 0x86, 0x6D80
INFO, ATTACHMENTS, VOID = 0x1549A966, 0x1941A469, 0xEC
INFO_FIELDS = {0x7BA9, 0x4461, 0x4D80, 0x5741}  # Title, DateUTC, MuxingApp, WritingApp: the rest times the frames
AVI_PRIVATE_LISTS = {b"INFO", b"exif", b"ncdt"}  # a camera's make, model, dates and settings
AVI_PRIVATE_CHUNKS = {b"IDIT"}  # the date and time it was filmed
AVI_STREAM_EXIF = b"AVIF"  # how a stream's data (strd) that holds a camera's EXIF starts
ENCODED_FRAMES = N_("The video's frames are compressed inside the file (a Matroska content encoding), which cannot be "
                    "checked before decoding; save it again without it (as MP4, say).")
# The elements of a segment's level FFmpeg looks for when it resynchronises after damage
LEVEL_ONE = (0x1F43B675, CUES, TAGS, CHAPTERS, 0x1941A469, SEEK_HEAD, 0x1549A966, 0x1654AE6B)


def check_container_metadata(path: Path, max_seconds: float) -> None:
    """Raise CorruptMedia(TOO_MUCH_METADATA) for a Matroska or AVI file whose tags and chapters (INFO lists) or cue
    points are more than MAX_METADATA_BYTES or MAX_CUES_BYTES, or that takes more than PIECES_PER_SECOND pieces a
    second of `max_seconds` to walk; other files pass."""
    pieces = max(MIN_PIECES, int(PIECES_PER_SECOND * max_seconds))
    with path.open("rb") as stream:
        head = stream.read(12)
        if len(head) < 12:
            return
        with FileBytes(stream.fileno(), os.fstat(stream.fileno()).st_size) as data:
            if head[:4] == EBML.to_bytes(4, "big"):
                _MatroskaWalk(data, pieces).run()
            elif head[:4] == b"RIFF" and head[8:12] == b"AVI ":
                _check_avi(data, pieces)


def blank_container_metadata(path: Path, max_seconds: float) -> int:
    """Blank in place the private metadata of the Matroska or AVI file at `path` (the module's docstring: what, and
    how); other files are left alone. Walked as `check_container_metadata` walks it (which it raises as). Returns how
    many elements or chunks were blanked."""
    pieces = max(MIN_PIECES, int(PIECES_PER_SECOND * max_seconds))
    with path.open("r+b") as stream:
        head = stream.read(12)
        with FileBytes(stream.fileno(), os.fstat(stream.fileno()).st_size) as data:
            if head[:4] == EBML.to_bytes(4, "big"):
                walk = _MatroskaWalk(data, pieces)
                walk.run()
                places, marker = walk.private, _void_header
            elif head[:4] == b"RIFF" and head[8:12] == b"AVI ":
                places, marker = _check_avi(data, pieces), _junk_header
            else:
                return 0
        return _blank(stream, places, marker)


def _blank(stream: BinaryIO, places: dict[int, int], marker: Callable[[int], bytes]) -> int:
    """Each place (start: end) written over by `marker(length)` and zeros, in order; one that starts inside a place
    blanked before it is left (it is zeros already)."""
    blanked, reached = 0, 0
    for start, end in sorted(places.items()):
        if start < reached or end - start < 2:
            continue
        header = marker(end - start)
        write_zeros(stream, start, end)
        stream.seek(start)
        stream.write(header)
        blanked, reached = blanked + 1, end
    return blanked


def _void_header(length: int) -> bytes:
    """The ID and size of a Void element `length` bytes long in all (at least 2): its size in 8 bytes when there is
    room, else in 1."""
    if length >= 9:
        return bytes([VOID]) + (1 << 56 | length - 9).to_bytes(8, "big")
    return bytes([VOID, 0x80 | length - 2])


def _junk_header(length: int) -> bytes:
    """The ID and size of a JUNK chunk `length` bytes long in all (its size, as the chunk's, not counting its 8-byte
    header; a list's type is zeroed with the rest)."""
    return b"JUNK" + struct.pack("<I", length - 8)


def _refuse() -> CorruptMedia:
    return CorruptMedia(Phrase(TOO_MUCH_METADATA))


def _vint(data: FileBytes, at: int, keep_marker: bool) -> tuple[int | None, int]:
    """The EBML variable-length integer at `at` (an element's ID with `keep_marker`, else its size: None for
    "unknown", all ones) and where it ends. Raises ValueError on a byte that starts none, or past the end."""
    if at >= len(data) or not data[at]:
        raise ValueError(at)
    length = 9 - data[at].bit_length()
    if at + length > len(data):
        raise ValueError(at)
    raw = data[at:at + length]
    if keep_marker:
        return int.from_bytes(raw, "big"), at + length
    value = int.from_bytes(bytes([raw[0] & (0xFF >> length)]) + raw[1:], "big")
    return (None if value == (1 << (7 * length)) - 1 else value), at + length


@dataclass
class _MatroskaWalk:
    """The walk of one file: its elements in order, never inside one of known size (skipped) but inside one of
    unknown size (the segment, a cluster written live), so every element of the segment's level is met; the
    metadata elements met, by where they start."""

    data: FileBytes
    pieces: int
    counted: dict[int, tuple[int, int]] = field(default_factory=dict)  # start: (element ID, size)
    segment_data: int = 0
    seek_targets: list[int] = field(default_factory=list)
    encoded_video: bool = False
    private: dict[int, int] = field(default_factory=dict)  # the elements `blank_container_metadata` blanks: start: end

    def run(self) -> None:
        at = 0
        for _ in range(self.pieces):
            if at >= len(self.data):
                break
            try:
                at = self._step(at)
            except ValueError:  # damage: FFmpeg goes on at the next element of the segment's level it knows
                at = self._resync(at + 1)
        else:
            raise _refuse()
        for target in self.seek_targets:
            self._count_at(target)
        self._check_totals()
        if self.encoded_video:
            raise UnsupportedMediaType(Phrase(ENCODED_FRAMES))

    def _step(self, at: int) -> int:
        element, after_id = _vint(self.data, at, True)
        size, start = _vint(self.data, after_id, False)
        if size is not None and start + size > len(self.data):
            raise ValueError(at)
        if element == SEGMENT:
            self.segment_data = start
            return start
        if element in METADATA or element == CUES:
            self._count(at, element, size, start)
        if element in (INFO, ATTACHMENTS) and size is not None:
            self._note_private(element, at, start, start + size)
        if element == SEEK_HEAD and size is not None:
            self._read_seek_head(start, start + size)
        if element == TRACKS and size is not None:
            self._check_tracks(start, start + size)
        return start if size is None else start + size

    def _children(self, at: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """The (ID, where it starts, where its payload starts, end) of each element from `at` to `end`; ValueError
        for one of unknown size or past it."""
        while at < end:
            element, after_id = _vint(self.data, at, True)
            size, start = _vint(self.data, after_id, False)
            if size is None or start + size > end:
                raise ValueError(at)
            yield element, at, start, start + size
            at = start + size

    def _note_private(self, element: int, at: int, start: int, end: int) -> None:
        """Attachments whole; of an Info, the fields that say when and with what the file was made (those read
        before any damage in it: the walk itself steps over the Info whole)."""
        if element == ATTACHMENTS:
            self.private[at] = end
            return
        try:
            for field_id, field_at, _, field_end in self._children(start, end):
                if field_id in INFO_FIELDS:
                    self.private[field_at] = field_end
        except ValueError:
            pass

    def _check_tracks(self, at: int, end: int) -> None:
        """Note a video track whose frames are compressed or stripped in the file (FFmpeg restores them as it reads:
        the bytes the size checks search, inference.frame_headers.in_band_avcc_sizes, are not the decoder's); `run`
        refuses the file for it."""
        for element, _, start, stop in self._children(at, end):
            if element != TRACK_ENTRY:
                continue
            parts = {part: (part_start, part_stop) for part, _, part_start, part_stop in self._children(start, stop)}
            codec = bytes(self.data[slice(*parts[CODEC_ID])]) if CODEC_ID in parts else b""
            self.encoded_video |= CONTENT_ENCODINGS in parts and codec.startswith(b"V_")

    def _resync(self, at: int) -> int:
        found = [place for place in (self.data.find(element.to_bytes(4, "big"), at) for element in LEVEL_ONE)
                 if place >= 0]
        return min(found, default=len(self.data))

    def _count(self, at: int, element: int, size: int | None, start: int) -> None:
        if size is None:
            raise _refuse()
        self.counted[at] = (element, size)
        if element == TAGS:
            self.private[at] = min(len(self.data), start + size)
        self._check_totals()

    def _check_totals(self) -> None:
        metadata = sum(size for element, size in self.counted.values() if element in METADATA)
        cues = sum(size for element, size in self.counted.values() if element == CUES)
        if metadata > MAX_METADATA_BYTES or cues > MAX_CUES_BYTES:
            raise _refuse()

    def _read_seek_head(self, at: int, end: int) -> None:
        """Where the seek head says the tags, chapters and cue points are (FFmpeg reads them there, wherever the walk
        would not meet them: inside a Void, past damage)."""
        for element, _, start, stop in self._children(at, end):
            if element == SEEK:
                self._read_seek(start, stop)

    def _read_seek(self, at: int, end: int) -> None:
        target = position = None
        for element, _, start, stop in self._children(at, end):
            value = int.from_bytes(self.data[start:stop], "big")
            target = value if element == SEEK_ID else target
            position = value if element == SEEK_POSITION else position
        if target in METADATA | {CUES} and position is not None:
            self.seek_targets.append(self.segment_data + position)

    def _count_at(self, at: int) -> None:
        """The metadata element the seek head points at, unless the walk counted it already."""
        if at in self.counted:
            return
        try:
            element, after_id = _vint(self.data, at, True)
            size, start = _vint(self.data, after_id, False)
        except ValueError:
            return  # nothing FFmpeg could read there either
        if element in METADATA or element == CUES:
            self._count(at, element, size, start)


def _check_avi(data: FileBytes, pieces: int) -> dict[int, int]:
    """Walk the RIFF chunks in order, inside the RIFF and LIST ones but the frames' (movi) and the INFO lists, whose
    sizes are added up; indexes (idx1, 16 bytes an entry: one a frame of each stream; OpenDML's indx) of more
    entries than `pieces` together are refused too (5 million entries in an 80 MB file: every frame shown from it
    took a second and 150 MB). Returns the private chunks met (start: end), for `blank_container_metadata`."""
    at, info, indexed, private = 12, 0, 0, {}
    for _ in range(pieces):
        if at + 12 > len(data):
            return private
        chunk, size = data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]
        kind = data[at + 8:at + 12]
        if _is_private_chunk(chunk, kind):
            private[at] = min(len(data), at + 8 + size)
        if chunk == b"LIST" and kind == b"INFO":
            info += size
            if info > MAX_METADATA_BYTES:
                raise _refuse()
        if chunk == b"idx1":
            indexed += size // AVI_INDEX_ENTRY
        elif chunk == b"indx":
            indexed += _odml_entries(data, at + 8, size, pieces)
        if indexed > pieces:
            raise _refuse()
        if chunk in (b"RIFF", b"LIST") and kind not in (b"movi", b"INFO"):
            at += 12  # its chunks follow
        else:
            at += 8 + size + (size & 1)
    raise _refuse()


def _is_private_chunk(chunk: bytes, kind: bytes) -> bool:
    """Whether a chunk (its ID, and its first 4 bytes: a list's type) holds what `blank_container_metadata` blanks."""
    return (chunk == b"LIST" and kind in AVI_PRIVATE_LISTS or chunk in AVI_PRIVATE_CHUNKS
            or chunk == b"strd" and kind == AVI_STREAM_EXIF)


def _odml_entries(data: FileBytes, body: int, size: int, pieces: int) -> int:
    """The entries an OpenDML index (indx, at `body`) lists, as FFmpeg reads them: its own (an index of chunks), or
    those of the standard indexes it points to (an index of indexes: their sizes, 8 bytes an entry)."""
    end = min(len(data), body + size)
    if body + ODML_HEADER > end:
        return 0
    _longs_per_entry, _sub_type, index_type, in_use = struct.unpack("<HBBI", data[body:body + 8])
    if index_type != ODML_INDEX_OF_INDEXES or in_use > pieces:
        return in_use
    entries = 0
    for entry in range(body + ODML_HEADER, min(end, body + ODML_HEADER + ODML_SUPER_ENTRY * in_use) - 15,
                       ODML_SUPER_ENTRY):
        entries += struct.unpack("<I", data[entry + 8:entry + 12])[0] // ODML_STANDARD_ENTRY
    return entries

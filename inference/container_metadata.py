"""A Matroska (MKV, WebM) or AVI file's metadata, sized before FFmpeg opens the file.

FFmpeg reads every tag, chapter and cue point of a file when it opens it, at a cost that grows with the square of
their number: 80,000 tags in a 1.4 MB MKV took 45 s of CPU at each opening, 500,000 cue points in reverse order
90 s, and an AVI's 60,000 INFO entries 15 s (OpenCV's timeout cannot stop it); an AVI's index of 5 million
entries cost a second and 150 MB at every opening. So the elements that hold them are found first, as FFmpeg finds
them (in order, where the seek head points, and after a damaged stretch at the next element it knows), their sizes
added up as they are met (nothing inside is read), and a file whose metadata is far larger than a video's is
refused, as is one that takes more pieces to walk (elements, and the children of those read) than a video of the
longest length has. MP4 and MOV have their own check (inference/movie_index.py).

The same walk finds what a file says about where, when and with what it was made, for `blank_container_metadata`
to blank in the stored file, in place as an MP4's is (inference/movie_metadata.py): a Matroska file's tags (title,
comment, location, dates), chapters (their titles), attachments (a cover picture), its Info's title, date, writing
applications and file names, and its tracks' names become Void elements of the same size; an AVI's INFO, `exif` and
Nikon `ncdt` lists, its `IDIT` date and its streams' names (`strn`) become JUNK chunks. No byte moves, and nothing
that may hold a frame is written: only what the walk meets in order before any damage, whose size ends where the
next element starts or a list's chunks end (a crafted or cut-short file's bytes may look like an element where
FFmpeg reads frames). A stream's data (`strd`) stays, EXIF or not: FFmpeg takes it as the codec's extra data.
"""

from __future__ import annotations

import os
import re
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from inference.errors import CorruptMedia, MediaError, UnsupportedMediaType
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
CLUSTER, INFO, ATTACHMENTS, VOID = 0x1F43B675, 0x1549A966, 0x1941A469, 0xEC
ENCODED_FRAMES = N_("The video's frames are compressed inside the file (a Matroska content encoding), which cannot be "
                    "checked before decoding; save it again without it (as MP4, say).")
# The elements of a segment's level FFmpeg looks for when it resynchronises after damage
LEVEL_ONE = (CLUSTER, CUES, TAGS, CHAPTERS, ATTACHMENTS, SEEK_HEAD, INFO, TRACKS)
LEVEL_ONE_PATTERN = re.compile(b"|".join(re.escape(element.to_bytes(4, "big")) for element in LEVEL_ONE))
FOLLOWERS = frozenset({*LEVEL_ONE, VOID, SEGMENT, EBML})  # what may follow an element blanked whole or in part
# What blank_container_metadata blanks: tags, chapters (their titles) and attachments (a cover picture) whole; of
# the Info, the title, date, writing applications and file names (its other fields time the frames); a track's name
PRIVATE_ELEMENTS = frozenset({TAGS, CHAPTERS, ATTACHMENTS})
PRIVATE_FIELDS = {INFO: frozenset({0x7BA9, 0x4461, 0x4D80, 0x5741, 0x7384, 0x3C83AB, 0x3E83BB}),
                  TRACKS: frozenset(), TRACK_ENTRY: frozenset({0x536E})}
HOLDING_FIELDS = {TRACKS: TRACK_ENTRY}  # the one child of an element whose own fields are looked at (one level)
AVI_PRIVATE_LISTS = {b"INFO", b"exif", b"ncdt"}  # a camera's make, model, dates and settings
AVI_PRIVATE_CHUNKS = {b"IDIT", b"strn"}  # the date and time it was filmed; a stream's name
AVI_TEXT_LONGEST = 1024  # bytes of such a chunk read as text (a camera's are some dozens)


def check_container_metadata(path: Path, max_seconds: float) -> None:
    """Raise CorruptMedia(TOO_MUCH_METADATA) for a Matroska or AVI file whose tags and chapters (INFO lists) or cue
    points are more than MAX_METADATA_BYTES or MAX_CUES_BYTES, or that takes more than PIECES_PER_SECOND pieces a
    second of `max_seconds` to walk; other files pass."""
    with path.open("rb") as stream:
        _walk(stream, max_seconds)


def blank_container_metadata(path: Path, max_seconds: float) -> int:
    """Blank in place the private metadata of the Matroska or AVI file at `path` (the module's docstring: what, and
    how); other files are left alone. Walked as `check_container_metadata` walks it (which it raises as). Returns how
    many elements or chunks were blanked."""
    with path.open("r+b") as stream:
        return _blank(stream, *_walk(stream, max_seconds))


def _walk(stream: BinaryIO, max_seconds: float) -> tuple[dict[int, int], Callable[[int], bytes]]:
    """Walk the file open in `stream` as its container is walked (raising as `check_container_metadata` says): the
    private places met (start: end), and how one is marked once blanked; none for a file of another kind."""
    pieces = max(MIN_PIECES, int(PIECES_PER_SECOND * max_seconds))
    head = stream.read(12)
    if len(head) < 12:
        return {}, _void_header
    with FileBytes(stream.fileno(), os.fstat(stream.fileno()).st_size) as data:
        if head[:4] == EBML.to_bytes(4, "big"):
            walk = _MatroskaWalk(data, pieces)
            walk.run()
            return walk.private, _void_header
        if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
            return _check_avi(data, pieces), _junk_header
    return {}, _void_header


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
    metadata elements met, by where they start. Each element and each child read is a piece of `pieces`.

    What `blank_container_metadata` may blank (`private`) is only what the orderly walk met before any damage, in an
    element followed by an element of the segment's level or the file's end (`_trusted`): an element whose size runs
    into the frames, one the seek head alone points at, or anything found by searching after damage (inside frames
    cut short, bytes may look like an element) is counted but never written over."""

    data: FileBytes
    pieces: int
    counted: dict[int, tuple[int, int]] = field(default_factory=dict)  # start: (element ID, size)
    metadata_bytes: int = 0  # the sizes of the tags and chapters counted, and of the cue points
    cue_bytes: int = 0
    segment_data: int = 0
    seek_targets: list[int] = field(default_factory=list)
    encoded_video: bool = False
    damaged: bool = False
    spent: int = 0
    private: dict[int, int] = field(default_factory=dict)  # the elements `blank_container_metadata` blanks: start: end

    def run(self) -> None:
        at = 0
        while at < len(self.data):
            self._spend()
            try:
                at = self._step(at)
            except MediaError:  # a refusal (a ValueError too)
                raise
            except ValueError:  # damage: FFmpeg goes on at the next element of the segment's level it knows
                self.damaged = True
                at = self._resync(at + 1)
        for target in self.seek_targets:
            self._count_at(target)
        if self.encoded_video:
            raise UnsupportedMediaType(Phrase(ENCODED_FRAMES))

    def _spend(self) -> None:
        self.spent += 1
        if self.spent > self.pieces:
            raise _refuse()

    def _step(self, at: int) -> int:
        element, after_id = _vint(self.data, at, True)
        size, start = _vint(self.data, after_id, False)
        if size is not None and start + size > len(self.data):
            raise ValueError(at)
        if element == SEGMENT:
            self.segment_data = start
            return start
        if element in METADATA or element == CUES:
            self._count(at, element, size)
        if size is not None:
            self._read_known(element, at, start, start + size)
        return start if size is None else start + size

    def _read_known(self, element: int, at: int, start: int, end: int) -> None:
        """What an element of known size holds that the walk reads: the seek head's targets, the tracks' coding,
        and the private elements and fields (when they can be trusted)."""
        if element == SEEK_HEAD:
            self._read_seek_head(start, end)
        if element == TRACKS:
            self._check_tracks(start, end)
        if not self._trusted(end):
            return
        if element in PRIVATE_ELEMENTS:
            self.private[at] = end
        elif element in PRIVATE_FIELDS:
            self.private.update(self._fields(element, start, end))

    def _trusted(self, end: int) -> bool:
        """Whether an element met now, ending at `end`, may be blanked: no damage met before, and at its end the
        file ends or an element of the segment's level starts."""
        if self.damaged:
            return False
        try:
            return end == len(self.data) or _vint(self.data, end, True)[0] in FOLLOWERS
        except ValueError:
            return False

    def _fields(self, holder: int, at: int, end: int) -> dict[int, int]:
        """The (start: end) of the private fields (PRIVATE_FIELDS) among the children of the `holder` element whose
        payload is [at, end), and among those of the child it holds them in (HOLDING_FIELDS: a track entry's name,
        in the tracks); none when its children do not fill it exactly."""
        found = {}
        try:
            for element, element_at, start, stop in self._children(at, end):
                if element in PRIVATE_FIELDS[holder]:
                    found[element_at] = stop
                elif element == HOLDING_FIELDS.get(holder):
                    found.update(self._fields(element, start, stop))
        except MediaError:
            raise
        except ValueError:
            return {}
        return found

    def _children(self, at: int, end: int) -> Iterator[tuple[int, int, int, int]]:
        """The (ID, where it starts, where its payload starts, end) of each element from `at` to `end`, each a piece;
        ValueError for one of unknown size or past it."""
        while at < end:
            self._spend()
            element, after_id = _vint(self.data, at, True)
            size, start = _vint(self.data, after_id, False)
            if size is None or start + size > end:
                raise ValueError(at)
            yield element, at, start, start + size
            at = start + size

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
        """Where the next element of the segment's level starts, searched for all of them in one pass."""
        found = self.data.search(LEVEL_ONE_PATTERN, at, 4)
        return len(self.data) if found < 0 else found

    def _count(self, at: int, element: int, size: int | None) -> None:
        if size is None:
            raise _refuse()
        if at in self.counted:
            return
        self.counted[at] = (element, size)
        if element == CUES:
            self.cue_bytes += size
        else:
            self.metadata_bytes += size
        if self.metadata_bytes > MAX_METADATA_BYTES or self.cue_bytes > MAX_CUES_BYTES:
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
        """The metadata element the seek head points at, unless the walk counted it already (counted, never
        blanked: the seek head alone may point into the frames)."""
        try:
            element, after_id = _vint(self.data, at, True)
            size, _ = _vint(self.data, after_id, False)
        except ValueError:
            return  # nothing FFmpeg could read there either
        if element in METADATA or element == CUES:
            self._count(at, element, size)


def _check_avi(data: FileBytes, pieces: int) -> dict[int, int]:
    """Walk the RIFF chunks in order, inside the RIFF and LIST ones but the frames' (movi) and the INFO lists, whose
    sizes are added up; indexes (idx1, 16 bytes an entry: one a frame of each stream; OpenDML's indx) of more
    entries than `pieces` together are refused too (5 million entries in an 80 MB file: every frame shown from it
    took a second and 150 MB). Returns the private chunks met (start: end) that lie within the list holding them,
    for `blank_container_metadata`."""
    at, info, indexed, private, parents = 12, 0, 0, {}, [len(data)]
    for _ in range(pieces):
        while len(parents) > 1 and at >= parents[-1]:
            parents.pop()
        if at + 12 > len(data):
            return private
        chunk, size = _chunk_header(data, at)
        kind = data[at + 8:at + 12]
        if _is_private_chunk(data, at, chunk, kind, size, parents[-1]):
            private[at] = at + 8 + size
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
            parents.append(at + 8 + size)
            at += 12  # its chunks follow
        else:
            at += 8 + size + (size & 1)
    raise _refuse()


def _chunk_header(data: FileBytes, at: int) -> tuple[bytes, int]:
    """The ID and size of the RIFF chunk at `at`."""
    return data[at:at + 4], struct.unpack("<I", data[at + 4:at + 8])[0]


def _is_private_chunk(data: FileBytes, at: int, chunk: bytes, kind: bytes, size: int, parent_end: int) -> bool:
    """Whether the chunk at `at` (its ID, its first 4 bytes: a list's type, its size) holds what
    `blank_container_metadata` blanks, and may be blanked: no larger than a camera writes it, within the list that
    holds it (FFmpeg reads no further), and, for a list, filled exactly by its chunks (else its size may run into the
    frames)."""
    if at + 8 + size > parent_end or size > MAX_METADATA_BYTES:
        return False
    if chunk == b"LIST" and kind in AVI_PRIVATE_LISTS:
        return _filled_by_chunks(data, at + 12, at + 8 + size)
    return chunk in AVI_PRIVATE_CHUNKS and size <= AVI_TEXT_LONGEST and _is_text(data[at + 8:at + 8 + size])


def _is_text(payload: bytes) -> bool:
    """Whether a chunk holds text, as a date or a name is written (UTF-8, ended by NULs), not a frame's bytes."""
    try:
        text = payload.rstrip(b"\0").decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(char.isprintable() or char in "\r\n\t" for char in text)


def _filled_by_chunks(data: FileBytes, at: int, end: int) -> bool:
    """Whether RIFF chunks (a printable ID, a size, the data padded to an even length) fill [at, end) exactly."""
    while at + 8 <= end:
        chunk, size = _chunk_header(data, at)
        if not all(0x20 <= byte < 0x7F for byte in chunk):
            return False
        at += 8 + size + (size & 1)
    return at in (end, end + 1)  # the last chunk's padding byte may lie past a list whose size leaves it out


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

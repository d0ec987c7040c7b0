"""Where a track's samples lie in an MP4 or MOV file, read from its sample table: the chunk offsets (`stco`,
`co64`), how many samples each chunk holds (`stsc`) and their sizes (`stsz`). Every count is bounded by the entries
its box holds, and the whole is worked out with numpy: a crafted table of millions of entries costs milliseconds,
not a Python step an entry (movie_metadata.py reads the tables of every track of an upload).
"""

from __future__ import annotations

import numpy as np

from inference.movie_index import child_boxes

EMPTY = np.zeros(0, np.uint64)
# Entries read of one table: a 120 s video's tracks have some thousands of chunks (a 16 MB index could list 4 million:
# the arrays worked out from them took 200 MB); past this a crafted table is read as far as this.
MAX_ENTRIES = 250_000


def child(payload: memoryview | None, kind: bytes) -> memoryview | None:
    """The payload of the first child box of that type, None without one (or without a parent)."""
    if payload is None:
        return None
    return next((found_payload for found, found_payload in child_boxes(payload) if found == kind), None)


def chunk_spans(sample_table: memoryview) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) in the file of each chunk of the track's samples, as uint64 arrays; a chunk whose samples'
    sizes are not known (a compact `stz2` table) ends where it starts."""
    starts = _chunk_offsets(sample_table)
    per_chunk = _samples_per_chunk(sample_table, len(starts))
    first_sample = np.cumsum(per_chunk, dtype=np.uint64) - per_chunk
    return starts, starts + _bytes_of_samples(sample_table, first_sample, first_sample + per_chunk)


def sample_format(sample_table: memoryview) -> bytes:
    """The format of the track's first sample description (`avc1`, `mp4a`, `tx3g`, `gpmd`...), b"" without one."""
    descriptions = child(sample_table, b"stsd")
    return bytes(descriptions[12:16]) if descriptions is not None and len(descriptions) >= 16 else b""


def _chunk_offsets(sample_table: memoryview) -> np.ndarray:
    wide = child(sample_table, b"co64")
    if wide is not None:
        return _entries(wide, 4, ">u8")
    return _entries(child(sample_table, b"stco"), 4, ">u4")


def _samples_per_chunk(sample_table: memoryview, chunks: int) -> np.ndarray:
    """How many samples each of the `chunks` chunks holds: the sample-to-chunk runs (first chunk, samples per chunk,
    description) read in order, a run starting before the one before it read as starting with it."""
    runs = _entries(child(sample_table, b"stsc"), 4, ">u4", width=3).reshape(-1, 3)
    if not len(runs):
        return np.zeros(chunks, np.uint64)
    firsts = np.maximum.accumulate(runs[:, 0])
    run_of_chunk = np.searchsorted(firsts, np.arange(1, chunks + 1, dtype=np.uint64), side="right").astype(np.int64) - 1
    return np.where(run_of_chunk >= 0, runs[np.maximum(run_of_chunk, 0), 1], 0).astype(np.uint64)


def _bytes_of_samples(sample_table: memoryview, first: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """The bytes of samples first..stop-1 for each pair, from the sample sizes (the samples past the table: none)."""
    sizes = child(sample_table, b"stsz")
    if sizes is None or len(sizes) < 12:
        return np.zeros(len(first), np.uint64)
    common, count = int.from_bytes(sizes[4:8], "big"), np.uint64(int.from_bytes(sizes[8:12], "big"))
    if common:
        return (np.minimum(stop, count) - np.minimum(first, count)) * np.uint64(common)
    each = _entries(sizes, 8, ">u4")
    cumulative = np.concatenate((np.zeros(1, np.uint64), np.cumsum(each, dtype=np.uint64)))
    last = np.uint64(len(each))
    return cumulative[np.minimum(stop, last)] - cumulative[np.minimum(first, last)]


def _entries(box: memoryview | None, count_at: int, dtype: str, width: int = 1) -> np.ndarray:
    """A full box's table as uint64: the count at `count_at`, then the entries (of `width` numbers each), as many as
    the box holds, at most MAX_ENTRIES."""
    if box is None or len(box) < count_at + 4:
        return EMPTY
    entry_size = np.dtype(dtype).itemsize * width
    count = min(int.from_bytes(box[count_at:count_at + 4], "big"), (len(box) - count_at - 4) // entry_size,
                MAX_ENTRIES)
    return np.frombuffer(box, dtype, count * width, count_at + 4).astype(np.uint64)

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
    """The chunk offsets of the first `stco` or `co64` box (as FFmpeg reads them: whichever comes first)."""
    found = next(((kind, payload) for kind, payload in child_boxes(sample_table) if kind in (b"stco", b"co64")), None)
    if found is None:
        return EMPTY
    return _entries(found[1], 4, ">u8" if found[0] == b"co64" else ">u4")


def _samples_per_chunk(sample_table: memoryview, chunks: int) -> np.ndarray:
    """How many samples each of the `chunks` chunks holds: the sample-to-chunk runs (first chunk, samples per chunk,
    description) read in order, a run starting before the one before it read as starting with it, at least one."""
    runs = _entries(child(sample_table, b"stsc"), 4, ">u4", width=3).reshape(-1, 3)
    if not len(runs):
        return np.zeros(chunks, np.uint64)
    firsts = np.maximum.accumulate(runs[:, 0])
    run_of_chunk = np.searchsorted(firsts, np.arange(1, chunks + 1, dtype=np.uint64), side="right").astype(np.int64) - 1
    per_chunk = runs[np.maximum(run_of_chunk, 0), 1]
    return np.where(run_of_chunk >= 0, np.maximum(per_chunk, 1), 0).astype(np.uint64)  # FFmpeg reads 0 as 1


def _bytes_of_samples(sample_table: memoryview, first: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """The bytes of samples first..stop-1 for each pair, from the sample sizes (the samples past the table: none)."""
    sizes = child(sample_table, b"stsz")
    if sizes is None or len(sizes) < 12:
        return _compact_bytes_of_samples(child(sample_table, b"stz2"), first, stop)
    common, count = int.from_bytes(sizes[4:8], "big"), np.uint64(int.from_bytes(sizes[8:12], "big"))
    if common:
        return (np.minimum(stop, count) - np.minimum(first, count)) * np.uint64(common)
    return _summed(_entries(sizes, 8, ">u4"), first, stop)


def _compact_bytes_of_samples(sizes: memoryview | None, first: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """The same from a compact sample size box (`stz2`: sizes of 4, 8 or 16 bits); none without one."""
    if sizes is None or len(sizes) < 12 or sizes[7] not in (4, 8, 16):
        return np.zeros(len(first), np.uint64)
    bits = sizes[7]
    wanted = min(int.from_bytes(sizes[8:12], "big"), MAX_ENTRIES)
    available = (len(sizes) - 12) * 8 // bits
    packed = np.frombuffer(sizes, ">u2" if bits == 16 else "u1", (len(sizes) - 12) // (2 if bits == 16 else 1), 12)
    each = packed if bits != 4 else np.stack((packed >> 4, packed & 15), axis=1).reshape(-1)
    return _summed(each[:min(wanted, available)].astype(np.uint64), first, stop)


def _summed(each: np.ndarray, first: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """The sums of `each` over first..stop-1 for each pair (past its end: nothing)."""
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

"""A stored file's bytes, read as `bytes` are (an index, a slice, `find`, its length) and searched window by window,
through small mappings of it, never the whole file at once.

The video checks walk a Matroska or AVI file's elements (inference.container_metadata) and search an H.264 file for
parameter sets sent as packets (inference.frame_headers.in_band_avcc_sizes) in a child whose memory and address
space have a ceiling (inference.video_check). The whole file mapped counted against it: its pages, once read, as
resident memory, and its length as address space, so a 4K H.264 clip over about 250 MB was refused as taking "more
memory to open", any file over 448 MB too, and one over 1 GB could not be mapped at all.
"""

from __future__ import annotations

import mmap
import os
import re
from collections.abc import Iterator
from typing import BinaryIO

ACCESS_WINDOW = 1 << 20  # the part of the file mapped for reading elements and fields (a multiple of the granularity)
SEARCH_WINDOW = 16 << 20  # the part mapped at a time for a search
ZEROS = bytes(2**20)  # written a megabyte at a time (write_zeros)


class FileBytes:
    """The bytes of the open file `descriptor` (`size` of them). Indexes and slices read through one mapped window
    of ACCESS_WINDOW bytes, moved as reading moves; a slice longer than that is read with pread."""

    def __init__(self, descriptor: int, size: int) -> None:
        self.descriptor, self.size = descriptor, size
        self._window: mmap.mmap | None = None
        self._window_start = 0

    def __enter__(self) -> FileBytes:
        return self

    def __exit__(self, *exception: object) -> None:
        if self._window is not None:
            self._window.close()
            self._window = None

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, slice):
            start, stop, step = key.indices(self.size)
            if step != 1:
                raise ValueError("only contiguous slices are read")
            return self._read(start, max(start, stop))
        index = key + self.size if key < 0 else key
        if not 0 <= index < self.size:
            raise IndexError(key)
        return self._read(index, index + 1)[0]

    def find(self, needle: bytes, start: int = 0) -> int:
        """Where `needle` first starts at or after `start`, or -1 (as bytes.find)."""
        for window_start, window, searched_end in self.windows(len(needle) - 1, start):
            found = window.find(needle, max(0, start - window_start), searched_end + len(needle) - 1)
            if found >= 0:
                return window_start + found
        return -1

    def search(self, pattern: re.Pattern[bytes], start: int, longest: int) -> int:
        """Where the first match of `pattern` (matches of at most `longest` bytes) starts at or after `start`, or -1:
        several needles looked for in one pass over the file, not one pass each."""
        for window_start, window, searched_end in self.windows(longest - 1, start):
            found = pattern.search(window, max(0, start - window_start), searched_end + longest - 1)
            if found:
                return window_start + found.start()
        return -1

    def windows(self, overlap: int, start: int = 0) -> Iterator[tuple[int, mmap.mmap, int]]:
        """The file from `start` (rounded down to the mapping granularity) in mapped windows of SEARCH_WINDOW bytes
        and `overlap` more: (where the window starts in the file, its bytes, the end of what it searches, relative
        to it). A match of at most overlap + 1 bytes that starts before that end is whole in the window; the next
        window starts there. Each window is unmapped once the next is asked for."""
        window_start = start - start % mmap.ALLOCATIONGRANULARITY
        while window_start < self.size:
            length = min(SEARCH_WINDOW + overlap, self.size - window_start)
            with mmap.mmap(self.descriptor, length, access=mmap.ACCESS_READ, offset=window_start) as window:
                searched_end = length if window_start + length == self.size else SEARCH_WINDOW
                yield window_start, window, searched_end
            window_start += SEARCH_WINDOW

    def _read(self, start: int, stop: int) -> bytes:
        if stop <= start:
            return b""
        if stop - start > ACCESS_WINDOW:
            return os.pread(self.descriptor, stop - start, start)
        window = self._window_over(start, stop)
        return window[start - self._window_start:stop - self._window_start]

    def _window_over(self, start: int, stop: int) -> mmap.mmap:
        """The access window, moved to start where `start` falls when [start, stop) lies outside it."""
        if self._window is None or not (self._window_start <= start and stop <= self._window_start + len(self._window)):
            if self._window is not None:
                self._window.close()
            self._window_start = start - start % mmap.ALLOCATIONGRANULARITY
            length = min(2 * ACCESS_WINDOW, self.size - self._window_start)
            self._window = mmap.mmap(self.descriptor, length, access=mmap.ACCESS_READ, offset=self._window_start)
        return self._window


def write_zeros(stream: BinaryIO, start: int, end: int) -> None:
    """Zeros written over [start, end) of the file open in `stream`, a megabyte at a time (metadata blanked in place:
    movie_metadata, container_metadata)."""
    stream.seek(start)
    for at in range(start, end, len(ZEROS)):
        stream.write(ZEROS[:min(len(ZEROS), end - at)])

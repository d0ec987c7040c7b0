"""A stored file read as bytes through small windows (inference/file_bytes.py): the same answers as the bytes
themselves, across the windows' edges, and the video checks no longer hold a whole file in memory."""

from __future__ import annotations

import mmap
from collections.abc import Iterator
from contextlib import contextmanager
import random
import re
import subprocess
import sys
from pathlib import Path

import pytest

from inference import file_bytes
from inference.file_bytes import FileBytes
from inference.frame_headers import in_band_avcc_sizes
from tests.test_frame_headers import h264_sps, length_prefixed

PAGE = mmap.ALLOCATIONGRANULARITY


@pytest.fixture()
def small_windows(monkeypatch):
    """Windows of one page, so that a few pages of bytes cross many of their edges."""
    monkeypatch.setattr(file_bytes, "SEARCH_WINDOW", PAGE)
    monkeypatch.setattr(file_bytes, "ACCESS_WINDOW", PAGE)


@contextmanager
def read_as_file_bytes(tmp_path: Path, content: bytes) -> Iterator[FileBytes]:
    path = tmp_path / "file.bin"
    path.write_bytes(content)
    with path.open("rb") as stream, FileBytes(stream.fileno(), len(content)) as data:
        yield data


def test_indexes_slices_and_searches_answer_as_the_bytes_do(tmp_path, small_windows):
    content = random.Random(7).randbytes(5 * PAGE + 123)
    needle = content[2 * PAGE - 3:2 * PAGE + 5]  # across a window's edge
    with read_as_file_bytes(tmp_path, content) as data:
        assert len(data) == len(content)
        for index in (0, PAGE - 1, PAGE, 3 * PAGE + 7, len(content) - 1, -1):
            assert data[index] == content[index]
        for start, stop in ((0, 10), (PAGE - 4, PAGE + 4), (10, 3 * PAGE), (len(content) - 5, len(content) + 50),
                            (len(content), len(content) + 1), (200, 100)):
            assert data[start:stop] == content[start:stop]
        for start in (0, 2 * PAGE - 3, 2 * PAGE - 2, 4 * PAGE):
            assert data.find(needle, start) == content.find(needle, start)
        assert data.find(b"\x00never there\x00") == -1
        with pytest.raises(IndexError):
            data.__getitem__(len(content))


def test_a_search_for_several_needles_finds_the_first_as_the_bytes_do(tmp_path, small_windows):
    """FileBytes.search (a Matroska walk's resync: the segment level's eight IDs in one pass) answers as the
    earliest of bytes.find's for each needle, across windows' edges too."""
    needles = [b"\x1f\x43\xb6\x75", b"\x12\x54\xc3\x67", b"\x15\x49\xa9\x66"]
    pattern = re.compile(b"|".join(re.escape(needle) for needle in needles))
    generator = random.Random(11)
    content = bytearray(generator.randbytes(6 * PAGE))
    for place in (PAGE - 2, 2 * PAGE - 1, 3 * PAGE, 4 * PAGE - 3, 5 * PAGE + 9):
        content[place:place + 4] = generator.choice(needles)
    with read_as_file_bytes(tmp_path, bytes(content)) as data:
        for start in [0, *range(PAGE - 4, PAGE + 2), 2 * PAGE - 2, 3 * PAGE + 1, 5 * PAGE + 10, len(content)]:
            found = [place for place in (content.find(needle, start) for needle in needles) if place >= 0]
            assert data.search(pattern, start, 4) == min(found, default=-1), start


def test_an_avcc_record_across_a_windows_edge_is_found_as_in_the_whole_bytes(tmp_path, small_windows):
    record = b"\x01\x42\x00\x0a\xff\xe1" + length_prefixed(b"\x67" + h264_sps(1000, 1000).payload()) + b"\x01" + \
        length_prefixed(b"\x68\xce\x38\x80")
    for before in (PAGE - 4, PAGE - 9, PAGE - 8, 3 * PAGE - 1):
        content = bytes(before) + record + bytes(PAGE)
        with read_as_file_bytes(tmp_path, content) as data:
            assert list(in_band_avcc_sizes(data)) == list(in_band_avcc_sizes(content)) == [(16000, 16000)]


SEARCHED_IN_A_CHILD = """
import sys
from pathlib import Path
from inference import file_bytes
from inference.container_metadata import check_container_metadata
from inference.child import status_bytes
from inference.video_check import _in_band_record_sizes
file_bytes.SEARCH_WINDOW = 1 << 20
resident, address_space = status_bytes("VmRSS"), status_bytes("VmSize")
list(_in_band_record_sizes(Path(sys.argv[1])))
check_container_metadata(Path(sys.argv[1]), 120.0)  # a Matroska header, then nothing it knows: searched to the end
print((status_bytes("VmHWM") - resident) >> 20, (status_bytes("VmPeak") - address_space) >> 20)
"""


def test_searching_a_large_file_holds_a_window_of_it_not_the_whole_file(tmp_path):
    """The whole file mapped counted against the check's ceiling: a 289 MB 1080p H.264 clip was refused as taking
    "more memory to open" (+289 MB), and a 1.4 GB one could not be mapped at all."""
    path = tmp_path / "large.mkv"
    with path.open("wb") as stream:
        stream.write(b"\x1a\x45\xdf\xa3" + bytes(8))
        stream.truncate(96 << 20)  # sparse: read back as zeros
    grown = subprocess.run([sys.executable, "-c", SEARCHED_IN_A_CHILD, str(path)], capture_output=True, text=True,
                           check=True, cwd=Path(__file__).resolve().parents[1]).stdout.split()
    resident_mb, address_space_mb = map(int, grown)
    assert resident_mb < 24 and address_space_mb < 24

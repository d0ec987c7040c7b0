"""Matroska and AVI files whose tags, chapters or cue points cost FFmpeg minutes to open are refused before it
opens them (inference/container_metadata.py); the videos the suite uploads pass."""

from __future__ import annotations

import struct

import pytest

from inference.container_metadata import (MAX_CUES_BYTES, MAX_METADATA_BYTES, MIN_PIECES, blank_container_metadata,
                                          check_container_metadata)
from inference.errors import CorruptMedia
from tests.conftest import DATA, upload, upload_files

UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def element(element_id: int, payload: bytes) -> bytes:
    """An EBML element: its ID, its size (8 bytes), its payload."""
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + (0x01 << 56 | len(payload)).to_bytes(
        8, "big") + payload


def matroska(*parts: bytes, segment_known: bool = False) -> bytes:
    """An EBML header, then a segment (of unknown size, as a live recording writes it) holding `parts`."""
    body = b"".join(parts)
    header = element(0x1A45DFA3, element(0x4282, b"matroska"))
    return header + (element(0x18538067, body) if segment_known else b"\x18\x53\x80\x67" + UNKNOWN_SIZE + body)


def tags(count: int) -> bytes:
    return element(0x1254C367, b"".join(element(0x7373, element(0x67C8, element(0x45A3, b"T%07d" % n)))
                                        for n in range(count)))


def cues(count: int) -> bytes:
    return element(0x1C53BB6B, b"".join(element(0xBB, element(0xB3, n.to_bytes(4, "big"))) for n in range(count)))


def seek_head(tags_at: int) -> bytes:
    """A seek head that says the tags are `tags_at` bytes into the segment's data."""
    return element(0x114D9B74, element(0x4DBB, element(0x53AB, (0x1254C367).to_bytes(4, "big"))
                                       + element(0x53AC, tags_at.to_bytes(2, "big"))))


def cluster(frames: int, known: bool = True) -> bytes:
    blocks = b"".join(element(0xA3, b"\x81\x00\x00\x80" + b"\xff" * 40) for _ in range(frames))
    return element(0x1F43B675, blocks) if known else b"\x1f\x43\xb6\x75" + UNKNOWN_SIZE + blocks


def avi(info_entries: int, lists: int = 1, index_entries: int = 0, odml: bytes = b"") -> bytes:
    """An AVI with `lists` INFO lists of `info_entries` entries each, an OpenDML index (`odml`, an indx chunk's
    body) in its stream's header list, then its frames, then an index (idx1) of `index_entries` entries (none: no
    index)."""
    info = b"INFO" + b"".join(struct.pack("<4sI", b"I%03d" % (n % 1000), 2) + b"v\x00" for n in range(info_entries))
    strl = b"strl" + (b"indx" + struct.pack("<I", len(odml)) + odml if odml else b"")
    movi = b"movi" + struct.pack("<4sI", b"00dc", 4) + b"\x00" * 4
    chunks = (b"LIST" + struct.pack("<I", len(info)) + info) * lists + b"LIST" + struct.pack("<I", len(strl)) + strl \
        + b"LIST" + struct.pack("<I", len(movi)) + movi
    if index_entries:
        chunks += b"idx1" + struct.pack("<I", 16 * index_entries) + struct.pack("<4sIII", b"00dc", 16, 4, 4) * \
            index_entries
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"AVI " + chunks


def odml_index(index_type: int, entries: int, each_size: int = 0) -> bytes:
    """An OpenDML indx body: `entries` in use; an index of indexes (type 0) lists that many standard indexes of
    `each_size` bytes (8 an entry), an index of chunks (type 1) only says how many it has."""
    listed = struct.pack("<QII", 0, each_size, 0) * entries if index_type == 0 else b""
    return struct.pack("<HBBI4s12x", 4, 0, index_type, entries, b"00dc") + listed


@pytest.mark.parametrize("name, content", [
    ("tags", matroska(cluster(3), tags(MAX_METADATA_BYTES // 20))),
    ("tags after a cluster of unknown size", matroska(cluster(3, known=False), tags(MAX_METADATA_BYTES // 20))),
    ("cue points", matroska(cues(MAX_CUES_BYTES // 20), cluster(3), segment_known=True)),
    ("an AVI's INFO list", avi(MAX_METADATA_BYTES // 8)),
    ("an AVI's INFO lists together", avi(MAX_METADATA_BYTES // 80, lists=12)),
    ("an AVI's index of more entries than a video's frames", avi(20, index_entries=MIN_PIECES + 1)),
    ("an AVI's OpenDML index of chunks", avi(20, odml=odml_index(1, MIN_PIECES + 1))),
    ("an AVI's OpenDML index of indexes", avi(20, odml=odml_index(0, 2, 8 * MIN_PIECES))),
    ("tags after a byte that starts no element", matroska(cluster(3), b"\x00", tags(MAX_METADATA_BYTES // 20))),
    ("tags after an element larger than the file", matroska(b"\xec\x01\x00\x00\x00\x7f\xff\xff\xff", cluster(1),
                                                            tags(MAX_METADATA_BYTES // 20))),
    ("tags inside a Void where the seek head points", matroska(
        seek_head(len(seek_head(0)) + 9), element(0xEC, tags(MAX_METADATA_BYTES // 20)), cluster(3),
        segment_known=True)),
])
def test_metadata_far_larger_than_a_videos_is_refused_before_ffmpeg_reads_it(tmp_path, name, content):
    path = tmp_path / "video"
    path.write_bytes(content)
    with pytest.raises(CorruptMedia, match="tags, chapters or index are far larger than a video"):
        check_container_metadata(path, 120)


def test_a_videos_own_metadata_passes(tmp_path):
    for path in [*DATA.glob("*.mkv"), *DATA.glob("*.webm"), *DATA.glob("*.avi")]:
        check_container_metadata(path, 120)
    few = tmp_path / "few.mkv"
    few.write_bytes(matroska(cues(100), tags(50), cluster(3, known=False), cluster(3)))
    check_container_metadata(few, 120)
    (tmp_path / "info.avi").write_bytes(avi(20, index_entries=3_600, odml=odml_index(0, 2, 8 * 1_800)))  # 2 min, 30 fps
    check_container_metadata(tmp_path / "info.avi", 120)


def test_an_upload_with_such_metadata_is_a_400_that_keeps_nothing(app, client, alice):
    answer = upload(client, matroska(cluster(3), tags(MAX_METADATA_BYTES // 20)), "concert.mkv")
    assert answer.status_code == 400 and "far larger than a video" in answer.get_data(as_text=True)
    assert upload_files(app) == []


def blanked(tmp_path, content: bytes) -> tuple[int, bytes]:
    """`blank_container_metadata` on a file of `content`: how many places it blanked, and the file's bytes after."""
    path = tmp_path / "video"
    path.write_bytes(content)
    return blank_container_metadata(path, 120), path.read_bytes()


def sized(element_id: int, payload: bytes, size: int) -> bytes:
    """An element whose size field says `size`, whatever its payload."""
    return element_id.to_bytes(4, "big") + (0x01 << 56 | size).to_bytes(8, "big") + payload


def test_tags_met_in_order_are_blanked_and_those_that_may_cover_frames_are_not(tmp_path):
    """Only what the walk meets in order, before any damage, and followed by an element of the segment's level, is
    written over: a probe's Tags whose size ran into the next cluster had that cluster's header zeroed, and a file
    cut short had bytes in its last frames that looked like an Attachments element blanked."""
    count, after = blanked(tmp_path, matroska(tags(3), cluster(3)))
    assert count == 1 and b"T0000001" not in after
    overrun = matroska(sized(0x1254C367, tags(3)[12:], len(tags(3)) - 12 + 20), cluster(3))
    assert blanked(tmp_path, overrun) == (0, overrun)
    after_damage = matroska(cluster(3), b"\x00", tags(3), cluster(3))
    assert blanked(tmp_path, after_damage) == (0, after_damage)
    hidden = matroska(seek_head(len(seek_head(0)) + 9), element(0xEC, tags(3)), cluster(3), segment_known=True)
    assert blanked(tmp_path, hidden) == (0, hidden)  # the seek head alone points at it: counted, never written


def test_twenty_thousand_empty_tags_are_each_blanked(tmp_path):
    """Their sizes were summed again at each one (20,000 took 13 s to check, and as long again to blank)."""
    count, after = blanked(tmp_path, matroska(*[element(0x1254C367, b"")] * 20_000, cluster(3)))
    assert count == 20_000 and b"\x12\x54\xc3\x67" not in after


def test_an_element_of_more_children_than_a_video_has_pieces_is_refused(tmp_path):
    """The children of an Info, of tracks and of a seek head count against the walk's pieces (a million empty
    children of an Info took seconds to read, past the limit on the elements walked)."""
    path = tmp_path / "video"
    path.write_bytes(matroska(element(0x1549A966, b"\xec\x80" * (MIN_PIECES + 1)), cluster(3)))
    with pytest.raises(CorruptMedia, match="far larger than a video"):
        check_container_metadata(path, 120)


def test_an_avi_list_whose_size_runs_past_its_chunks_or_a_streams_data_is_left_alone(tmp_path):
    """A list is blanked only when its chunks fill it exactly and it lies within the list that holds it; a stream's
    data (strd) is never blanked: FFmpeg takes it as the codec's extra data (an MPEG-4 stream's header)."""
    count, after = blanked(tmp_path, avi(3))
    assert count == 1 and b"INFO" not in after
    info = b"INFO" + struct.pack("<4sI", b"INAM", 4) + b"Jane"
    overrun = avi(0).replace(b"LIST\x04\x00\x00\x00INFO", b"LIST" + struct.pack("<I", len(info) + 6) + info)
    assert blanked(tmp_path, overrun) == (0, overrun)
    strd = avi(0).replace(b"strl", b"strl" + struct.pack("<4sI", b"strd", 8) + b"AVIF\x00\x00\x00\x00", 1)
    assert blanked(tmp_path, strd)[1].count(b"AVIF") == 1


def test_an_avis_filming_date_is_blanked(tmp_path):
    """Mutant 56 (IDIT not among the AVI's private chunks): the date and time a camera filmed the clip, in its IDIT
    chunk, stayed in the stored file."""
    date = b"Fri Jan 02 12:35:19 2026\n\x00"
    hdrl = b"hdrl" + b"IDIT" + struct.pack("<I", len(date)) + date
    movi = b"movi" + struct.pack("<4sI", b"00dc", 4) + b"\x00" * 4
    chunks = b"LIST" + struct.pack("<I", len(hdrl)) + hdrl + b"LIST" + struct.pack("<I", len(movi)) + movi
    path = tmp_path / "clip.avi"
    original = b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"AVI " + chunks
    path.write_bytes(original)
    assert blank_container_metadata(path, 120) == 1
    after = path.read_bytes()
    assert b"2026" not in after and b"JUNK" in after and len(after) == len(original)

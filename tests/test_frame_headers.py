"""The frame sizes read from H.264 and HEVC sequence parameter sets, written here bit by bit, and from real streams."""

from __future__ import annotations


import cv2
import pytest

from inference.errors import CorruptMedia, UnsupportedMediaType
from inference.frame_headers import (EMULATION_PREVENTION, BitReader, av1_sizes, avcc_sizes, container_sized,
                                     dnxhd_sizes, h264_sizes, h264_sps_size, hevc_sizes, hevc_sps_size, hvcc_sizes,
                                     in_band_avcc_sizes, movie_config_sizes, mpeg4_sizes, mpeg12_sizes, prores_sizes,
                                     sizer_for, vp9_sizes)
from tests.conftest import DATA



class BitWriter:
    """Writes fields as the standards code them: fixed-length, unsigned and signed Exp-Golomb."""

    def __init__(self) -> None:
        self.text = ""

    def u(self, value: int, count: int) -> BitWriter:
        self.text += format(value, f"0{count}b") if count else ""
        return self

    def ue(self, value: int) -> BitWriter:
        code = format(value + 1, "b")
        self.text += "0" * (len(code) - 1) + code
        return self

    def se(self, value: int) -> BitWriter:
        return self.ue(2 * value - 1 if value > 0 else -2 * value)

    def payload(self) -> bytes:
        """The bits with the stop bit and zeros to a whole byte."""
        text = self.text + "1"
        text += "0" * (-len(text) % 8)
        return int(text, 2).to_bytes(len(text) // 8, "big")


def escaped(payload: bytes) -> bytes:
    """The payload with emulation prevention bytes, as a NAL unit carries it."""
    out = bytearray()
    for byte in payload:
        if out[-2:] == b"\x00\x00" and byte <= 3:
            out.append(3)
        out.append(byte)
    return bytes(out)


def h264_sps(width_mbs: int, height_units: int, profile: int = 66, frames_only: int = 1, chroma_format: int = 1,
             bit_depth: int = 8, references: int = 4) -> BitWriter:
    bits = BitWriter().u(profile, 8).u(0, 8).u(40, 8).ue(0)
    if profile == 100:
        bits.ue(chroma_format).u(0, 1 if chroma_format == 3 else 0).ue(bit_depth - 8).ue(bit_depth - 8)
        bits.u(0, 1).u(1, 1)  # scaling matrices present
        bits.u(1, 1).se(-3).se(5).se(-8).se(-2)  # the first list, ended early: its fourth scale is 0
        bits.u(0, 1).u(0, 1).u(0, 1).u(0, 1).u(0, 1).u(1, 1)  # the seventh list: 64 entries
        for _ in range(64):
            bits.se(1)
        bits.u(0, 1 + (4 if chroma_format == 3 else 0))  # no eighth list (nor ninth to twelfth, with 4:4:4)
        bits.ue(0).ue(1).u(0, 1).se(-2).se(1).ue(3).se(1).se(-1).se(2)  # picture order type 1, a cycle of 3
    else:
        bits.ue(0).ue(0).ue(2)  # picture order type 0
    return bits.ue(references).u(0, 1).ue(width_mbs - 1).ue(height_units - 1).u(frames_only, 1).u(1, 1).u(0, 1)


def test_h264_sizes_are_read_from_baseline_and_high_profile_parameter_sets():
    assert h264_sps_size(h264_sps(80, 45).payload()) == (1280, 720)
    assert h264_sps_size(h264_sps(120, 34, profile=100, frames_only=0).payload()) == (1920, 1088)
    assert h264_sps_size(h264_sps(1000, 1000, profile=100).payload()) == (16000, 16000)


def test_a_malformed_h264_parameter_set_gives_no_size():
    endless_cycle = BitWriter().u(66, 8).u(0, 16).ue(0).ue(0).ue(1).u(0, 1).se(0).se(0).ue(100_000).payload()
    with pytest.raises(ValueError):
        h264_sps_size(endless_cycle)
    packet = b"\x00\x00\x00\x01\x67" + b"\x00" * 8 + b"\x00\x00\x01\x65\x88"  # no Exp-Golomb code can end
    assert list(h264_sizes(memoryview(packet))) == []


def test_h264_sets_are_read_as_ffmpegs_decoder_reads_them():
    """FFmpeg reads the old High 4:4:4 profile (144) with the high profiles' fields, and a set whose reading fails
    again with its emulation prevention bytes; each reading's size counts."""
    high = bytearray(h264_sps(1000, 1000, profile=100).payload())
    high[0] = 144
    assert (16000, 16000) in set(h264_sizes(memoryview(b"\x00\x00\x01\x67" + escaped(bytes(high)))))
    raw = BitWriter().u(66, 8).u(0, 8).u(10, 8).ue(0).ue(0).ue(1).u(0, 1).se(12583866).se(0).ue(0)
    raw = raw.ue(1).u(0, 1).ue(999).ue(999).u(1, 1).u(1, 1).u(0, 1).payload()
    assert b"\x00\x00\x03" in raw  # a zero run that FFmpeg's first reading takes for an escape
    with pytest.raises(ValueError):
        h264_sps_size(EMULATION_PREVENTION.sub(b"\x00\x00", raw))
    assert list(h264_sizes(memoryview(b"\x00\x00\x01\x67" + raw))) == [(16000, 16000)]


def length_prefixed(*units: bytes) -> bytes:
    return b"".join(len(unit).to_bytes(2, "big") + unit for unit in units)


def test_parameter_sets_are_read_from_avcc_and_hvcc_configuration_records():
    """MP4 and Matroska give the decoder its first parameter sets in a configuration record, without start codes."""
    small, large = h264_sps(4, 4).payload(), escaped(h264_sps(1000, 1000).payload())
    avcc = b"\x01\x42\x00\x0a\xff\xe2" + length_prefixed(b"\x67" + small, b"\x67" + large) + b"\x01"
    avcc += length_prefixed(b"\x68\xce\x38\x80")
    assert list(avcc_sizes(memoryview(avcc))) == [(64, 64), (16000, 16000)]
    hvcc = b"\x01" + bytes(21) + b"\x02" + b"\xa0\x00\x01" + length_prefixed(b"\x40\x01\x0c")
    hvcc += b"\xa1\x00\x02" + length_prefixed(b"\x42\x01" + escaped(hevc_sps(64, 64).payload()),
                                                 b"\x42\x01" + escaped(hevc_sps(16000, 16000).payload()))
    assert list(hvcc_sizes(memoryview(hvcc))) == [(64, 64), (16000, 16000)]
    assert list(hvcc_sizes(memoryview(hvcc[:30]))) == []  # a record cut short
    units = (b"\x09\xf0", b"\x67" + large, b"\x65\x88\x84")
    length_prefixed_packets = b"".join(len(unit).to_bytes(4, "big") + unit for unit in units)  # as in AVI
    assert list(sizer_for("H264", memoryview(avcc))(memoryview(length_prefixed_packets))) == [(16000, 16000)]
    assert list(sizer_for("H264")(memoryview(length_prefixed_packets))) == []  # no record: start codes only


def test_a_packet_in_start_codes_is_not_misread_as_length_prefixed_units():
    """A skip P-frame of an ordinary 1280x720 libx264 MP4 (OpenCV hands it over in start codes; the stream's avcC
    says 4-byte lengths): read as lengths, the start code is a unit of 1 byte and the slice's next 4 bytes a length
    far past the packet's end, which FFmpeg refuses; read on from there, its ninth byte (0x47) looked like a sequence
    parameter set declaring 50331648x192, and the upload was refused as too large (a pet owner's walk-through)."""
    skip_frame = bytes.fromhex("00000001419af0344c47fffc84" + "000003" * 10 + "002b60")
    avcc = b"\x01\x64\x00\x1f\xff\xe1" + length_prefixed(b"\x67" + h264_sps(80, 45).payload()) + b"\x00"
    assert list(sizer_for("H264", memoryview(avcc))(memoryview(skip_frame))) == []
    large = b"\x67" + h264_sps(1000, 1000).payload()
    fits = b"\x00\x00\x00\x02\x09\xf0" + len(large).to_bytes(4, "big") + large
    runs_past = b"\x00\x00\x00\x02\x09\xf0" + (len(large) + 1).to_bytes(4, "big") + large  # the decoder refuses it
    assert list(h264_sizes(memoryview(fits), length_size=4)) == [(16000, 16000)]
    assert list(h264_sizes(memoryview(runs_past), length_size=4)) == []


def test_avcc_records_anywhere_in_a_files_bytes_are_read_as_the_decoder_takes_them():
    """FFmpeg's decoder takes a packet shaped as an avcC record for new parameter sets (OpenCV's packet reader stops
    before it): found in the file's bytes, however long its sets (read in place), and a file with countless runs
    that look like one refused rather than checked for minutes."""
    large = b"\x67" + h264_sps(1000, 1000).payload()
    padded = large + bytes(65_000)  # two sets of 65 KB: the picture set lies past the first 64 KB
    record = b"\x01\x42\x00\x0a\xff\xe2" + length_prefixed(padded, padded) + b"\x01" + length_prefixed(
        b"\x68\xce\x38\x80")
    assert list(in_band_avcc_sizes(bytes(1000) + record + bytes(1000))) == [(16000, 16000)] * 2
    assert list(in_band_avcc_sizes(bytes(1000) + record[:-3])) == []  # its picture set cut short: not taken
    looks_alike = b"\x01\x42\x00\x0a\xff\xe1\x00\x05\x67\x00" * 5000  # a set without a picture set after it
    with pytest.raises(CorruptMedia, match="look like H.264 parameter sets"):
        list(in_band_avcc_sizes(looks_alike))
    # a look-alike run two bytes before the record, its ninth byte the record's second (which FFmpeg never reads)
    decoy = b"\x01\x00\x00\x00\xfc\x00\x00" + record[:1] + b"\x67" + record[2:]
    assert list(in_band_avcc_sizes(decoy)) == [(16000, 16000)] * 2  # matched one after the other, it hid the record
    nested = b"\x01\x42\x00\x0a\xff\xe1" + length_prefixed(large) + b"\x01" + length_prefixed(b"\x68\xce\x38\x80")
    with pytest.raises(CorruptMedia, match="look like H.264 parameter sets"):
        list(in_band_avcc_sizes(nested * 65))  # 65 sets: more than any video sends


def hevc_sps(width: int, height: int, sub_layers: int = 0, chroma_format: int = 1) -> BitWriter:
    bits = BitWriter().u(0, 4).u(sub_layers, 3).u(1, 1)
    bits.u(0, 3).u(1, 5).u(0x60000000, 32).u(0b1001, 4).u(0, 44).u(120, 8)  # general profile Main, level 4
    for layer in range(sub_layers):
        bits.u(layer % 2, 1).u(1, 1)  # every other layer with a profile; each with a level
    bits.u(0, 2 * (8 - sub_layers) if sub_layers else 0)
    for layer in range(sub_layers):
        bits.u(0, 88 * (layer % 2)).u(90, 8)
    bits.ue(0).ue(chroma_format).u(0, 1 if chroma_format == 3 else 0)
    return bits.ue(width).ue(height).u(0, 1)


def hevc_sps_to_buffering(width: int, height: int, bit_depth: int, buffering: list[int]) -> BitWriter:
    """A set that goes on past its size: bit depths, and each sub-layer's pictures held (max_dec_pic_buffering)."""
    bits = hevc_sps(width, height, sub_layers=len(buffering) - 1).ue(bit_depth - 8).ue(bit_depth - 8).ue(4).u(1, 1)
    for pictures in buffering:
        bits.ue(pictures - 1).ue(0).ue(0)
    return bits


def test_hevc_sizes_are_read_past_sub_layer_profiles_and_emulation_prevention():
    assert hevc_sps_size(hevc_sps(1920, 1080).payload()) == (1920, 1080)
    assert hevc_sps_size(hevc_sps(4096, 2304, sub_layers=3, chroma_format=3).payload()) == (4096, 2304)
    nal = escaped(hevc_sps(16000, 16000, sub_layers=1).payload())
    assert b"\x00\x00\x03" in nal  # the profile's zero flags need escaping
    packet = b"\x00\x00\x00\x01\x40\x01\x0c" + b"\x00\x00\x01\x42\x01" + nal + b"\x00\x00\x01\x44\x01\xc1"
    assert list(hevc_sizes(memoryview(packet))) == [(16000, 16000)]


def test_parameter_sets_say_what_their_decoder_holds_for_them():
    """A pixel's bytes against 8-bit 4:2:0, its colour in words and the frames held at once (references and the one
    decoded): a stream may switch to 10-bit 4:4:4 or 16 references after a small first frame."""
    plain = h264_sps_size(h264_sps(240, 135).payload())
    assert (plain, plain.weight, plain.colour, plain.frames) == ((3840, 2160), 1.0, "", 5)
    rich = h264_sps_size(h264_sps(240, 135, profile=100, chroma_format=3, bit_depth=10, references=16).payload())
    assert (rich, rich.weight, rich.colour, rich.frames) == ((3840, 2160), 4.0, "10-bit 4:4:4", 17)
    hevc = hevc_sps_size(hevc_sps_to_buffering(3840, 2160, 10, [2, 6, 5]).payload())
    assert (hevc, hevc.weight, hevc.colour, hevc.frames) == ((3840, 2160), 2.0, "10-bit 4:2:0", 6)
    cut_short = hevc_sps_size(hevc_sps(1920, 1080).payload())  # its size still counts
    assert (cut_short, cut_short.frames) == ((1920, 1080), 1)


def test_vp9_key_frames_and_av1_sequence_headers_say_their_colour():
    """A later VP9 key frame or AV1 sequence header can switch a stream to 12-bit 4:4:4 at 4K (540-700 MB to decode
    after a 64x64 8-bit first frame, a diff review): their colour is read with their size."""
    (key,) = vp9_sizes(memoryview(vp9_frame(3840, 2160, profile=3)))
    assert (key, key.weight, key.colour) == ((3840, 2160), 4.0, "10-bit 4:4:4")
    (plain,) = vp9_sizes(memoryview(vp9_frame(3840, 2160)))
    assert (plain.weight, plain.colour) == (1.0, "")
    assert (plain.resized(64, 64), plain.resized(64, 64).weight) == ((64, 64), 1.0)
    (rich,) = av1_sizes(memoryview(av1_sequence_header(3840, 2160, twelve_bit_444=True)))
    assert (rich, rich.weight, rich.colour) == ((3840, 2160), 4.0, "12-bit 4:4:4")
    (main,) = av1_sizes(memoryview(av1_sequence_header(3840, 2160)))
    assert (main, main.weight) == ((3840, 2160), 1.0)


def test_bits_past_the_end_read_as_zeros():
    bits = BitReader(b"\xa0")
    assert (bits.bits(3), bits.bits(7), bits.bits(4)) == (0b101, 0, 0)
    with pytest.raises(ValueError):
        bits.ue()


def vp9_frame(width: int, height: int, kind: str = "key", profile: int = 0) -> bytes:
    bits = BitWriter().u(2, 2).u(profile & 1, 1).u(profile >> 1, 1).u(0, 1 if profile == 3 else 0).u(0, 1)
    if kind == "key":
        bits.u(0, 1).u(1, 1).u(0, 1).u(0x498342, 24).u(0, 1 if profile >= 2 else 0).u(2, 3).u(0, 1)
        bits.u(0, 3 if profile in (1, 3) else 0)
    elif kind == "intra-only":
        bits.u(1, 1).u(0, 1).u(0, 1).u(1, 1).u(0, 2).u(0x498342, 24)
        bits.u(7, 3).u(0, 1 if profile in (1, 3) else 0) if profile else bits
        bits.u(0xFF, 8)
    else:  # an inter frame that gives its own size
        bits.u(1, 1).u(1, 1).u(1, 1).u(0b11111111, 8).u(0b0001_0010_0011, 12).u(0, 3)
    return bits.u(width - 1, 16).u(height - 1, 16).payload() + b"\x00" * 40


def superframe(*frames: bytes) -> bytes:
    marker = 0b11000000 | (1 << 3) | (len(frames) - 1)  # two bytes a size
    index = bytes([marker]) + b"".join(len(frame).to_bytes(2, "little") for frame in frames) + bytes([marker])
    return b"".join(frames) + index


def test_vp9_sizes_are_read_from_key_intra_only_and_inter_frames_inside_superframes():
    assert list(vp9_sizes(memoryview(vp9_frame(640, 360)))) == [(640, 360)]
    assert list(vp9_sizes(memoryview(vp9_frame(4000, 2000, profile=2)))) == [(4000, 2000)]
    assert list(vp9_sizes(memoryview(vp9_frame(1000, 900, "intra-only", profile=1)))) == [(1000, 900)]
    packet = superframe(vp9_frame(64, 64, "inter"), vp9_frame(16000, 16000, "inter", profile=3))
    assert list(vp9_sizes(memoryview(packet))) == [(64, 64), (16000, 16000)]
    shown_again = BitWriter().u(2, 2).u(0, 2).u(1, 1).u(3, 3).payload()
    assert list(vp9_sizes(memoryview(shown_again))) == []


def av1_sequence_header(width: int, height: int, twelve_bit_444: bool = False) -> bytes:
    """A sequence header OBU with timing and decoder model information and two operating points; with
    `twelve_bit_444`, profile 2 and the fields after the size up to its colour: 12-bit 4:4:4."""
    bits = BitWriter().u(2 if twelve_bit_444 else 0, 3).u(0, 1).u(0, 1).u(1, 1).u(1001, 32).u(30000, 32).u(1, 1).ue(0)
    bits.u(1, 1).u(9, 5).u(1, 32).u(4, 5).u(4, 5).u(1, 1).u(1, 5)  # decoder model; delays of 10 bits
    bits.u(0x101, 12).u(9, 5).u(1, 1).u(1, 1).u(0, 21).u(1, 1).u(3, 4)
    bits.u(0x103, 12).u(4, 5).u(0, 1).u(0, 1)
    bits.u(14, 4).u(14, 4).u(width - 1, 15).u(height - 1, 15)
    if twelve_bit_444:
        bits.u(1, 1).u(3, 4).u(2, 3)  # frame id numbers and their lengths
        bits.u(0b111, 3).u(0b1111, 4).u(1, 1).u(0b11, 2)  # tools; order hints on, with their two tools
        bits.u(1, 1).u(0, 1).u(1, 1).u(6, 3)  # screen content per frame, integer motion forced on; order hint bits
        bits.u(0b111, 3).u(1, 1).u(1, 1).u(0, 1).u(0, 1).u(0, 1).u(0, 1)  # 12 bits, not mono, no description, 4:4:4
    payload = bits.payload()
    return bytes([0b0_0001_0_1_0, len(payload)]) + payload


def test_av1_sizes_are_read_from_sequence_headers_in_temporal_units_and_configuration_records():
    delimiter = b"\x12\x00"
    assert list(av1_sizes(memoryview(delimiter + av1_sequence_header(16000, 9000)))) == [(16000, 9000)]
    record = b"\x81\x00\x0c\x00" + av1_sequence_header(640, 480)
    assert list(av1_sizes(memoryview(record))) == [(640, 480)]


def mpeg4_layer(width: int, height: int) -> bytes:
    """A video object layer header with a layer identifier, buffer parameters and a fixed time increment."""
    bits = BitWriter().u(0, 1).u(1, 8).u(1, 1).u(2, 4).u(1, 3).u(15, 4).u(12, 8).u(11, 8)
    bits.u(1, 1).u(1, 2).u(0, 1).u(1, 1).u(0, 79).u(0, 2).u(1, 1).u(30000, 16).u(1, 1).u(1, 1).u(1001, 15)
    return b"\x00\x00\x01\x20" + bits.u(1, 1).u(width, 13).u(1, 1).u(height, 13).u(1, 1).payload()


def test_mpeg4_sizes_are_read_from_video_object_layers():
    packet = b"\x00\x00\x01\xb0\x01\x00\x00\x01\xb5\x09" + mpeg4_layer(7680, 4320) + b"\x00\x00\x01\xb6\x10"
    assert list(mpeg4_sizes(memoryview(packet))) == [(7680, 4320)]


def test_mpeg4_studio_layers_give_their_14_bit_sizes():
    """FFmpeg reads a layer of the studio object types (14, 15) with other fields and 14-bit sizes."""
    bits = BitWriter().u(0, 1).u(14, 8).u(1, 4).u(0, 2).u(0, 4).u(1, 1).u(0, 1).u(2, 2).u(10, 4).u(1, 1)
    layer = b"\x00\x00\x01\x20" + bits.u(16000, 14).u(1, 1).u(12000, 14).u(1, 1).payload()
    assert list(mpeg4_sizes(memoryview(layer))) == [(16000, 12000)]


def test_mpeg12_sizes_take_the_high_bits_of_a_sequence_extension():
    header = b"\x00\x00\x01\xb3" + bytes([720 >> 4, (720 & 0xF) << 4 | 576 >> 8, 576 & 0xFF]) + b"\x13\xff"
    extension = b"\x00\x00\x01\xb5" + BitWriter().u(1, 4).u(0x48, 8).u(1, 1).u(1, 2).u(3, 2).u(2, 2).payload()
    assert list(mpeg12_sizes(memoryview(header + extension))) == [(720, 576), (3 << 12 | 720, 2 << 12 | 576)]
    assert list(mpeg12_sizes(memoryview(extension))) == [(0x3FFF, 0x2FFF)]  # no header: the largest low bits
    ordinary = b"\x00\x00\x01\xb5" + BitWriter().u(1, 4).u(0x48, 8).u(1, 1).u(1, 2).u(0, 2).u(0, 2).payload()
    assert list(mpeg12_sizes(memoryview(header + ordinary))) == [(720, 576)]


def test_prores_and_dnxhd_sizes_are_read_from_their_frame_headers():
    prores = (4000).to_bytes(4, "big") + b"icpf" + b"\x00\x94\x00\x00apl0" + (12000).to_bytes(2, "big") + b"\x1f\x40"
    assert list(prores_sizes(memoryview(prores + bytes(100)))) == [(12000, 8000)]
    assert list(prores_sizes(memoryview(bytes(120)))) == []
    dnxhd = bytearray(b"\x00\x00\x02\x80\x03" + bytes(0x40))
    dnxhd[0x18:0x1C] = (1080).to_bytes(2, "big") + (1920).to_bytes(2, "big")
    assert list(dnxhd_sizes(memoryview(bytes(dnxhd)))) == [(1920, 1080)]
    dnxhd[5], dnxhd[0x18:0x1A] = 0x02, (540).to_bytes(2, "big")  # interlaced: each field's height...
    dnxhd += bytes(0x170 - len(dnxhd))
    dnxhd[0x16C:0x16E] = (34).to_bytes(2, "big")  # ... when its macroblock rows are a field's
    assert list(dnxhd_sizes(memoryview(bytes(dnxhd)))) == [(1920, 1080)]
    dnxhd[0x16C:0x16E] = (68).to_bytes(2, "big")
    assert list(dnxhd_sizes(memoryview(bytes(dnxhd)))) == [(1920, 540)]


def avcc_box(width_mbs: int, height_units: int) -> bytes:
    """An avcC box: a configuration record with one sequence parameter set (and no picture parameter set)."""
    nal = b"\x67" + escaped(h264_sps(width_mbs, height_units, profile=100).payload())
    record = b"\x01\x64\x00\x28\xff\xe1" + len(nal).to_bytes(2, "big") + nal + b"\x00"
    return (8 + len(record)).to_bytes(4, "big") + b"avcC" + record


def test_every_sample_description_of_a_movie_box_is_read():
    """Two descriptions in one track (the second one's set never appears in a packet), and an audio track's esds."""
    esds = b"\x00\x00\x00\x0fesds\x00\x00\x00\x00\x12\x10\x56"
    movie = b"\x00\x00\x00\x10mvhd" + bytes(8) + avcc_box(120, 68) + avcc_box(512, 512) + esds
    assert list(movie_config_sizes(memoryview(movie))) == [(1920, 1088), (8192, 8192)]
    assert list(movie_config_sizes(memoryview(b"avcC" + bytes(20)))) == []  # no room for a size before it


def test_a_compressed_movie_box_and_a_packet_of_countless_units_are_refused():
    """FFmpeg inflates a compressed movie box (whose descriptions the scan cannot read), and walks every unit."""
    compressed = b"\x00\x00\x00\x30cmov\x00\x00\x00\x0cdcomzlib\x00\x00\x00\x1ccmvd" + bytes(24)
    with pytest.raises(UnsupportedMediaType, match="compressed"):
        list(movie_config_sizes(memoryview(compressed)))
    one_byte_lengths = b"\x01\x42\x00\x0a\xfc\xe0\x00"  # an avcC record with no sets, 1-byte unit lengths
    with pytest.raises(CorruptMedia, match="too many parts"):
        list(sizer_for("H264", memoryview(one_byte_lengths))(memoryview(bytes(5000))))
    assert list(sizer_for("H264", memoryview(one_byte_lengths))(memoryview(bytes(4000)))) == []


def test_codecs_whose_sizes_are_not_read_have_no_sizer():
    assert sizer_for("CVID") is None and sizer_for("THEO") is None
    assert sizer_for("H264") is not None and sizer_for("HEVC") is not None
    assert sizer_for("DVSD") is container_sized and sizer_for("MP43") is container_sized  # DV, DivX 3


@pytest.mark.parametrize(("name", "sizes"), [
    ("h264-1080p.mp4", {(1920, 1088)}),
    ("hevc-1080p.mkv", {(1920, 1080)}),
    ("h264-later-frame-16000px.mp4", {(64, 64), (16000, 16000)}),
    ("h264-later-frame-16000px.avi", {(64, 64), (16000, 16000)}),  # length-prefixed units, as AVI keeps them
    ("hevc-later-frame-4096px.mkv", {(64, 64), (4096, 4096)}),
    ("vp9-later-frame-4096px.webm", {(64, 64), (4096, 4096)}),
    ("av1-later-frame-4096px.mp4", {(64, 64), (4096, 4096)}),
    ("mpeg4-later-frame-3000px.avi", {(64, 64), (3000, 3000)}),
])
def test_real_streams_give_the_sizes_their_encoders_wrote(name, sizes):
    capture = cv2.VideoCapture(str(DATA / name), cv2.CAP_FFMPEG, [cv2.CAP_PROP_FORMAT, -1])
    tag = int(capture.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little").decode("latin-1").upper()
    ok, configuration = capture.retrieve(None, int(capture.get(cv2.CAP_PROP_CODEC_EXTRADATA_INDEX)))
    sizer = sizer_for(tag, memoryview(configuration.reshape(-1)) if ok and configuration is not None else b"")
    found = set()
    while capture.grab():
        ok, packet = capture.retrieve()
        found.update(sizer(memoryview(packet.reshape(-1))))
    capture.release()
    assert found == sizes

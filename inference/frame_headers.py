"""Frame sizes that a video's packets and codec descriptions declare, read from their headers without decoding.

A decoder sizes its buffers from headers inside the stream, and a stream may change size at any packet: a first
frame of 64x64 says nothing of the next, and a 50 KB H.264 file can hold a 16000x16000 frame that costs 600 MB to
decode. Each packet sizer here yields the (width, height) that one packet's headers give:
- H.264 and HEVC sequence parameter sets (the coded size, which is what the decoder allocates: 1920x1080 is coded
  1920x1088), after start codes (OpenCV turns MP4, MOV and Matroska packets into that form) and, where the
  stream's avcC or hvcC record says so, in length-prefixed units (AVI keeps them);
- VP8 and VP9 frame headers, AV1 sequence headers (the largest size their frames may take), MPEG-4 Part 2 video
  object layers, MPEG-1/2 sequence headers and extensions, ProRes and DNxHD frame headers, JPEG frame headers,
  and frames stored as picture files (PNG, TIFF, BMP, GIF, WebP, JPEG 2000, QOI);
- nothing for codecs whose frames keep the container's size or a small bound (CONTAINER_SIZED_TAGS).
configuration_sizes reads a stream's codec configuration, movie_config_sizes every description in an MP4 or MOV
movie box, in_band_avcc_sizes the avcC records an H.264 file sends as packets (which stop OpenCV's packet reader, so
the file's bytes are searched for them). A codec with no sizer is not decoded at all. The parsers read each header's
fields up to its size, after the published specifications and where they differ FFmpeg's reading, and nothing more:
hand-written, since no maintained Python package reads these headers without an FFmpeg of its own.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from PIL import Image

from inference.errors import CorruptMedia, MediaTooLarge, UnsupportedMediaType
from inference.file_bytes import FileBytes
from messages import N_, Phrase

Size = tuple[int, int]
PacketSizer = Callable[[memoryview], Iterator[Size]]
CHROMA_SAMPLES = {0: (1.0, "4:0:0"), 1: (1.5, "4:2:0"), 2: (2.0, "4:2:2"), 3: (3.0, "4:4:4"),  # a pixel's samples, by
                  4: (2.0, "4:4:0")}  # H.264's chroma_format_idc (4:4:0: VP9's, no number of H.264's)


class FrameFormat(tuple):
    """The (width, height) a sequence header gives (an H.264 or HEVC sequence parameter set, a VP9 key frame, an AV1
    sequence header), with what the decoder holds for it: its chroma format and bit depth, from which a pixel's bytes
    against 8-bit 4:2:0 (`weight`; the colour in words, `colour`, empty for 8-bit 4:2:0), and, for H.264 and HEVC,
    how many frames at once (`frames`: those it keeps for reference, and the one it decodes). A header that switches
    a stream to 12-bit 4:4:4, or to 16 reference frames, halfway through took hundreds of MB that the stream's own
    header did not announce."""

    chroma_format: int  # as H.264's chroma_format_idc numbers it (CHROMA_SAMPLES)
    bit_depth: int
    frames: int

    def __new__(cls, width: int, height: int, chroma_format: int = 1, bit_depth: int = 8,
                frames: int = 1) -> FrameFormat:
        size = super().__new__(cls, (width, height))
        size.chroma_format, size.bit_depth, size.frames = chroma_format, bit_depth, frames
        return size

    @property
    def weight(self) -> float:
        samples, _ = CHROMA_SAMPLES.get(self.chroma_format, CHROMA_SAMPLES[3])
        return samples / 1.5 * (2 if self.bit_depth > 8 else 1)

    @property
    def colour(self) -> str:
        _, chroma = CHROMA_SAMPLES.get(self.chroma_format, CHROMA_SAMPLES[3])
        return "" if (self.chroma_format, self.bit_depth) == (1, 8) else f"{self.bit_depth}-bit {chroma}"

    def resized(self, width: int, height: int) -> FrameFormat:
        """This format at another size: a VP9 inter frame may give its own, in its last key frame's colour."""
        return FrameFormat(width, height, self.chroma_format, self.bit_depth, self.frames)


FRAME_TOO_MANY_PIXELS = N_("A frame of the video has too many pixels to analyse.")
TOO_MANY_UNITS = N_("A frame of the video is cut into too many parts to read.")
COMPRESSED_INDEX = N_("The video's index is compressed (an old QuickTime form); save it again as MP4 or MOV.")
MAX_UNITS = 4096  # NAL units in one packet (a real one has tens: slices, parameter sets, messages)
COMPRESSED_MOVIE = re.compile(rb"cmov[\x00-\xff]{4}dcom")  # a compressed movie box: its first child says how
# Codec tags (upper case) that FFmpeg decodes as JPEG images (libavformat's riff.c and isom tags); in Matroska OpenCV
# reports MJPEG as MJPG, VP8 as VP80.
JPEG_TAGS = frozenset(("MJPG", "LJPG", "DMB1", "MJPA", "JPGL", "MJLS", "JPEG", "IJPG", "AVRN", "ACDV", "QIVG", "SLMJ",
                       "CJPG", "IJLV", "MVJP", "AVI1", "JR24", "AVDJ"))
VP8_TAG = "VP80"
VP9_TAGS = frozenset(("VP90", "VP09"))
AV1_TAGS = frozenset(("AV01",))
# MPEG-4 Part 2 (OpenCV reports FMP4 for Xvid, DivX and mp4v alike; the others are riff.c's).
MPEG4_TAGS = frozenset(("FMP4", "MP4V", "XVID", "DIVX", "DX50", "MP4S", "M4S2", "3IV2", "UMP4", "RMP4", "SMP4",
                        "DXGM", "HDX4", "DM4V", "DMK2", "DIGI", "EPHV", "EM4A", "M4CC", "SN40", "VSPX", "ULDX",
                        "GEOV", "SIPP", "SM4V", "XVIX", "DREX", "QMP4", "PLV1", "GLV4", "GMP4", "MNM4", "GTM4"))
# Tags of H.264 and HEVC (riff.c and isom.c; OpenCV reports H264 and HEVC for MP4, MOV and Matroska).
H264_TAGS = frozenset(("H264", "X264", "AVC1", "AVC3", "DAVC", "SMV2", "VSSH", "Q264", "V264", "GAVC", "UMSV", "TSHD",
                       "INMC"))
HEVC_TAGS = frozenset(("HEVC", "H265", "X265", "HVC1", "HEV1", "DVHE", "DVH1"))
MPEG12_TAGS = frozenset(("MPG1", "MPG2", "MPEG", "MX3P", "MX5P", "MX3N", "MX4N", "MX5N", "XDVD", "HDV2", "HDV3"))
PRORES_TAGS = frozenset(("APCH", "APCN", "APCS", "APCO", "AP4H", "AP4X"))
DNXHD_TAGS = frozenset(("AVDN", "AVDH"))
# Frames stored as picture files (OpenCV reports raw video and some picture codecs in AVI with no tag).
PICTURE_TAGS = frozenset(("MPNG", "PNG ", "TIFF", "GIF ", "MJP2", "BMP ", "WEBP", "QOIF", "\0\0\0\0"))
# Codecs whose frames cannot outgrow the container's size, or a small bound: lossless FFV1 and HuffYUV, QuickTime
# Animation, Microsoft's MPEG-4 versions and WMV 7/8 (no size in their frame headers: the container's), H.263
# (2048x1152 at most), DV (its profiles' sizes: 1440x1080 at most).
CONTAINER_SIZED_TAGS = frozenset(("FFV1", "HFYU", "FFVH", "RLE ", "MP41", "MP42", "MP43", "MPG4", "DIV3", "WMV1",
                                  "WMV2", "H263", "S263", "U263", "DVSD"))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Codecs that store each frame as a picture file with its own size, besides JPEG and PNG (FFmpeg decodes all of
# them inside AVI, MOV or Matroska); Pillow reads their headers without decoding, each only by its magic bytes.
PICTURE_FORMATS = ("TIFF", "BMP", "GIF", "WEBP", "JPEG2000", "QOI")
# A JPEG start-of-frame marker (SOF0-15 less DHT, JPG and DAC, and JPEG-LS's SOF55) anywhere in a packet: FFmpeg's
# decoder looks for markers anywhere, so every one is checked, not only those a careful parser would reach.
SOF_MARKER = re.compile(rb"\xff[\xc0-\xc3\xc5-\xc7\xc9-\xcb\xcd-\xcf\xf7]")
# A start code and the header of a sequence parameter set: H.264 NAL type 7 (any reference priority); HEVC NAL type
# 33 of layer 0 (layers above are ignored by FFmpeg's decoder), any temporal id.
H264_SPS_START = re.compile(rb"\x00\x00\x01[\x07\x27\x47\x67]")
HEVC_SPS_START = re.compile(rb"\x00\x00\x01\x42[\x01-\x07]")
NAL_END = re.compile(rb"\x00\x00[\x00-\x02]")  # a NAL unit ends where three bytes below 3 follow two zeros
EMULATION_PREVENTION = re.compile(rb"\x00\x00\x03")
MPEG12_START = re.compile(rb"\x00\x00\x01(\xb3|\xb5)")  # a sequence header or an extension
MPEG4_VOL_START = re.compile(rb"\x00\x00\x01[\x20-\x2f]")  # a video object layer's start code
MPEG4_VOL_BYTES = 64  # a layer header's fields up to its size fit in 24 bytes
MPEG4_VBV_BITS = 79  # the buffer parameters: bit rate, buffer size and occupancy, with their marker bits
VP9_SYNC_CODE = 0x498342
VP9_HEADER_BYTES = 32  # an uncompressed VP9 header's fields up to the frame size fit in 12 bytes
VP9_SUPERFRAME_MARKER = 0xC0
AV1_SEQUENCE_HEADER = 1  # the OBU type that holds the largest frame size
AV1_CONFIG_MARKER = 0x81  # the first byte of an AV1CodecConfigurationRecord (av1C, MP4 and Matroska's extradata)
# Profiles whose sequence parameter sets carry chroma format, bit depths and scaling matrices: FFmpeg's list (its
# decoder is what allocates), which has the old High 4:4:4 (144) and lacks 139, 134 and 135 that the standard has;
# for those four both readings are taken.
H264_HIGH_PROFILES = frozenset((100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 144))
H264_DISPUTED_PROFILES = frozenset((144, 139, 134, 135))
H264_SPS_TYPE = 7
HEVC_SPS_HEADER = 0x42  # the first byte of an HEVC sequence parameter set's NAL header (type 33, layer below 32)
AVC_CONFIG_VERSION = 1  # the first byte of an AVCDecoderConfigurationRecord (avcC: MP4 and Matroska's extradata)
MPEG4_STUDIO_TYPES = frozenset((14, 15))  # simple and core studio object types: another layer header, 14-bit sizes
MAX_ORDER_CYCLE = 255  # FFmpeg refuses a longer picture order count cycle
HEVC_PROFILE_BITS = 88  # a profile_tier_level's profile part: space, tier, idc, compatibility and constraint flags


def jpeg_sizes(packet: memoryview) -> Iterator[Size]:
    """(width, height) of every well-formed JPEG frame header in a packet (length 8 + 3 per component, 1 to 4
    components, as FFmpeg requires before it takes the size)."""
    for marker in SOF_MARKER.finditer(packet):
        header = bytes(packet[marker.end():marker.end() + 8])
        if len(header) == 8 and 1 <= header[7] <= 4 and int.from_bytes(header[:2], "big") == 8 + 3 * header[7]:
            yield int.from_bytes(header[5:7], "big"), int.from_bytes(header[3:5], "big")


def vp8_sizes(packet: memoryview) -> Iterator[Size]:
    """(width, height) of a VP8 key frame (the only frames that carry a size); nothing for other frames."""
    if len(packet) >= 10 and not packet[0] & 1 and bytes(packet[3:6]) == b"\x9d\x01\x2a":
        yield int.from_bytes(packet[6:8], "little") & 0x3FFF, int.from_bytes(packet[8:10], "little") & 0x3FFF


def picture_sizes(packet: memoryview) -> Iterator[Size]:
    """(width, height) of a packet that is a whole picture file: PNG from its header chunk (read here, since
    Pillow refuses a header whose checksum FFmpeg would not check), TIFF, BMP, GIF, WebP, JPEG 2000 or QOI from
    Pillow's reading of the header, without decoding; nothing for other packets."""
    head = bytes(packet[:24])
    if head.startswith(PNG_SIGNATURE) and head[12:16] == b"IHDR":
        yield int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return
    try:
        with Image.open(io.BytesIO(packet), formats=PICTURE_FORMATS) as picture:
            size = picture.size
    except Image.DecompressionBombError as error:  # past twice Pillow's own pixel limit
        raise MediaTooLarge(Phrase(FRAME_TOO_MANY_PIXELS)) from error
    except Exception:  # not a picture Pillow can size: bytes of a video codec
        return
    yield size


class BitReader:
    """Reads a NAL unit's payload bit by bit, as FFmpeg does: past the end every bit reads 0."""

    def __init__(self, payload: bytes) -> None:
        self._payload = payload
        self._size = 8 * len(payload)
        self._position = 0

    def bits(self, count: int) -> int:
        """The next `count` bits as an unsigned number: read from the bytes they lie in, so that a bit costs the
        same in a long set as in a short one (shifting the whole set as one number cost 70 ms a crafted set)."""
        start, self._position = self._position, self._position + count
        end = min(self._position, self._size)
        if start >= end:
            return 0
        first, last = start >> 3, (end + 7) >> 3
        chunk = int.from_bytes(self._payload[first:last], "big")
        chunk = (chunk >> (8 * last - end)) & ((1 << (end - start)) - 1)
        return chunk << (self._position - end)

    def ue(self) -> int:
        """An unsigned Exp-Golomb code; ValueError past 31 leading zeros (no valid header has one)."""
        zeros = 0
        while not self.bits(1):
            zeros += 1
            if zeros > 31:
                raise ValueError("not an Exp-Golomb code")
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        """A signed Exp-Golomb code."""
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


def _skip_scaling_list(bits: BitReader, size: int) -> None:
    last_scale = next_scale = 8
    for _ in range(size):
        if next_scale:
            next_scale = (last_scale + bits.se()) % 256
            last_scale = next_scale or last_scale


def h264_sps_size(payload: bytes, high: bool | None = None) -> FrameFormat:
    """The coded (width, height) an H.264 sequence parameter set gives (its payload after the NAL header, emulation
    prevention bytes removed), from its fields up to the frame size (ITU-T H.264 7.3.2.1.1); `high` reads the
    fields of the high profiles or not, whatever the profile says."""
    bits = BitReader(payload)
    profile = bits.bits(8)
    bits.bits(16)  # constraint flags, level
    bits.ue()  # parameter set id
    reads_high_fields = profile in H264_HIGH_PROFILES if high is None else high
    chroma_format, bit_depth = 1, 8
    if reads_high_fields:
        chroma_format = bits.ue()
        bits.bits(chroma_format == 3)  # separate colour planes
        bit_depth = 8 + max(bits.ue(), bits.ue())  # luma's and chroma's
        bits.bits(1)  # lossless transform bypass
        if bits.bits(1):  # scaling matrices
            for index in range(12 if chroma_format == 3 else 8):
                if bits.bits(1):
                    _skip_scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # frame number bits
    order_type = bits.ue()
    if order_type == 0:
        bits.ue()
    elif order_type == 1:
        bits.bits(1)  # always zero deltas
        bits.se()  # offset for non-reference pictures
        bits.se()  # offset from top to bottom field
        cycle = bits.ue()
        if cycle > MAX_ORDER_CYCLE:
            raise ValueError("picture order count cycle too long")
        for _ in range(cycle):
            bits.se()
    references = bits.ue()
    bits.bits(1)  # gaps allowed
    width_in_macroblocks, height_in_map_units = bits.ue() + 1, bits.ue() + 1
    frames_only = bits.bits(1)
    return FrameFormat(16 * width_in_macroblocks, 16 * height_in_map_units * (2 - frames_only), chroma_format,
                            bit_depth, references + 1)


def hevc_sps_size(payload: bytes) -> FrameFormat:
    """The coded (width, height) an HEVC sequence parameter set of layer 0 gives (its payload after the two-byte
    NAL header, emulation prevention bytes removed; ITU-T H.265 7.3.2.2.1)."""
    bits = BitReader(payload)
    bits.bits(4)  # video parameter set id
    sub_layers = bits.bits(3)
    bits.bits(1 + HEVC_PROFILE_BITS + 8)  # temporal id nesting, general profile and level
    present = [(bits.bits(1), bits.bits(1)) for _ in range(sub_layers)]
    bits.bits(2 * (8 - sub_layers) if sub_layers else 0)
    for profile_present, level_present in present:
        bits.bits(HEVC_PROFILE_BITS * profile_present + 8 * level_present)
    bits.ue()  # parameter set id
    chroma_format = bits.ue()
    bits.bits(chroma_format == 3)  # separate colour planes
    width, height = bits.ue(), bits.ue()
    try:
        bit_depth, frames = _hevc_depth_and_frames(bits, sub_layers)
    except ValueError:  # a set cut short after its size: the size still counts
        return FrameFormat(width, height, chroma_format)
    return FrameFormat(width, height, chroma_format, bit_depth, frames)


def _hevc_depth_and_frames(bits: BitReader, sub_layers: int) -> tuple[int, int]:
    """An HEVC sequence parameter set's bit depth (luma's or chroma's, the larger) and the most pictures its decoder
    holds (the largest max_dec_pic_buffering of its sub-layers), read after its size."""
    if bits.bits(1):  # a conformance window
        for _ in range(4):
            bits.ue()
    bit_depth = 8 + max(bits.ue(), bits.ue())
    bits.ue()  # picture order count bits
    every_layer = bits.bits(1)
    buffering = []
    for _ in range(0 if every_layer else sub_layers, sub_layers + 1):
        buffering.append(bits.ue() + 1)
        bits.ue()  # reordered pictures
        bits.ue()  # latency increase
    return bit_depth, max(buffering)


def _h264_readings(escaped: bytes) -> Iterator[Size]:
    """The sizes an H.264 sequence parameter set (after its NAL header) may give FFmpeg's decoder: read without the
    emulation prevention bytes, and with them (FFmpeg reads a set again whole when the first reading fails); both
    ways for a profile FFmpeg and the standard disagree on."""
    for payload in dict.fromkeys((EMULATION_PREVENTION.sub(b"\x00\x00", escaped), escaped)):  # once each
        for high in (None, True, False) if payload[:1] and payload[0] in H264_DISPUTED_PROFILES else (None,):
            try:
                yield h264_sps_size(payload, high)
            except ValueError:  # a malformed set, which the decoder refuses too
                continue


def _hevc_readings(escaped: bytes) -> Iterator[Size]:
    """The size an HEVC sequence parameter set (after its NAL header) gives, emulation prevention bytes removed."""
    try:
        yield hevc_sps_size(EMULATION_PREVENTION.sub(b"\x00\x00", escaped))
    except ValueError:  # a malformed set, which the decoder refuses too
        return


def _parameter_set_sizes(packet: memoryview, start: re.Pattern[bytes], readings: Callable[[bytes], Iterator[Size]],
                         ) -> Iterator[Size]:
    for header in start.finditer(packet):
        end = NAL_END.search(packet, header.end())
        yield from readings(bytes(packet[header.end():end.start() if end else len(packet)]))


def _length_prefixed(record: memoryview, offset: int, count: int) -> tuple[list[bytes], int]:
    """`count` units that each follow a two-byte length, from `offset`; and the offset after them."""
    units = []
    for _ in range(count):
        if offset + 2 > len(record):
            break
        size = int.from_bytes(record[offset:offset + 2], "big")
        units.append(bytes(record[offset + 2:offset + 2 + size]))
        offset += 2 + size
    return units, offset


def _is_avcc(record: memoryview) -> bool:
    """Whether the data is an AVCDecoderConfigurationRecord (FFmpeg's test: its first byte, the version, is 1)."""
    return len(record) >= 7 and record[0] == AVC_CONFIG_VERSION


def _is_hvcc(record: memoryview) -> bool:
    """Whether the data is an HEVCDecoderConfigurationRecord (FFmpeg takes any configuration that does not start
    with a start code as one)."""
    return len(record) >= 23 and bool(record[0] or record[1] or record[2] > 1)


def avcc_units(record: memoryview) -> list[bytes]:
    """The NAL units of an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 5.3.3.1): its sequence, then picture
    parameter sets, which FFmpeg's decoder reads at the start whatever their type; none for other data."""
    if not _is_avcc(record):
        return []
    sets, offset = _length_prefixed(record, 6, record[5] & 0x1F)
    return sets + _length_prefixed(record, offset + 1, record[offset] if offset < len(record) else 0)[0]


def hvcc_units(record: memoryview) -> list[bytes]:
    """The NAL units of an HEVCDecoderConfigurationRecord (ISO/IEC 14496-15 8.3.3.1), in all its arrays; none for
    data that starts with a start code (FFmpeg takes any other configuration as a record)."""
    if not _is_hvcc(record):
        return []
    units, offset = [], 23
    for _ in range(record[22]):
        found, offset = _length_prefixed(record, offset + 3, int.from_bytes(record[offset + 1:offset + 3], "big"))
        units += found
    return units


def _prefixed_units(packet: memoryview, length_size: int | None) -> Iterator[memoryview]:
    """The NAL units of a packet in which each follows its length (`length_size` bytes, from the stream's avcC or
    hvcC record: packets that OpenCV did not turn into start codes, as in AVI); none without a record. A packet of
    more than MAX_UNITS units (a real one has tens) is refused: each costs a step here, and a few bytes there.
    A length that runs past the packet's end ends it: FFmpeg's decoder refuses such a packet whole ("Invalid NAL unit
    size"). A packet in start codes, read this way, gives a unit of length 1 and then a slice's bytes as a length, far
    past its end; read on, the ninth byte of about 1 packet in 64 looked like a sequence parameter set, and its slice
    data declared a frame of 50331648x192 that refused ordinary phone videos."""
    offset, count = 0, 0
    while length_size and offset + length_size <= len(packet):
        count += 1
        if count > MAX_UNITS:
            raise CorruptMedia(Phrase(TOO_MANY_UNITS))
        length = int.from_bytes(packet[offset:offset + length_size], "big")
        offset += length_size
        if length > len(packet) - offset:
            return
        yield packet[offset:offset + length]
        offset += length


def _h264_unit_sizes(units: Iterable[memoryview | bytes]) -> Iterator[Size]:
    for unit in units:
        if unit[:1] and unit[0] & 0x9F == H264_SPS_TYPE:  # forbidden bit clear, any reference priority
            yield from _h264_readings(bytes(unit[1:]))


def _hevc_unit_sizes(units: Iterable[memoryview | bytes]) -> Iterator[Size]:
    for unit in units:
        if len(unit) > 2 and unit[0] == HEVC_SPS_HEADER and 1 <= unit[1] <= 7:  # layer 0, any temporal id
            yield from _hevc_readings(bytes(unit[2:]))


def h264_sizes(packet: memoryview, length_size: int | None = None) -> Iterator[Size]:
    """The coded sizes of every H.264 sequence parameter set in a packet: after start codes, and in
    length-prefixed units when the stream's record gives their `length_size`."""
    yield from _parameter_set_sizes(packet, H264_SPS_START, _h264_readings)
    yield from _h264_unit_sizes(_prefixed_units(packet, length_size))


def hevc_sizes(packet: memoryview, length_size: int | None = None) -> Iterator[Size]:
    """The coded size of every HEVC sequence parameter set of layer 0 in a packet, as h264_sizes reads them."""
    yield from _parameter_set_sizes(packet, HEVC_SPS_START, _hevc_readings)
    yield from _hevc_unit_sizes(_prefixed_units(packet, length_size))


def avcc_sizes(configuration: memoryview) -> Iterator[Size]:
    """The sizes in an H.264 configuration: an avcC record's parameter sets, or sets after start codes."""
    yield from _h264_unit_sizes(avcc_units(configuration))
    yield from h264_sizes(configuration)


def hvcc_sizes(configuration: memoryview) -> Iterator[Size]:
    """The sizes in an HEVC configuration: an hvcC record's parameter sets, or sets after start codes."""
    yield from _hevc_unit_sizes(hvcc_units(configuration))
    yield from hevc_sizes(configuration)


# A packet FFmpeg's H.264 decoder takes as new parameter sets (h264dec.c: a stream configured by an avcC record, a
# packet whose bytes 0, 2 and 4 look like one's, `is_avcc_extradata`): its first sequence parameter set's header byte
# at offset 8. OpenCV's start-code filter refuses such a packet and its packet reader stops there, so the packets'
# scan never sees it, nor any after it: the file's bytes are searched for it instead (`in_band_avcc_sizes`).
# (overlapping matches: a decoy run just before a record, matched and then refused, hid the record inside it)
IN_BAND_AVCC = re.compile(rb"(?=\x01[\x00-\xff]\x00[\x00-\xff][\xfc-\xff][\x00-\xff]{3}[\x07\x27\x47\x67])")
IN_BAND_AVCC_BYTES = 9  # the bytes of such a packet's start that IN_BAND_AVCC reads
SPS_BYTES_READ = 1 << 14  # of an in-band set: past its sizes' fields (at most some 4 KB of scaling lists and cycles)
MAX_IN_BAND_LOOKS = 4096  # runs of a file that look like such a packet's start (ordinary sound: some hundreds)
MAX_IN_BAND_SETS = 64  # sequence parameter sets read from such records (an ordinary file has none)
IN_BAND_LOOKS = N_("The video holds far more runs of bytes that look like H.264 parameter sets than a video has: it "
                   "cannot be checked.")


def _decoder_takes_as_avcc(data: bytes | FileBytes, start: int) -> list[tuple[int, int]]:
    """FFmpeg's is_avcc_extradata on the bytes from `start`: one or more sequence parameter sets (NAL type 7), then
    one or more picture parameter sets (type 8), each after its 16-bit length, all within the data; the sequence
    sets' (offset, length), or none when the decoder would not take it. Read in place: a set can be 64 KB long."""
    offset, found = start + 5, []
    for unit_type in (7, 8):
        if offset >= len(data):
            return []
        count = data[offset] & 0x1F if unit_type == 7 else data[offset]
        offset += 1
        if not count:
            return []
        for _ in range(count):
            if offset + 3 > len(data):
                return []
            size = int.from_bytes(data[offset:offset + 2], "big")
            if size + 2 > len(data) - offset or data[offset + 2] & 0x9F != unit_type:
                return []
            if unit_type == 7:
                found.append((offset + 2, size))
            offset += size + 2
    return found


def in_band_avcc_sizes(data: bytes | FileBytes) -> Iterator[Size]:
    """The sizes of the sequence parameter sets of every run of `data` (a video file's bytes: a packet's bytes lie
    together in it, whatever the container) that FFmpeg's decoder would take as an avcC record sent as a packet.
    CorruptMedia past MAX_IN_BAND_LOOKS runs that look like one (each costs a few microseconds to check)."""
    read: set[tuple[int, int]] = set()  # records may share their sets: each is read once
    for looks, start in enumerate(_in_band_avcc_looks(data), start=1):
        if looks > MAX_IN_BAND_LOOKS:
            raise CorruptMedia(Phrase(IN_BAND_LOOKS))
        for unit in _decoder_takes_as_avcc(data, start):
            if unit not in read:
                read.add(unit)
                if len(read) > MAX_IN_BAND_SETS:
                    raise CorruptMedia(Phrase(IN_BAND_LOOKS))
                yield from _h264_unit_sizes([data[unit[0]:unit[0] + min(unit[1], SPS_BYTES_READ)]])


def _in_band_avcc_looks(data: bytes | FileBytes) -> Iterator[int]:
    """Where each run of `data` that IN_BAND_AVCC matches starts, in order (a file searched a window at a time)."""
    windows = data.windows(IN_BAND_AVCC_BYTES - 1) if isinstance(data, FileBytes) else [(0, data, len(data))]
    for window_start, window, searched_end in windows:
        for match in IN_BAND_AVCC.finditer(window):
            if match.start() >= searched_end:
                break  # the next window's
            yield window_start + match.start()


def avcc_length_size(configuration: memoryview) -> int | None:
    """The bytes of each NAL unit's length in packets an avcC record describes; None for other configurations."""
    return (configuration[4] & 3) + 1 if _is_avcc(configuration) else None


def hvcc_length_size(configuration: memoryview) -> int | None:
    """The bytes of each NAL unit's length in packets an hvcC record describes; None for other configurations."""
    return (configuration[21] & 3) + 1 if _is_hvcc(configuration) else None


def mpeg4_vol_size(payload: bytes) -> Size | None:
    """The (width, height) of an MPEG-4 Part 2 video object layer header (its bits after the start code; ISO/IEC
    14496-2 6.2.3), None for a layer that is not rectangular."""
    bits = BitReader(payload)
    bits.bits(1)  # random accessible
    if bits.bits(8) in MPEG4_STUDIO_TYPES:
        return _mpeg4_studio_size(bits)
    version = 1
    if bits.bits(1):  # layer identifier
        version = bits.bits(4)
        bits.bits(3)  # priority
    if bits.bits(4) == 15:  # an extended pixel aspect ratio
        bits.bits(16)
    if bits.bits(1):  # control parameters
        bits.bits(3)  # chroma format, low delay
        bits.bits(MPEG4_VBV_BITS * bits.bits(1))
    shape = bits.bits(2)
    bits.bits(4 if shape == 3 and version != 1 else 0)  # grey-scale shape extension
    bits.bits(1)
    resolution = bits.bits(16)
    bits.bits(1)
    if bits.bits(1):  # a fixed time increment
        bits.bits(max(1, (resolution - 1).bit_length()))
    if shape:
        return None
    bits.bits(1)
    width = bits.bits(13)
    bits.bits(1)
    return width, bits.bits(13)


def _mpeg4_studio_size(bits: BitReader) -> Size | None:
    """The (width, height) of a studio profile layer header after its object type (14-bit sizes, read as FFmpeg's
    decode_studio_vol_header does), None for a layer that is not rectangular."""
    bits.bits(4)  # layer version
    if bits.bits(2):  # shape
        return None
    bits.bits(4 + 1 + 1 + 2 + 4 + 1)  # shape extension, progressive, RGB, chroma format, bit depth, marker
    width = bits.bits(14)
    bits.bits(1)
    return width, bits.bits(14)


def mpeg4_sizes(packet: memoryview) -> Iterator[Size]:
    """The size of every rectangular MPEG-4 Part 2 video object layer header in a packet."""
    for header in MPEG4_VOL_START.finditer(packet):
        size = mpeg4_vol_size(bytes(packet[header.end():header.end() + MPEG4_VOL_BYTES]))
        if size:
            yield size


def _vp9_colour(bits: BitReader, profile: int) -> tuple[int, int]:
    """A VP9 frame's colour configuration (6.2.2): its chroma format (as H.264 numbers it) and bit depth."""
    bit_depth = (12 if bits.bits(1) else 10) if profile >= 2 else 8
    if bits.bits(3) == 7:  # RGB: 4:4:4
        bits.bits(profile in (1, 3))
        return 3, bit_depth
    bits.bits(1)  # range
    if profile not in (1, 3):
        return 1, bit_depth
    across, down = bits.bits(1), bits.bits(1)
    bits.bits(1)
    return (1 if down else 2) if across else (4 if down else 3), bit_depth


def vp9_frame_size(header: bytes) -> Size | None:
    """The (width, height) an uncompressed VP9 frame header gives (VP9 bitstream specification 6.2): key and
    intra-only frames always, inter frames when they take no reference frame's size; None otherwise."""
    bits = BitReader(header)
    if bits.bits(2) != 2:  # frame marker
        return None
    profile = bits.bits(1) | bits.bits(1) << 1
    bits.bits(profile == 3)
    if bits.bits(1):  # shows an earlier frame
        return None
    key_frame, show_frame, error_resilient = not bits.bits(1), bits.bits(1), bits.bits(1)
    intra_only = not key_frame and not show_frame and bits.bits(1)
    bits.bits(0 if key_frame or error_resilient else 2)  # reset frame context
    if key_frame or intra_only:
        if bits.bits(24) != VP9_SYNC_CODE:
            return None
        colour = _vp9_colour(bits, profile) if key_frame or profile else (1, 8)
        bits.bits(0 if key_frame else 8)  # refresh flags
        return FrameFormat(bits.bits(16) + 1, bits.bits(16) + 1, *colour)
    bits.bits(8 + 3 * 4)  # refresh flags; three references, each with its sign bias
    for _ in range(3):
        if bits.bits(1):  # the size of a reference frame, already checked
            return None
    return bits.bits(16) + 1, bits.bits(16) + 1


def _vp9_frames(packet: memoryview) -> Iterator[memoryview]:
    """The frames of a packet: those a superframe index lists, or the packet itself."""
    marker = packet[-1] if len(packet) else 0
    count, width = (marker & 7) + 1, ((marker >> 3) & 3) + 1
    index_size = 2 + width * count
    if marker & 0xE0 != VP9_SUPERFRAME_MARKER or len(packet) < index_size or packet[-index_size] != marker:
        yield packet
        return
    offset, index = 0, len(packet) - index_size + 1
    for start in range(index, index + width * count, width):
        size = int.from_bytes(packet[start:start + width], "little")
        yield packet[offset:offset + size]
        offset += size


def vp9_sizes(packet: memoryview) -> Iterator[Size]:
    """The size of every VP9 frame in a packet (a superframe holds several) whose header gives one."""
    for frame in _vp9_frames(packet):
        size = vp9_frame_size(bytes(frame[:VP9_HEADER_BYTES]))
        if size:
            yield size


def _skip_uvlc(bits: BitReader) -> None:
    zeros = 0
    while zeros < 32 and not bits.bits(1):
        zeros += 1
    bits.bits(zeros if zeros < 32 else 0)


def av1_sequence_size(payload: bytes) -> FrameFormat:
    """The largest (width, height) an AV1 sequence header allows its frames (AV1 specification 5.5), with its
    colour."""
    bits = BitReader(payload)
    profile = bits.bits(3)
    bits.bits(1)  # still picture
    reduced = bits.bits(1)  # a reduced still picture header
    if reduced:
        bits.bits(5)
    else:
        decoder_model = delay_bits = 0
        if bits.bits(1):  # timing info
            bits.bits(32 + 32)
            if bits.bits(1):  # equal picture intervals
                _skip_uvlc(bits)
            decoder_model = bits.bits(1)
            if decoder_model:
                delay_bits = bits.bits(5) + 1
                bits.bits(32 + 5 + 5)
        display_delay = bits.bits(1)
        for _ in range(bits.bits(5) + 1):  # operating points
            bits.bits(12)
            bits.bits(bits.bits(5) > 7)  # level, tier
            if decoder_model and bits.bits(1):
                bits.bits(2 * delay_bits + 1)
            if display_delay and bits.bits(1):
                bits.bits(4)
    width_bits, height_bits = bits.bits(4) + 1, bits.bits(4) + 1
    width, height = bits.bits(width_bits) + 1, bits.bits(height_bits) + 1
    return FrameFormat(width, height, *_av1_colour(bits, profile, reduced))


def _av1_colour(bits: BitReader, profile: int, reduced: bool) -> tuple[int, int]:
    """An AV1 sequence header's chroma format (as H.264 numbers it) and bit depth, read after its size (5.5.1-2)."""
    if not reduced and bits.bits(1):  # frame id numbers
        bits.bits(4 + 3)
    bits.bits(3)  # 128x128 superblocks, filter intra, intra edge filter
    if not reduced:
        bits.bits(4)  # inter-intra and masked compounds, warped motion, dual filter
        order_hint = bits.bits(1)
        bits.bits(2 * order_hint)  # joint compound, reference motion vectors
        screen_content = 2 if bits.bits(1) else bits.bits(1)  # chosen per frame, or forced on or off
        if screen_content and not bits.bits(1):  # integer motion vectors forced one way
            bits.bits(1)
        bits.bits(3 * order_hint)  # order hint bits
    bits.bits(3)  # super-resolution, CDEF, loop restoration
    high = bits.bits(1)
    bit_depth = (12 if bits.bits(1) else 10) if profile == 2 and high else 10 if high else 8
    monochrome = profile != 1 and bits.bits(1)
    primaries, transfer, matrix = (bits.bits(8), bits.bits(8), bits.bits(8)) if bits.bits(1) else (2, 2, 2)
    if monochrome:
        return 0, bit_depth
    if (primaries, transfer, matrix) == (1, 13, 0):  # sRGB: 4:4:4
        return 3, bit_depth
    bits.bits(1)  # range
    if profile != 2:
        return 1 if profile == 0 else 3, bit_depth
    if bit_depth == 12 and bits.bits(1):  # subsampled across
        return (1 if bits.bits(1) else 2), bit_depth
    return (2 if bit_depth != 12 else 3), bit_depth


def _leb128(data: memoryview, offset: int) -> tuple[int, int]:
    value = 0
    for index in range(8):
        if offset + index >= len(data):
            break
        value |= (data[offset + index] & 0x7F) << (7 * index)
        if not data[offset + index] & 0x80:
            return value, offset + index + 1
    raise ValueError("not a LEB128 number")


def av1_sizes(packet: memoryview) -> Iterator[Size]:
    """The largest frame size of every AV1 sequence header in a packet (a temporal unit of OBUs), or in the
    stream's configuration record."""
    for kind, payload in av1_obus(packet):
        if kind == AV1_SEQUENCE_HEADER:
            yield av1_sequence_size(bytes(payload))


def av1_obus(packet: memoryview) -> Iterator[tuple[int, memoryview]]:
    """(type, payload) of each OBU in a packet, or in the stream's configuration record (after its 4 bytes), up to
    one whose size field is not a number; one without a size field runs to the packet's end."""
    offset = 4 if len(packet) > 4 and packet[0] == AV1_CONFIG_MARKER else 0
    while offset < len(packet):
        header = packet[offset]
        offset += 2 if header & 4 else 1  # with an extension byte
        end = len(packet)
        if header & 2:  # a size field
            try:
                size, offset = _leb128(packet, offset)
            except ValueError:
                return
            end = offset + size
        yield (header >> 3) & 15, packet[offset:end]
        offset = end


def mpeg12_sizes(packet: memoryview) -> Iterator[Size]:
    """The size of every MPEG-1/2 sequence header in a packet, with the high bits a sequence extension adds (each
    extension taken with the header before it in the packet, or with the largest low bits if there is none)."""
    width = height = 0xFFF
    for header in MPEG12_START.finditer(packet):
        fields = bytes(packet[header.end():header.end() + 3]).ljust(3, b"\0")
        if header.group(1) == b"\xb3":
            width, height = fields[0] << 4 | fields[1] >> 4, (fields[1] & 0xF) << 8 | fields[2]
            yield width, height
        elif fields[0] >> 4 == 1 and (extension := (fields[1] & 1) << 3 | fields[2] >> 5):  # a sequence extension
            yield (extension >> 2) << 12 | width, (extension & 3) << 12 | height


def prores_sizes(packet: memoryview) -> Iterator[Size]:
    """The size in a ProRes frame header."""
    if len(packet) >= 20 and bytes(packet[4:8]) == b"icpf":
        yield int.from_bytes(packet[16:18], "big"), int.from_bytes(packet[18:20], "big")


def dnxhd_sizes(packet: memoryview) -> Iterator[Size]:
    """The size in a DNxHD/DNxHR frame header. An interlaced frame's header may give one field's height: FFmpeg
    doubles it when its macroblock rows (at 0x16C) are a field's."""
    if len(packet) >= 0x1C:
        width, height = int.from_bytes(packet[0x1A:0x1C], "big"), int.from_bytes(packet[0x18:0x1A], "big")
        field_rows = packet[5] & 2 and (height + 15) >> 4 == int.from_bytes(packet[0x16C:0x16E], "big")
        yield width, 2 * height if field_rows else height


def container_sized(packet: memoryview) -> Iterator[Size]:
    """Nothing: the codec's frames take the size the container's header gives, which is checked."""
    return iter(())


# The packet sizers of codecs whose packets read the same whatever the stream's configuration (H.264 and HEVC
# depend on it: sizer_for and configuration_sizes).
SIZERS: dict[str, PacketSizer] = {
    VP8_TAG: vp8_sizes, **dict.fromkeys(VP9_TAGS, vp9_sizes), **dict.fromkeys(AV1_TAGS, av1_sizes),
    **dict.fromkeys(MPEG4_TAGS, mpeg4_sizes), **dict.fromkeys(MPEG12_TAGS, mpeg12_sizes),
    **dict.fromkeys(JPEG_TAGS, jpeg_sizes), **dict.fromkeys(PICTURE_TAGS, picture_sizes),
    **dict.fromkeys(PRORES_TAGS, prores_sizes), **dict.fromkeys(DNXHD_TAGS, dnxhd_sizes),
    **dict.fromkeys(CONTAINER_SIZED_TAGS, container_sized),
}


def mpeg_sizes(configuration: memoryview) -> Iterator[Size]:
    """The sizes in an MPEG-4 elementary stream descriptor: an MPEG-4 layer or an MPEG-1/2 sequence header."""
    yield from mpeg4_sizes(configuration)
    yield from mpeg12_sizes(configuration)


CONFIG_SIZERS: dict[bytes, PacketSizer] = {b"avcC": avcc_sizes, b"hvcC": hvcc_sizes, b"av1C": av1_sizes,
                                            b"esds": mpeg_sizes}
CONFIG_BOX = re.compile(b"|".join(CONFIG_SIZERS))  # a box type, after its 4-byte size


def movie_config_sizes(movie: memoryview) -> Iterator[Size]:
    """The frame sizes in every codec configuration box (avcC, hvcC, av1C, esds) of an MP4 or MOV movie box, in
    any track or sample description: a track may hold several descriptions, and FFmpeg hands a later one to the
    decoder with the first packet that uses it, where the packets themselves never show its parameter sets.
    UnsupportedMediaType for a compressed movie box (cmov, an old QuickTime form), whose boxes cannot be read."""
    if COMPRESSED_MOVIE.search(movie):
        raise UnsupportedMediaType(Phrase(COMPRESSED_INDEX))
    for found in CONFIG_BOX.finditer(movie):
        start = found.start() - 4
        size = int.from_bytes(movie[start:found.start()], "big") if start >= 0 else 0
        if size >= 8:
            yield from CONFIG_SIZERS[bytes(found.group())](movie[found.end():start + size])


def configuration_sizes(tag: str, configuration: memoryview) -> Iterator[Size]:
    """The sizes in a stream's codec configuration (OpenCV's extradata), read as its codec's records are."""
    if tag in H264_TAGS:
        return avcc_sizes(configuration)
    if tag in HEVC_TAGS:
        return hvcc_sizes(configuration)
    sizes = SIZERS.get(tag)
    return sizes(configuration) if sizes else iter(())


def sizer_for(tag: str, configuration: memoryview = memoryview(b"")) -> PacketSizer | None:
    """The packet sizer for a stream's codec tag as OpenCV reports it (upper case), reading NAL units the way the
    stream's configuration says they are framed; None for a codec whose frame sizes are not read here, which is
    not decoded."""
    if tag in H264_TAGS:
        return partial(h264_sizes, length_size=avcc_length_size(configuration))
    if tag in HEVC_TAGS:
        return partial(hevc_sizes, length_size=hvcc_length_size(configuration))
    return SIZERS.get(tag)

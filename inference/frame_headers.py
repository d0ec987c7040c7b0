"""Frame sizes that a video's packets declare, read from their headers without decoding.

A decoder sizes its buffers from headers inside the stream, and a stream may change size at any packet: a first
frame of 64x64 says nothing of the next, and a 50 KB H.264 file can hold a 16000x16000 frame that costs 600 MB to
decode. Each sizer here yields the (width, height) that one packet's headers give: JPEG frame headers, VP8 key
frames, frames stored as picture files (PNG, TIFF, BMP, GIF, WebP, JPEG 2000, QOI), and the sequence parameter
sets of H.264 and HEVC (the coded size, which is what the decoder allocates: 1920x1080 is coded 1920x1088).
Packets of H.264 and HEVC come in Annex B form (start codes), as OpenCV hands them over from MP4, MOV, Matroska and
AVI alike. VP9, AV1 and MPEG-4 Part 2 headers are not read here.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator

from PIL import Image

from inference.errors import MediaTooLarge
from messages import N_, Phrase

Size = tuple[int, int]
PacketSizer = Callable[[memoryview], Iterator[Size]]
FRAME_TOO_MANY_PIXELS = N_("A frame of the video has too many pixels to analyse.")
# Codec tags (upper case) that FFmpeg decodes as JPEG images (libavformat's riff.c and isom tags); in Matroska OpenCV
# reports MJPEG as MJPG, VP8 as VP80.
JPEG_TAGS = frozenset(("MJPG", "LJPG", "DMB1", "MJPA", "JPGL", "MJLS", "JPEG", "IJPG", "AVRN", "ACDV", "QIVG", "SLMJ",
                       "CJPG", "IJLV", "MVJP", "AVI1", "JR24", "AVDJ"))
VP8_TAG = "VP80"
# Tags of H.264 and HEVC (riff.c and isom.c; OpenCV reports H264 and HEVC for MP4, MOV and Matroska).
H264_TAGS = frozenset(("H264", "X264", "AVC1", "AVC3", "DAVC", "SMV2", "VSSH", "Q264", "V264", "GAVC", "UMSV", "TSHD",
                       "INMC"))
HEVC_TAGS = frozenset(("HEVC", "H265", "X265", "HVC1", "HEV1", "DVHE", "DVH1"))
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
H264_HIGH_PROFILES = frozenset((100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135))
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
        self._value = int.from_bytes(payload, "big")
        self._size = 8 * len(payload)
        self._position = 0

    def bits(self, count: int) -> int:
        """The next `count` bits as an unsigned number."""
        start, self._position = self._position, self._position + count
        end = min(self._position, self._size)
        if start >= end:
            return 0
        chunk = (self._value >> (self._size - end)) & ((1 << (end - start)) - 1)
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


def h264_sps_size(payload: bytes) -> Size:
    """The coded (width, height) an H.264 sequence parameter set gives (its payload after the NAL header, emulation
    prevention bytes removed), from its fields up to the frame size (ITU-T H.264 7.3.2.1.1)."""
    bits = BitReader(payload)
    profile = bits.bits(8)
    bits.bits(16)  # constraint flags, level
    bits.ue()  # parameter set id
    if profile in H264_HIGH_PROFILES:
        chroma_format = bits.ue()
        bits.bits(chroma_format == 3)  # separate colour planes
        bits.ue()  # luma bit depth
        bits.ue()  # chroma bit depth
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
    bits.ue()  # reference frames
    bits.bits(1)  # gaps allowed
    width_in_macroblocks, height_in_map_units = bits.ue() + 1, bits.ue() + 1
    frames_only = bits.bits(1)
    return 16 * width_in_macroblocks, 16 * height_in_map_units * (2 - frames_only)


def hevc_sps_size(payload: bytes) -> Size:
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
    bits.bits(bits.ue() == 3)  # separate colour planes, with 4:4:4 chroma
    return bits.ue(), bits.ue()


def _parameter_set_sizes(packet: memoryview, start: re.Pattern[bytes], size_of: Callable[[bytes], Size],
                         ) -> Iterator[Size]:
    for header in start.finditer(packet):
        end = NAL_END.search(packet, header.end())
        escaped = bytes(packet[header.end():end.start() if end else len(packet)])
        try:
            yield size_of(EMULATION_PREVENTION.sub(b"\x00\x00", escaped))
        except ValueError:  # a malformed set, which the decoder refuses too
            continue


def h264_sizes(packet: memoryview) -> Iterator[Size]:
    """The coded size of every H.264 sequence parameter set in a packet."""
    return _parameter_set_sizes(packet, H264_SPS_START, h264_sps_size)


def hevc_sizes(packet: memoryview) -> Iterator[Size]:
    """The coded size of every HEVC sequence parameter set of layer 0 in a packet."""
    return _parameter_set_sizes(packet, HEVC_SPS_START, hevc_sps_size)


def sizer_for(tag: str) -> PacketSizer:
    """The packet sizer for a stream's codec tag (upper case); picture files for any other tag."""
    if tag in JPEG_TAGS:
        return jpeg_sizes
    if tag in H264_TAGS:
        return h264_sizes
    if tag in HEVC_TAGS:
        return hevc_sizes
    return vp8_sizes if tag == VP8_TAG else picture_sizes

"""A video file checked before its frames are decoded, in a process of its own with a ceiling on its memory.

`probe_video` (at upload, and before a job decodes the file) and `check_stored_video` (before the scrubber or a
crop decodes a stored file) read the container's index and metadata, the stream's header and every packet's frame
size without decoding (inference.frame_headers, movie_index, container_metadata). But FFmpeg decodes a frame of
*every* video stream when it opens a file, to learn its pixel format, before any of that can be read: a 735 KB
Matroska file of a 64x64 track and a 16000x16000 one took 580 MB to open, three such tracks 1.7 GB, at every
opening. So each check runs in a child process (`python -m inference.video_check`, torch-free, started in about
0.3 s) whose address space may grow by at most CHECK_MEMORY past what it needs to start: a file that needs more to
open is refused (NEEDS_TOO_MUCH_MEMORY) and never stored. The frames themselves are decoded in a child too
(inference.video_decode), under a ceiling of its own: no video is opened in the app's own processes.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from inference.child import MemoryCeiling, NO_ANSWER, answer_of, answered, read_back, run_for, run_reserved
from inference.container_metadata import check_container_metadata
from inference.errors import CorruptMedia, MediaError, MediaTooLarge, UnsupportedMediaType
from inference.file_bytes import FileBytes
from inference.formats import ISO_MOVIES, FileFormat
from inference.frame_headers import (H264_TAGS, FrameFormat, Size, configuration_sizes, in_band_avcc_sizes,
                                     movie_config_sizes, sizer_for)
from inference.images import HEIF_BRANDS
from inference.movie_index import check_movie_index, index_boxes
from messages import N_, Phrase

log = logging.getLogger(__name__)

MAX_FRAME_RATE = 60.0  # frames per second of video, on average, that are worth decoding (phones film at 30 or 60)
TOO_MANY_FRAMES = N_("The video has more than %(frames)s frames; the limit is %(seconds).0f s at %(fps).0f frames per "
                     "second.")
FRAMES_TOO_LARGE = N_("The video is %(width)dx%(height)d; the limit is about 4K (8.3 megapixels).")
LASTS_TOO_LONG = N_("The video lasts %(seconds).0f s; the limit is %(limit).0f s.")
RUNS_PAST_LIMIT = N_("The video is longer than the %(limit).0f s limit.")
UNSUPPORTED_CODEC = N_("The video's codec (%(codec)s) is not supported; H.264, HEVC, VP8, VP9, AV1, MPEG-4 and other "
                       "common codecs are.")
LIMIT_REASONS = (TOO_MANY_FRAMES, FRAMES_TOO_LARGE, LASTS_TOO_LONG, RUNS_PAST_LIMIT)  # with figures, as jobs store them
DEFAULT_MAX_PIXELS = 8_300_000  # about 4K: 3840x2160
CANNOT_OPEN = N_("The video cannot be opened: it is cut short or damaged, has no picture, or has more than "
                 "%(streams)d tracks (picture, sound, subtitles).")
RICH_COLOUR = N_("The video is %(width)dx%(height)d with richer colour (%(colour)s), which takes more memory to "
                 "decode: such videos are limited to %(limit).1f megapixels. Share it at a lower resolution or in "
                 "standard colour.")
HELD_FRAMES = 9  # 4K frames a decoder may hold at once (references and the frame decoded): 4K with 8 references
                 # (x264's "slower") takes 306 MB to decode, as an ordinary 4K AV1 clip does; with 16, 437 MB
MANY_REFERENCES = N_("The video is %(width)dx%(height)d and its frames refer back to as many as %(frames)d others, "
                     "which takes more memory to decode than this app allows; share it as an ordinary phone video.")
PACKETS_PER_FRAME = 2  # packets read per frame of the budget (VP8's hidden frames are packets too)
SIZES_PER_FRAME = 4  # sizes read per frame of the budget (an MJPEG thumbnail, an H.264 set read two ways: two a frame)
def sniff_video(head: bytes) -> FileFormat | None:
    """The container named by a file's first bytes (MP4, MOV, WebM/Matroska, AVI), else None (HEIC and AVIF photos
    are ISO files too: their brands leave them to the photo path, which names them)."""
    if len(head) >= 12 and head[4:8] == b"ftyp" and head[8:12] not in HEIF_BRANDS:
        return FileFormat.MOV if head[8:10] == b"qt" else FileFormat.MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return FileFormat.WEBM
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return FileFormat.AVI
    return None


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int

    @property
    def duration(self) -> float:
        return self.frame_count / self.fps if self.fps > 0 else 0.0


# FFmpeg opens a decoder for every stream while it probes a file: an 88 KB MP4 of 100 copies of one 4K track cost
# 2 GB before any check. A phone's video has a few streams (video, audio, metadata); more are refused when opened.
MAX_STREAMS = 16
DECODER_THREADS = 2  # OpenCV's default is one per core: each holds frames, so memory grew with the server's cores


def _ffmpeg_options() -> str:
    """OPENCV_FFMPEG_CAPTURE_OPTIONS (FFmpeg's options for every capture, read at each open) with max_streams."""
    options = [option for option in os.environ.get("OPENCV_FFMPEG_CAPTURE_OPTIONS", "").split("|")
               if option and not option.startswith("max_streams;")]
    return "|".join([*options, f"max_streams;{MAX_STREAMS}"])


os.environ["OPENCV_FFMPEG_CAPTURE_OPTIONS"] = _ffmpeg_options()

# The most FFmpeg may allocate at once, in every process that reads videos (its av_max_alloc; INT_MAX by default): a
# 4K frame's largest buffer takes 50 MB (16-bit 4:4:4), and one 12000x12000 16-bit RGBA PNG frame 1.15 GB, which
# the check's ceiling refused quietly (FFmpeg left that track out, and the file passed) while the app's processes,
# which have none, allocated it at every opening.
MAX_FFMPEG_ALLOCATION = 256 * 2**20


def _cap_ffmpeg_allocations() -> None:
    """av_max_alloc(MAX_FFMPEG_ALLOCATION) in the libavutil OpenCV loaded (found among this process's mapped files:
    the wheel's own copy, or the system's)."""
    with open("/proc/self/maps") as maps:
        libraries = {line.split()[-1] for line in maps if "/libavutil" in line}
    for library in libraries:
        ctypes.CDLL(library).av_max_alloc(ctypes.c_size_t(MAX_FFMPEG_ALLOCATION))
    if not libraries:
        log.warning("FFmpeg's libavutil was not found among the loaded libraries: its allocations are not capped")


_cap_ffmpeg_allocations()


def open_capture(path: Path, packets: bool = False) -> cv2.VideoCapture:
    """A capture of the file's decoded frames, or with `packets` of its undecoded packets."""
    parameters = [cv2.CAP_PROP_N_THREADS, DECODER_THREADS] + ([cv2.CAP_PROP_FORMAT, -1] if packets else [])
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG, parameters)
    if not capture.isOpened():
        capture.release()
        raise CorruptMedia(Phrase(CANNOT_OPEN, streams=MAX_STREAMS))
    return capture


def frame_budget(max_seconds: float) -> int:
    """The most frames decoded from one video: its longest length at MAX_FRAME_RATE."""
    return int(max_seconds * MAX_FRAME_RATE)


def too_many_frames(max_seconds: float) -> MediaTooLarge:
    return MediaTooLarge(Phrase(TOO_MANY_FRAMES, frames=f"{frame_budget(max_seconds):,}", seconds=max_seconds,
                                fps=MAX_FRAME_RATE))


# FFmpeg's raw pixel-format tags (OpenCV's CAP_PROP_CODEC_PIXEL_FORMAT) of 8-bit formats -> samples per pixel
EIGHT_BIT_SAMPLES = {b"I420": 1.5, b"YV12": 1.5, b"NV12": 1.5, b"NV21": 1.5, b"Y800": 1.0, b"GREY": 1.0,
                     b"Y42B": 2.0, b"YUY2": 2.0, b"UYVY": 2.0, b"444P": 3.0}
DEEP_CHROMA = {11: (1.5, "4:2:0"), 10: (2.0, "4:2:2"), 0: (3.0, "4:4:4")}  # 'Y3', chroma code, bits: FFmpeg's raw.c
DEEP_PLANES = {b"Y3": 0.0, b"Y4": 1.0}  # YUV, and YUV with an alpha plane (one more sample a pixel)
DEEP_RGB = {b"G3": 3.0, b"G4": 4.0}  # planar RGB (4:4:4 H.264/HEVC coded as GBR), and with alpha: 'G3', 0, bits


@dataclass(frozen=True)
class FrameCost:
    """How much memory a frame of a stream's pixel format takes to decode, against 8-bit 4:2:0 (a phone's usual
    video): 10-bit or more doubles it, 4:4:4 colour doubles it. The pixel limit is divided by it."""

    weight: float = 1.0
    colour: str = ""  # in words ("10-bit 4:2:0"), for the message; empty for 8-bit 4:2:0 or an unknown format

    @classmethod
    def of(cls, capture: cv2.VideoCapture) -> FrameCost:
        code = int(capture.get(cv2.CAP_PROP_CODEC_PIXEL_FORMAT))
        tag = code.to_bytes(4, "little") if 0 <= code < 2**32 else b""
        if tag[:2] in DEEP_PLANES and tag[2] in DEEP_CHROMA:
            samples, chroma = DEEP_CHROMA[tag[2]]
            return cls((samples + DEEP_PLANES[tag[:2]]) / 1.5 * (2 if tag[3] > 8 else 1), f"{tag[3]}-bit {chroma}")
        if tag[:2] in DEEP_RGB:
            return cls(DEEP_RGB[tag[:2]] / 1.5 * (2 if tag[3] > 8 else 1), f"{tag[3]}-bit RGB")
        samples = EIGHT_BIT_SAMPLES.get(tag, 1.5)
        return cls(samples / 1.5, "8-bit 4:4:4" if samples == 3.0 else "8-bit 4:2:2" if samples == 2.0 else "")


def _check_decoder_memory(size: Size, max_pixels: int) -> None:
    """For a sequence header's size (frame_headers.FrameFormat: an H.264 or HEVC parameter set, a VP9 key frame, an
    AV1 sequence header): its own colour weighed as the stream header's is (`_check_frame_size`), and the frames its
    decoder holds at once against HELD_FRAMES full-size 8-bit 4:2:0 ones (a phone's 4K stream keeps 5 or 6). A
    stream that switched to 3840x2160 10-bit 4:4:4 with 16 references after a 64x64 first frame took 960 MB to
    decode."""
    if not isinstance(size, FrameFormat):
        return
    width, height = size
    _check_frame_size(width, height, max_pixels, FrameCost(size.weight, size.colour))
    if width * height * size.weight * size.frames > max_pixels * HELD_FRAMES:
        raise MediaTooLarge(Phrase(MANY_REFERENCES, width=width, height=height, frames=size.frames - 1))


def _check_frame_size(width: int, height: int, max_pixels: int, cost: FrameCost = FrameCost()) -> None:
    if width * height * cost.weight <= max_pixels:
        return
    if cost.weight > 1 and width * height <= max_pixels:
        raise MediaTooLarge(Phrase(RICH_COLOUR, width=width, height=height, colour=cost.colour,
                                   limit=max_pixels / cost.weight / 1e6))
    raise MediaTooLarge(Phrase(FRAMES_TOO_LARGE, width=width, height=height))


def _probe_here(path: Path, max_seconds: float, max_pixels: int) -> VideoInfo:
    """`probe_video` in this process.

    The frame size is checked from the stream's header, and the sizes that every later packet gives itself
    (scan_frame_sizes) before a frame is decoded: a small file can hold frames of gigabytes, and a first frame of
    64x64 says nothing of the next."""
    try:
        with open(path, "rb") as stream:
            head = stream.read(16)
    except OSError as error:
        missing = Phrase(N_("The video cannot be opened: the stored file is missing or unreadable."))
        raise CorruptMedia(missing) from error
    if sniff_video(head) is None:
        raise UnsupportedMediaType(Phrase(N_("This is not a supported video (MP4, MOV, WebM or AVI).")))
    scan_frame_sizes(path, max_seconds, max_pixels)
    capture = open_capture(path)
    try:
        ok, frame = capture.read()
        if not ok or frame is None:
            raise CorruptMedia(Phrase(N_("The video has no readable frames: it is truncated, corrupt or empty.")))
        info = VideoInfo(width=frame.shape[1], height=frame.shape[0], fps=float(capture.get(cv2.CAP_PROP_FPS) or 0),
                         frame_count=int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
    finally:
        capture.release()
    _check_frame_size(info.width, info.height, max_pixels)  # a frame larger than its header said
    if info.duration > max_seconds:
        raise MediaTooLarge(Phrase(LASTS_TOO_LONG, seconds=info.duration, limit=max_seconds))
    if info.frame_count > frame_budget(max_seconds):
        raise too_many_frames(max_seconds)
    return info


def _retrieved(retrieved: tuple[bool, np.ndarray | None]) -> memoryview:
    """A retrieved packet (or the codec configuration) as bytes; empty when there is none."""
    ok, data = retrieved
    return memoryview(data.reshape(-1)) if ok and data is not None else memoryview(b"")


def _movie_box(path: Path) -> memoryview:
    """An MP4 or MOV file's movie box (its tracks' descriptions), found among the top-level boxes; empty for other
    files. MediaTooLarge past MAX_MOVIE_BOX (a 120 s video's is some hundreds of KB)."""
    return next((payload for _, payload in index_boxes(path, (b"moov",))), memoryview(b""))


def _stream_sizes(path: Path, capture: cv2.VideoCapture, tag: str, max_seconds: float | None) -> Iterator[Size]:
    """The frame sizes in the codec configurations (the stream's extradata, and for MP4 and MOV every track's
    sample descriptions), then every packet's. With `max_seconds`, at most PACKETS_PER_FRAME times the
    frame budget's packets (the job counts the frames it decodes; packets can be more, e.g. VP8's hidden frames).
    UnsupportedMediaType for a codec whose sizes are not read."""
    configuration = _retrieved(capture.retrieve(None, int(capture.get(cv2.CAP_PROP_CODEC_EXTRADATA_INDEX))))
    sizes = sizer_for(tag, configuration)
    if sizes is None:
        raise UnsupportedMediaType(Phrase(UNSUPPORTED_CODEC, codec=tag.strip("\0 ") or "?"))
    yield from movie_config_sizes(_movie_box(path))
    yield from configuration_sizes(tag, configuration)
    if tag in H264_TAGS:  # a later sample description may switch the decoder to avcC records
        yield from _in_band_record_sizes(path)
    packet_budget = None if max_seconds is None else PACKETS_PER_FRAME * frame_budget(max_seconds)
    for index in itertools.count():
        if not capture.grab():
            return
        if index == packet_budget:
            raise too_many_frames(max_seconds)
        yield from sizes(_retrieved(capture.retrieve()))


def _in_band_record_sizes(path: Path) -> Iterator[Size]:
    """The sizes of the avcC records sent as packets anywhere in an H.264 file (frame_headers.IN_BAND_AVCC: OpenCV's
    packet reader stops at the first, unseen, while the decoder goes on with its parameter sets; a 64x64 MP4, MOV or
    Matroska file decoded at 16000x16000 with 2.4 GB), the file searched a window at a time (FileBytes)."""
    with open(path, "rb") as stream, FileBytes(stream.fileno(), os.fstat(stream.fileno()).st_size) as data:
        yield from in_band_avcc_sizes(data)


def _is_movie(path: Path) -> bool:
    """An MP4 or MOV (an ISO file), by its first bytes."""
    with open(path, "rb") as stream:
        return sniff_video(stream.read(16)) in ISO_MOVIES


def _check_index(path: Path, max_seconds: float) -> None:
    """An MP4's or MOV's sample tables within the budget of `max_seconds` (FFmpeg builds the index they describe
    when it opens the file: movie_index.check_movie_index), a Matroska or AVI file's tags, chapters and cue points
    within a video's (FFmpeg reads them all when it opens it: container_metadata); other files pass."""
    check_container_metadata(path, max_seconds)
    if _is_movie(path):
        check_movie_index(path, PACKETS_PER_FRAME * frame_budget(max_seconds), max_seconds,
                          too_many_frames(max_seconds))


def scan_frame_sizes(path: Path, max_seconds: float | None, max_pixels: int) -> None:
    """Read the stream's header, its codec configurations and every packet without decoding, and raise
    MediaTooLarge when one of them gives a frame more than max_pixels (inference.frame_headers: H.264 and HEVC
    sequence parameter sets, VP8 and VP9 frame headers, AV1 sequence headers, MPEG-1/2, MPEG-4 Part 2, ProRes and
    DNxHD headers, JPEG frame headers, frames stored as picture files, MP4 and MOV sample descriptions). With
    `max_seconds`, also when the packets are more than PACKETS_PER_FRAME times the frame budget, or the sizes read
    from them more than SIZES_PER_FRAME times (each costs a few microseconds to read: a 100 MB file of nothing but
    headers would hold millions). UnsupportedMediaType for a codec whose sizes are not read."""
    if max_seconds is not None:
        _check_index(path, max_seconds)
    capture = open_capture(path, packets=True)
    try:
        cost = FrameCost.of(capture)
        _check_frame_size(int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
                          max_pixels, cost)
        fourcc = int(capture.get(cv2.CAP_PROP_FOURCC))
        if not 0 <= fourcc < 2**32:  # no codec to report (a broken header): -1
            raise CorruptMedia(Phrase(CANNOT_OPEN, streams=MAX_STREAMS))
        tag = fourcc.to_bytes(4, "little").decode("latin-1").upper()
        size_budget = None if max_seconds is None else SIZES_PER_FRAME * frame_budget(max_seconds)
        last_format = None  # the last sequence header's: a size read elsewhere is in its colour
        for count, size in enumerate(_stream_sizes(path, capture, tag, max_seconds)):
            width, height = size
            if count == size_budget:
                raise too_many_frames(max_seconds)
            _check_frame_size(width, height, max_pixels, cost)
            if isinstance(size, FrameFormat):
                last_format = size
            _check_decoder_memory(last_format.resized(width, height) if last_format else size, max_pixels)
    finally:
        capture.release()


def _check_stored_here(path: Path, max_seconds: float) -> None:
    """`check_stored_video` in this process."""
    _check_index(path, max_seconds)
    scan_frame_sizes(path, None, DEFAULT_MAX_PIXELS)



CHECK_MEMORY = 256 * 2**20  # memory a check may add to its process (its peak resident size): opening a 4K H.264, HEVC,
                            # VP9 or AV1 clip and reading a frame of it takes 80-150 MB; one 8192x8192 track 300 MB
CHECK_ADDRESS_SPACE = 448 * 2**20  # address space it may add: 160-260 MB for those clips
CHECK_CEILING = 2**30  # the most it can add: FFmpeg's largest frame plane (INT_MAX / 8 pixels, 16-bit) is 537 MB, so
                       # an allocation that fails does so past CHECK_ADDRESS_SPACE
CHECK_SECONDS = 60.0  # a check that runs longer is refused (a 232 MB, 2-minute 1080p clip: 3.7 s on a busy 2-core
                      # machine; the index and packet budgets end most slow files far sooner)
NEEDS_TOO_MUCH_MEMORY = N_("The video takes more memory to open than this app allows (its picture tracks are too large "
                           "or too many); share it as an ordinary video with one picture track of at most 4K.")
CANNOT_CHECK = N_("The video could not be checked: it is damaged or not a video this app can read.")


def probe_video(path: Path, max_seconds: float, max_pixels: int = DEFAULT_MAX_PIXELS) -> VideoInfo:
    """Check that the file is a readable video within the limits, before any analysis is queued, in a process of
    its own (`_apart`).

    The frame size is checked from the stream's header, and the sizes that every later packet gives itself
    (scan_frame_sizes) before a frame is decoded: a small file can hold frames of gigabytes, and a first frame of
    64x64 says nothing of the next."""
    return _apart("probe", path, max_seconds, max_pixels)


@functools.lru_cache(maxsize=64)
def _stored_video_checked(path: str, version: tuple[int, int, int], max_seconds: float) -> MediaError | None:
    try:
        _apart("stored", Path(path), max_seconds)
    except MediaError as refusal:
        return refusal  # kept, as a pass is: each frame asked of a refused file started a check again
    return None


def file_version(path: Path) -> tuple[int, int, int]:
    """What tells a version of a stored file from another: its inode (a file replaced by a rename has another),
    modification time and size."""
    status = path.stat()
    return status.st_ino, status.st_mtime_ns, status.st_size


def check_stored_video(path: Path, max_seconds: float) -> None:
    """A stored video's index, within the budget of `max_seconds`, and its frame sizes, checked as at upload (in a
    process of its own), once per process and file version (the scrubber asks for many frames); no packet budget:
    the file was within it when it was stored, and the settings may have changed since."""
    if refusal := _stored_video_checked(str(path), file_version(path), max_seconds):
        raise refusal


CHECKS = {"probe": _probe_here, "stored": _check_stored_here}


def _apart(check: str, path: Path, *limits: float) -> VideoInfo | None:
    """CHECKS[check](path, *limits) in a child process (`run_for`, `_run_child`) that may use CHECK_MEMORY more
    memory than it starts with; its result or MediaError comes back through a file of its own (stdout may carry a
    library's log lines). A child that needed more, was killed, overran CHECK_SECONDS or said nothing readable means
    the file is refused (MediaTooLarge or CorruptMedia)."""
    with tempfile.TemporaryFile() as answer:  # unnamed: nothing is left behind, however this process ends
        command = [sys.executable, "-m", __name__, check, str(path.resolve()), str(answer.fileno()),
                   *map(repr, limits)]
        try:
            returncode, said_else = run_for(command, CHECK_SECONDS, (answer.fileno(),))
        except subprocess.TimeoutExpired as error:
            raise CorruptMedia(Phrase(CANNOT_CHECK)) from error
        said = read_back(answer)
    outcome = answer_of(returncode, said, NEEDS_TOO_MUCH_MEMORY, (VideoInfo,))
    if outcome is NO_ANSWER or (outcome is None) != (check == "stored"):
        log.error("video check %s of %s failed (return code %d): %s", check, path, returncode,
                  said_else.decode(errors="replace")[-2000:])
        raise CorruptMedia(Phrase(CANNOT_CHECK))
    return outcome


def _run_child(check: str, path: str, answer: str, limits: list[str]) -> None:
    """The child's side of `_apart`: the check run under CHECK_CEILING, its result or MediaError pickled into the
    file whose descriptor is `answer`. FFmpeg survives a failed allocation (a track it could not decode is left out,
    or the file "cannot be opened"), so what the check used decides (`answered`): past CHECK_MEMORY or
    CHECK_ADDRESS_SPACE, a file that passed, or could not be opened, is refused."""
    ceiling = MemoryCeiling(CHECK_MEMORY, CHECK_ADDRESS_SPACE, CHECK_CEILING)
    numbers = [float(limit) if "." in limit else int(limit) for limit in limits]
    answered(lambda: CHECKS[check](Path(path), *numbers), ceiling, answer, NEEDS_TOO_MUCH_MEMORY)


if __name__ == "__main__":  # the child: run as the module itself, so that what it pickles names this module
    from inference import video_check

    run_reserved(lambda: video_check._run_child(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]))

"""A video's frames decoded in a process of its own, with a ceiling on its memory, and sent back through a pipe.

The checks (inference.video_check) weigh what a file says of itself: its index, its headers, each packet's frame
size. What the decoder then holds is up to the stream: an HEVC stream whose slices name 16 reference pictures while
its parameter sets promise one passed every check and took 414 MB to decode, in whichever process decoded it. So
the frames a job samples (`sample_frames`) and the one the scrubber or a crop asks for (`read_frame_at`) are decoded
in a child (`python -m inference.video_decode`, torch-free, started in about 0.15 s) whose resident memory may grow
by at most DECODE_MEMORY (an ordinary 4K clip takes 200-300 MB to decode): a video that needs more is refused where
it does (DECODING_NEEDS_TOO_MUCH_MEMORY), and the app's own processes never hold a decoder. Each frame comes back as
RGB bytes after a small header; STALL_SECONDS without a byte of it ends the decoding (a hang). The child
holds back the signals that stop a service (child.STOP_SIGNALS): a worker that finishes its job as it stops
keeps the child it reads from.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import select
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np

from inference.errors import CorruptMedia, MediaError, MediaTooLarge
from inference.child import MemoryCeiling, answer_of, read_back, run_reserved, start_child, write_answer
from inference.video_check import (DEFAULT_MAX_PIXELS, FRAMES_TOO_LARGE, MAX_FFMPEG_ALLOCATION, RUNS_PAST_LIMIT,
                                   check_stored_video, frame_budget, open_capture, too_many_frames)
from messages import N_, Phrase

log = logging.getLogger(__name__)

DECODE_MEMORY = 352 * 2**20  # resident memory decoding may add (its peak): ordinary 4K H.264, HEVC, VP9 and AV1 clips
                             # take 200-300 MB, an HEVC stream whose slices name 16 references 414 MB
DECODE_CEILING = 2**30  # the address space it may add, for the machine's sake (an allocation past it fails)
STALL_SECONDS = 180.0  # the longest wait for a byte from the child: past it, a hang (a 60 fps 4K clip sampled at 4
                       # takes about 1 s a frame here; the last frame of a 2-minute 4K clip with one key frame a minute)
DECODING_NEEDS_TOO_MUCH_MEMORY = N_("The video takes more memory to decode than this app allows (its frames refer "
                                    "back to too many others); share it as an ordinary phone video.")
CANNOT_DECODE = N_("The video could not be decoded: it is damaged or not a video this app can read.")
LAST_FRAME_TRIES = 8  # frames tried backwards from the container's frame count when a time is past the end
FRAME_HEADER = struct.Struct("<dII")  # a frame's time in seconds, its height and width; then its RGB bytes
PIPE_BYTES = 2**20  # the pipe's buffer, where the system allows it (64 KB by default)


def sample_frames(path: Path, fps: float, max_seconds: float) -> Iterator[tuple[float, np.ndarray]]:
    """(timestamp in seconds, RGB frame) about every 1/fps seconds, by the frames' own timestamps, decoded apart;
    raises MediaTooLarge past max_seconds, past the frame budget, whatever the container's header says, or past
    DECODE_MEMORY."""
    return _decoded_apart("sample", path, fps, max_seconds)


def read_frame_at(path: Path, seconds: float, max_seconds: float) -> np.ndarray:
    """The RGB frame shown at `seconds` (for thumbnails and the scrubber), decoded apart; at or past the end (a
    duration the container rounds up), the last frame that decodes. The index (within the budget of a
    `max_seconds` video) and the frame sizes are checked first, as at upload, once per process and file: a video
    stored before a check was added may hold an index or a frame that takes gigabytes."""
    check_stored_video(path, max_seconds)
    for _, frame in _decoded_apart("frame", path, seconds):
        return frame
    raise CorruptMedia(Phrase(CANNOT_DECODE))  # the child sends a frame or says why not


def _decoded_apart(task: str, path: Path, *arguments: float) -> Iterator[tuple[float, np.ndarray]]:
    """TASKS[task](path, *arguments) run in a child (`_run_child`), its frames read from a pipe as they come; its
    MediaError, or how it failed, raised after the last. The child is ended when the caller stops early."""
    read_end, write_end = _pipe()
    with open(read_end, "rb", buffering=0) as frames, ExitStack() as files:
        try:
            answer = files.enter_context(tempfile.TemporaryFile())  # unnamed: nothing is left behind
            child_output = files.enter_context(tempfile.TemporaryFile())
            command = [sys.executable, "-m", __name__, task, str(path.resolve()), str(answer.fileno()),
                       str(write_end), *map(repr, arguments)]
            child = start_child(command, stdout=child_output, stderr=child_output,
                                pass_fds=(write_end, answer.fileno()))
        finally:
            os.close(write_end)
        ended_inside_a_frame = False
        try:
            try:
                yield from _received(frames)
            except _PipeEnded:  # the child died while it wrote a frame: how, its return code says
                ended_inside_a_frame = True
            child.wait(timeout=STALL_SECONDS)
        except subprocess.TimeoutExpired as error:
            raise CorruptMedia(Phrase(CANNOT_DECODE)) from error
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
        said = b"" if ended_inside_a_frame else read_back(answer)
        _raise_outcome(child.returncode, said, child_output, path)


def _pipe() -> tuple[int, int]:
    """A pipe (read end, write end) with a buffer of PIPE_BYTES where the system allows one that large."""
    read_end, write_end = os.pipe()
    try:
        fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except OSError:
        pass  # above /proc/sys/fs/pipe-max-size: the default buffer only slows the copy
    return read_end, write_end


def _received(frames: BinaryIO) -> Iterator[tuple[float, np.ndarray]]:
    """Each (time, RGB frame) the child sends, until it closes the pipe."""
    while header := _read_exactly(frames, bytearray(FRAME_HEADER.size), may_end=True):
        timestamp, height, width = FRAME_HEADER.unpack(header)
        if height * width > DEFAULT_MAX_PIXELS:  # the checks refuse such a frame: never allocated here
            raise MediaTooLarge(Phrase(FRAMES_TOO_LARGE, width=width, height=height))
        frame = np.empty((height, width, 3), dtype=np.uint8)
        _read_exactly(frames, memoryview(frame).cast("B"))
        yield timestamp, frame


class _PipeEnded(Exception):
    """The pipe ended inside a frame."""


def _read_exactly(frames: BinaryIO, buffer: bytearray | memoryview, may_end: bool = False) -> bytearray | memoryview:
    """`buffer` filled from the pipe; empty when it ends before the first byte and `may_end`. _PipeEnded when it
    ends part-way; CorruptMedia when no byte comes for STALL_SECONDS."""
    view, filled = memoryview(buffer), 0
    waiting = select.poll()  # not select(): it fails in a process with 1,024 files open
    waiting.register(frames, select.POLLIN)
    while filled < len(view):
        if not waiting.poll(STALL_SECONDS * 1000):
            raise CorruptMedia(Phrase(CANNOT_DECODE))
        count = frames.readinto(view[filled:])
        if not count:
            if filled == 0 and may_end:
                return bytearray()
            raise _PipeEnded
        filled += count
    return buffer


def _raise_outcome(returncode: int, said: bytes, child_output: BinaryIO, path: Path) -> None:
    """Raise what the child found (MediaError), or how it failed: killed by a signal other than a crash's is too
    much memory (`answer_of`), anything else CANNOT_DECODE (logged with its return code and what the child
    printed)."""
    if answer_of(returncode, said, DECODING_NEEDS_TOO_MUCH_MEMORY) is not None:
        child_output.seek(0)
        log.error("decoding %s failed (return code %d): %s", path, returncode,
                  child_output.read().decode(errors="replace")[-2000:])
        raise CorruptMedia(Phrase(CANNOT_DECODE))


class DecodingCeiling(MemoryCeiling):
    """The decoding child's memory: DECODE_MEMORY of resident memory, DECODE_CEILING of address space; `check`
    raises MediaTooLarge once either is passed, or the address space has come within FFmpeg's largest allocation of
    the ceiling (a decoder that failed to allocate may go on without the frame: one such failure is seen there)."""

    def __init__(self) -> None:
        super().__init__(DECODE_MEMORY, DECODE_CEILING - MAX_FFMPEG_ALLOCATION, DECODE_CEILING)

    def check(self) -> None:
        if self.exceeded():
            raise MediaTooLarge(Phrase(DECODING_NEEDS_TOO_MUCH_MEMORY))


def _sample_here(path: Path, ceiling: DecodingCeiling, fps: float,
                 max_seconds: float) -> Iterator[tuple[float, np.ndarray]]:
    """`sample_frames` in this process, its memory checked after every frame decoded."""
    capture = open_capture(path)
    native_fps = capture.get(cv2.CAP_PROP_FPS) or 30.0
    next_sample, index, budget = 0.0, 0, frame_budget(max_seconds)
    try:
        while True:
            grabbed = capture.grab()
            ceiling.check()
            if not grabbed:
                return
            if index == budget:
                raise too_many_frames(max_seconds)
            timestamp = _frame_time(capture, index, native_fps)
            index += 1
            if timestamp > max_seconds:
                raise MediaTooLarge(Phrase(RUNS_PAST_LIMIT, limit=max_seconds))
            if timestamp + 1e-6 < next_sample:
                continue
            ok, frame = capture.retrieve()
            if not ok:
                return
            next_sample += 1.0 / fps
            yield timestamp, cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def _frame_time(capture: cv2.VideoCapture, index: int, native_fps: float) -> float:
    """The grabbed frame's presentation time in seconds; by its index when the container gives none."""
    milliseconds = capture.get(cv2.CAP_PROP_POS_MSEC)
    return milliseconds / 1000 if math.isfinite(milliseconds) and milliseconds >= 0 else index / native_fps


def _frame_at_here(path: Path, ceiling: DecodingCeiling, seconds: float) -> Iterator[tuple[float, np.ndarray]]:
    """`read_frame_at` in this process: the one frame, or CorruptMedia."""
    capture = open_capture(path)
    try:
        capture.set(cv2.CAP_PROP_POS_MSEC, max(0.0, seconds) * 1000)
        ok, frame = capture.read()
        ceiling.check()
        if not ok:  # past the end: a capture that sought past it may not seek back (a 1-frame MP4), so a fresh one
            capture.release()
            capture = open_capture(path)
            ok, frame = _last_frame(capture, ceiling)
        if not ok:
            raise CorruptMedia(Phrase(N_("No frame at %(seconds).2f s."), seconds=seconds))
        yield _frame_time(capture, 0, 1.0), cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def _last_frame(capture: cv2.VideoCapture, ceiling: DecodingCeiling) -> tuple[bool, np.ndarray | None]:
    """The last frame that decodes, among the LAST_FRAME_TRIES the frame count names last (it may be an estimate)."""
    last = int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0) - 1
    for position in range(last, max(-1, last - LAST_FRAME_TRIES), -1):
        capture.set(cv2.CAP_PROP_POS_FRAMES, position)
        ok, frame = capture.read()
        ceiling.check()
        if ok:
            return ok, frame
    return False, None


TASKS = {"sample": _sample_here, "frame": _frame_at_here}


def _send(pipe: BinaryIO, timestamp: float, frame: np.ndarray) -> None:
    height, width = frame.shape[:2]
    pipe.write(FRAME_HEADER.pack(timestamp, height, width))
    pipe.write(np.ascontiguousarray(frame).data)


def _run_child(task: str, path: str, answer: str, pipe_descriptor: str, arguments: list[str]) -> None:
    """The child's side of `_decoded_apart`: the task's frames written to the pipe under DecodingCeiling, then None
    or its MediaError pickled into the file whose descriptor is `answer`. A parent that stopped reading ends it
    quietly."""
    ceiling = DecodingCeiling()
    outcome: MediaError | None = None
    try:
        with open(int(pipe_descriptor), "wb") as pipe:  # buffered: a frame's header and bytes go out in few writes
            for timestamp, frame in TASKS[task](Path(path), ceiling, *map(float, arguments)):
                _send(pipe, timestamp, frame)
    except MemoryError:
        outcome = MediaTooLarge(Phrase(DECODING_NEEDS_TOO_MUCH_MEMORY))
    except MediaError as error:
        outcome = error
    except BrokenPipeError:
        return  # the parent has what it wanted
    if ceiling.exceeded() and not isinstance(outcome, MediaTooLarge):  # a failed allocation may end a stream early
        outcome = MediaTooLarge(Phrase(DECODING_NEEDS_TOO_MUCH_MEMORY))
    write_answer(answer, outcome)


if __name__ == "__main__":  # the child: run as the module itself, so that what it pickles names this module
    from inference import video_decode

    run_reserved(lambda: video_decode._run_child(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:]))

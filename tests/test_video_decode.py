"""Video frames decoded in a process of their own (inference/video_decode.py): the same frames, a memory ceiling, a
child that never outlives its reader, and clear errors for what it could not decode."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys

import numpy as np
import pytest

import jobs
from extensions import db
from inference import video_check, video_decode
from inference.child import PROJECT_ROOT, STOP_SIGNALS
from inference.errors import CorruptMedia, MediaTooLarge
from inference.video_check import probe_video
from inference.video_decode import read_frame_at, sample_frames
from models import Analysis
from services import storage
from tests.conftest import DATA, upload

HUNGRY = DATA / "hevc-4k-16-references-said-1.mp4"


@pytest.fixture()
def children(monkeypatch) -> list[subprocess.Popen]:
    """The video children (checks and decoding) started during the test, as they start."""
    started = []
    real_popen = subprocess.Popen

    def recorded(*args, **kwargs):
        started.append(real_popen(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(video_decode.subprocess, "Popen", recorded)
    return started


def test_frames_are_decoded_apart_and_come_back_whole(monkeypatch):
    """The frames are those FFmpeg gives in a process of the app, pixel for pixel, though no capture is opened
    in this one."""
    clip = DATA / "h264-1080p.mp4"
    capture = video_check.open_capture(clip)
    expected = []
    while (read := capture.read())[0]:
        expected.append(read[1][..., ::-1])
    capture.release()

    def no_capture_here(*args, **kwargs):
        raise AssertionError("a video was opened in the app's process")

    monkeypatch.setattr(video_check, "open_capture", no_capture_here)
    sampled = list(sample_frames(clip, fps=30.0, max_seconds=60))
    assert [round(t, 2) for t, _ in sampled] == [0.0, 0.25, 0.5, 0.75]
    assert all(np.array_equal(frame, want) for (_, frame), want in zip(sampled, expected, strict=True))
    assert np.array_equal(read_frame_at(clip, 0.5, 60), expected[2])
    assert np.array_equal(read_frame_at(clip, 9.0, 60), expected[-1])  # past the end: the last frame


def test_a_stream_whose_decoder_holds_more_than_its_headers_say_is_refused_while_it_decodes():
    """Its slices name up to 16 reference pictures while its parameter sets say one: every check passes, and
    decoding it took 414 MB in the app's process; the child stops past DECODE_MEMORY."""
    assert probe_video(HUNGRY, 60).width == 3840
    with pytest.raises(MediaTooLarge, match="more memory to decode"):
        list(sample_frames(HUNGRY, fps=4.0, max_seconds=60))
    with pytest.raises(MediaTooLarge, match="more memory to decode"):
        read_frame_at(HUNGRY, 0.9, 60)


def test_an_ordinary_4k_clip_decodes_within_the_ceiling_whatever_the_cores(tmp_path, monkeypatch):
    """OpenCV's thread pool starts a thread per core, each with an 8 MB stack: on 64 cores every 4K clip was refused
    (here the pool is told 96 cores through the variable OpenCV reads, which a child would inherit)."""
    monkeypatch.setenv("OPENCV_FOR_THREADS_NUM", "96")
    clip = tmp_path / "4k.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=3840x2160:d=1:r=30", "-c:v",
                    "libx264", "-preset", "slower", "-pix_fmt", "yuv420p", str(clip)], check=True)
    frames = list(sample_frames(clip, fps=4.0, max_seconds=60))
    assert len(frames) == 4 and frames[0][1].shape == (2160, 3840, 3)


def test_the_child_ends_when_its_reader_stops_early(children):
    frames = sample_frames(DATA / "h264-1080p.mp4", fps=30.0, max_seconds=60)
    next(frames)
    frames.close()
    assert children and children[0].poll() is not None


def test_what_the_child_cannot_decode_is_said_clearly(tmp_path, monkeypatch):
    text = tmp_path / "not-a-video.mp4"
    text.write_text("a text file")
    with pytest.raises(CorruptMedia, match="cannot be opened"):
        list(sample_frames(text, fps=4.0, max_seconds=60))
    monkeypatch.setattr(video_decode, "STALL_SECONDS", 0.001)  # no frame comes that soon: the child is ended
    with pytest.raises(CorruptMedia, match="could not be decoded"):
        list(sample_frames(DATA / "h264-1080p.mp4", fps=4.0, max_seconds=60))


def test_an_upload_that_needs_too_much_memory_to_decode_fails_with_the_reason(app, client, alice):
    """It passes the upload's checks and is stored; its job stops where the decoder outgrows the ceiling and says
    why on the analysis page."""
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    assert upload(client, HUNGRY.read_bytes(), "clip.mp4").status_code == 302
    jobs.work_once(app)
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        assert analysis.status == "failed" and "more memory to decode" in analysis.error
    page = client.get(f"/analyses/{analysis.id}").get_data(as_text=True)
    assert "The analysis failed" in page and "more memory to decode" in page


def test_a_failed_videos_frames_are_refused_without_decoding(app, client, alice, monkeypatch):
    """Its frames asked for again and again (any time within its second): each request decoded until the ceiling
    again, about 1 s of CPU, only to answer 413."""
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    upload(client, HUNGRY.read_bytes(), "clip.mp4")
    jobs.work_once(app)
    with app.app_context():
        analysis_id = db.session.scalars(db.select(Analysis.id)).one()
    decoded = []
    monkeypatch.setattr(storage, "stored_rgb", lambda *args: decoded.append(args))
    answers = [client.get(f"/analyses/{analysis_id}/frame?t={t}", headers={"Accept": "application/json"})
               for t in ("0.9", "0.5")]
    assert [answer.status_code for answer in answers] == [409, 409] and decoded == []
    assert "its frames are not shown" in answers[0].get_data(as_text=True)



def test_children_hold_back_the_signals_that_stop_a_service(monkeypatch):
    """systemd stops a service by sending every process of it SIGTERM: a worker that finished its job first lost the
    child it read frames from, and the job failed for good. Each child, signalled as soon as it starts, goes on."""
    real_popen = subprocess.Popen

    def signalled(*args, **kwargs):
        child = real_popen(*args, **kwargs)
        for stop in STOP_SIGNALS:
            child.send_signal(stop)
        return child

    monkeypatch.setattr(video_check.subprocess, "Popen", signalled)
    assert probe_video(DATA / "h264-1080p.mp4", 60).width == 1920
    assert len(list(sample_frames(DATA / "h264-1080p.mp4", fps=30.0, max_seconds=60))) == 4


def test_a_child_killed_while_it_decodes_means_too_much_memory(children):
    """What kills a child that holds back the signals that stop a service is most likely the kernel out of memory."""
    frames = sample_frames(DATA / "h264-1080p.mp4", fps=30.0, max_seconds=60)
    next(frames)  # four 6 MB frames: the child waits on the pipe with the second
    children[0].kill()
    with pytest.raises(MediaTooLarge, match="more memory to decode"):
        list(frames)


def test_a_decoder_crashing_on_a_file_is_not_told_as_memory(children):
    """A library that crashes on what it reads (SIGSEGV) was told as "takes more memory to decode": the file is
    damaged or hostile, and the crash is logged."""
    frames = sample_frames(DATA / "h264-1080p.mp4", fps=30.0, max_seconds=60)
    next(frames)
    children[0].send_signal(signal.SIGSEGV)
    with pytest.raises(CorruptMedia, match="could not be decoded"):
        list(frames)


def test_a_process_with_more_than_a_thousand_files_open_reads_frames(tmp_path):
    """select() fails on a descriptor past 1,023: a busy server's frames and jobs failed with a 500."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip(f"this machine lets a process open only {hard} files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))
    opened = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        assert read_frame_at(DATA / "h264-1080p.mp4", 0.5, 60).shape == (1080, 1920, 3)
    finally:
        for descriptor in opened:
            os.close(descriptor)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_the_decoding_memory_bench_measures_the_child_as_the_app_starts_it():
    from bench.decode_memory import TASKS, measured

    assert measured(DATA / "h264-1080p.mp4", TASKS["frame at 0.9 s"]).endswith(": passed")
    assert "more memory to decode" in measured(HUNGRY, TASKS["whole clip at 4 fps"])


def test_a_failing_reading_ends_its_decoding_child_at_once(children, monkeypatch):
    """A track read again as its owner's species kept its frames' generator in a local, which the failure's
    traceback keeps (a job holding the error): its decoding child, some 77 MB, lived as long. It ends as the failure
    leaves the reading."""
    from inference.pipeline import get_pipeline
    from inference.video import VideoAnalyzer

    def failing(*args, **kwargs):
        raise RuntimeError("a reading failed")

    pipeline = get_pipeline()
    monkeypatch.setattr(pipeline, "read_as", failing)
    timeline = [{"t": t / 30, "box": [0, 0, 100, 100]} for t in range(4)]
    with pytest.raises(RuntimeError) as failure:
        VideoAnalyzer(pipeline, fps=30.0, batch_frames=1).read_track_as(DATA / "h264-1080p.mp4", timeline, "dog",
                                                                       max_seconds=60)
    assert failure.value.__traceback__ is not None  # still held here
    assert children and children[-1].poll() is not None


STACK_UNDER_THE_CEILING = r"""
import mmap, sys
from inference.child import MemoryCeiling, run_reserved
from inference.video_check import CHECK_ADDRESS_SPACE, CHECK_CEILING, CHECK_MEMORY
nested = ()
for _ in range(20_000):  # hashing it recurses in C: some MB of stack, no heap
    nested = (nested,)

def work():
    MemoryCeiling(CHECK_MEMORY, CHECK_ADDRESS_SPACE, CHECK_CEILING)
    held, size = [], 64 << 20
    while size >= 4096:  # all the address space the ceiling allows, as a decoder's frame buffers would take it
        try:
            held.append(mmap.mmap(-1, size))
        except OSError:
            size //= 2
    hash(nested)

run_reserved(work) if sys.argv[1] == "reserved" else work()
"""


def test_a_child_whose_address_space_is_full_is_not_told_as_a_crash():
    """Under the ceiling's RLIMIT_AS the main thread's stack cannot grow once the address space is full: a SIGSEGV,
    which answer_of takes for a decoder crashing on a damaged file. A child's work runs on a stack mapped whole
    before its ceiling (review, session 48)."""
    def run(mode: str) -> int:
        return subprocess.run([sys.executable, "-c", STACK_UNDER_THE_CEILING, mode], capture_output=True,
                              cwd=PROJECT_ROOT).returncode
    assert run("main thread") == -signal.SIGSEGV  # what it guards against, still so on this machine
    assert run("reserved") == 0

"""Video frames decoded in a process of their own (inference/video_decode.py): the same frames, a memory ceiling, a
child that never outlives its reader, and clear errors for what it could not decode."""

from __future__ import annotations

import signal
import subprocess

import numpy as np
import pytest

import jobs
import services.analyses
from extensions import db
from inference import video_check, video_decode
from inference.errors import CorruptMedia, Interrupted, MediaTooLarge
from inference.video_check import probe_video
from inference.video_decode import read_frame_at, sample_frames
from models import Analysis, JobStatus
from tests.conftest import DATA, upload, upload_files

HUNGRY = DATA / "hevc-4k-16-references-said-1.mp4"


@pytest.fixture()
def children(monkeypatch) -> list[subprocess.Popen]:
    """The decoding children started during the test, as they start."""
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


def test_an_ordinary_4k_clip_decodes_within_the_ceiling(tmp_path):
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


@pytest.mark.parametrize("stop, raised", [(signal.SIGTERM, Interrupted), (signal.SIGINT, Interrupted),
                                          (signal.SIGKILL, MediaTooLarge)])
def test_a_child_stopped_by_a_signal_is_an_interruption_or_a_refusal_by_the_signal(children, stop, raised):
    """A service that stops sends every process SIGTERM (systemd): the job that was decoding failed for good, "too
    much memory". A signal to stop is no verdict on the file; a kill (the kernel's, out of memory) is."""
    frames = sample_frames(DATA / "h264-1080p.mp4", fps=30.0, max_seconds=60)
    next(frames)  # four 6 MB frames: the child waits on the pipe with the second
    children[0].send_signal(stop)
    children[0].wait()
    with pytest.raises(raised):
        list(frames)


def test_a_job_interrupted_by_the_service_stopping_is_left_to_run_again(app, client, alice, monkeypatch):
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    assert upload(client, (DATA / "h264-1080p.mp4").read_bytes(), "clip.mp4").status_code == 302

    def stopped(*args, **kwargs):
        raise Interrupted("a video child was stopped by signal 15")

    monkeypatch.setattr(services.analyses, "analyze_video", stopped)
    jobs.work_once(app)
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        assert analysis.status == JobStatus.RUNNING and analysis.error is None  # its heartbeat goes stale: run again


def test_an_upload_whose_check_was_stopped_by_the_service_stopping_asks_to_retry(app, client, alice, monkeypatch):
    def stopped(*args, **kwargs):
        raise Interrupted("a video child was stopped by signal 15")

    monkeypatch.setattr(services.analyses, "probe_video", stopped)
    response = upload(client, (DATA / "h264-1080p.mp4").read_bytes(), "clip.mp4")
    assert response.status_code == 503 and response.headers["Retry-After"] == "60"
    assert "try again in a minute" in response.get_data(as_text=True)
    assert upload_files(app) == []

"""Videos: sampling, tracking, timelines, background jobs (progress, recovery, failures), pages and API."""

from __future__ import annotations

import ctypes
import shutil
import io
import math
import re
import struct
import subprocess
from pathlib import Path
import time
import zlib
from contextlib import ExitStack
from datetime import timedelta

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from bench.fixtures import StoredAnalysis, csrf_token, store_analyses
import jobs
from app import create_app
from extensions import db
from inference.detectors import Detection
from inference.labels import DetectionKind
from inference.pipeline import Classified, get_pipeline
from inference.tracking import (SAME_PET_LOOK, IoUTracker, TrackSpan, frame_seconds, longest_unseen_step, rejoined,
                                steps_away)
from inference.errors import MediaTooLarge, UnsupportedMediaType
from inference import movie_index, video, video_check
from inference.frame_headers import FrameFormat
from inference.video import VideoAnalyzer, sample_frames, seen_for, smooth, summarize
from inference.video_check import probe_video, scan_frame_sizes, sniff_video
from models import Analysis, Media, utcnow
from services.analyses import analysis_slot, frame_slot
from bench.clips import moving_faces_frames
from tests.conftest import DATA, jpeg_bytes, upload, upload_files, write_video
from tests.test_api import bearer


def test_sniff_video_by_content():
    assert sniff_video(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 4) == "mp4"
    assert sniff_video(b"\x00\x00\x00\x14ftypqt  " + b"\x00" * 4) == "mov"
    assert sniff_video(b"\x1a\x45\xdf\xa3" + b"\x00" * 12) == "webm"
    assert sniff_video(b"RIFF\x00\x00\x00\x00AVI LIST") == "avi"
    assert sniff_video(b"RIFF\x00\x00\x00\x00WEBPVP8 ") is None
    assert sniff_video(b"\xff\xd8\xff\xe0 a jpeg") is None


def test_sampling_follows_the_requested_rate(two_face_video):
    times = [t for t, _ in sample_frames(two_face_video, fps=4.0, max_seconds=60)]
    assert len(times) == 12  # 3 s at 4 fps
    assert np.allclose(np.diff(times), 0.25, atol=0.051)


def test_tracker_keeps_ids_for_moving_boxes_and_starts_new_ones():
    tracker = IoUTracker()
    assert tracker.update(0, [(0, 0, 10, 10), (50, 50, 60, 60)], ["human", "human"]) == [1, 2]
    assert tracker.update(1, [(52, 51, 62, 61), (1, 0, 11, 10)], ["human", "human"]) == [2, 1]
    assert tracker.update(2, [(200, 200, 210, 210)], ["human"]) == [3]


def test_a_fast_subject_keeps_its_track_where_boxes_no_longer_overlap():
    """A dog running across a panning clip (walk-through: one dingo became three tracks at 4 samples a second)."""
    tracker = IoUTracker()
    ids = [tracker.update(i, [(245 + 75 * i, 130, 370 + 75 * i, 265)], ["dog"])[0] for i in range(5)]
    assert ids == [1, 1, 1, 1, 1]  # 0.6 box sizes a step: no overlap above 0.3, one track
    assert tracker.update(5, [(800 + 300, 130, 925 + 300, 265)], ["dog"]) == [2]  # 3 box sizes away: another
    assert tracker.update(6, [(1100, 130, 1475, 535)], ["dog"]) == [3]  # three times the size: another
    assert tracker.update(7, [(1105, 130, 1230, 265)], ["human"]) == [4]  # never across kinds


def test_a_distance_match_never_swaps_or_merges_neighbours():
    """Two dogs side by side, one missed while the other moves towards it: a box about as near both last boxes
    starts a new track rather than guessing; one clearly nearer its own continues it. A newcomer next to someone
    who just left, at once or seconds later."""
    tracker = IoUTracker()
    assert tracker.update(0, [(0, 0, 100, 100), (150, 0, 250, 100)], ["dog", "dog"]) == [1, 2]
    assert tracker.update(1, [(80, 0, 180, 100)], ["dog"]) == [3]  # 0.8 and 0.7 box sizes away: not clear
    clear = IoUTracker()
    clear.update(0, [(0, 0, 100, 100), (150, 0, 250, 100)], ["dog", "dog"])
    assert clear.update(1, [(95, 0, 195, 100)], ["dog"]) == [2]  # 0.55 against 0.95: its own
    people = IoUTracker()
    assert people.update(0, [(0, 0, 100, 100)], ["human"]) == [1]
    assert people.update(1, [(100, 0, 200, 100)], ["human"]) == [1]  # one step right, no rival: the same person
    assert people.update(5, [(210, 0, 310, 100)], ["human"]) == [2]  # after a gap: only overlap continues a track


def look(*values: float) -> np.ndarray:
    vector = np.array(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def test_a_pets_tracks_are_joined_when_one_follows_the_other_and_they_look_alike():
    """A dog out of view (or after a cut) comes back as a new track: it continues the earlier one when they look
    alike (cosine >= SAME_PET_LOOK) and the earlier ended first; two dogs seen in turn stay two, overlapping tracks
    and people are never joined, and a track continues at most one (the likest)."""
    rex, fido = look(1, 0, 0), look(0, 1, 0)
    alike = look(1, 0.3, 0)
    assert float(rex @ alike) >= SAME_PET_LOOK > float(rex @ fido)
    spans = [TrackSpan(1, "dog", 0, 2, rex), TrackSpan(2, "dog", 1, 3, fido), TrackSpan(3, "dog", 5, 6, alike),
             TrackSpan(4, "dog", 7, 8, fido), TrackSpan(5, "dog", 9, 10, rex), TrackSpan(6, "cat", 11, 12, rex)]
    assert rejoined(spans) == {1: 1, 2: 2, 3: 1, 4: 2, 5: 1, 6: 6}  # 5 follows 3 (its likest), which follows 1
    overlapping = [TrackSpan(1, "dog", 0, 2, rex), TrackSpan(2, "dog", 2, 3, rex)]
    assert rejoined(overlapping) == {1: 1, 2: 2}
    people = [TrackSpan(1, "human", 0, 2, None), TrackSpan(2, "human", 5, 6, None)]
    assert rejoined(people) == {1: 1, 2: 2}


def test_a_joined_track_is_seen_for_its_time_in_view_not_the_gap():
    """Steps longer than the tracker waits (in the track's own steps: a slow video's frames are further apart) are
    time out of view; an unjoined track, however slow, is seen from its first frame to a step after its last (each
    frame stands for its step, as the track's story counts it: a dog in all 32 frames of an 8 s clip is seen 8 s)."""
    raw = np.array([[0.9, 0.1]] * 5)
    joined = [0, 0.25, 0.5, 5.0, 5.25]
    summary, _ = summarize(joined, raw, ("a", "b"))
    assert summary["duration"] == 1.25 and summary["frames"] == 5  # five frames of 0.25 s
    assert summarize([0, 0.25, 0.5, 2.25, 2.5], raw, ("a", "b"))[0]["duration"] == 2.75  # a wait: first to last + 1
    slow = [0, 2.5, 5.0, 7.5, 10.0]  # 0.4 frames a second
    assert summarize(slow, raw, ("a", "b"))[0]["duration"] == 12.5
    assert longest_unseen_step([3.0]) == math.inf
    sampled = [0.0, 0.3, 0.5, 0.8, 1.0, 1.3, 1.5, 1.8, 2.0, 2.3, 2.5, 2.8]  # a 3 s, 10 fps clip sampled at 4 fps
    assert summarize(sampled, np.array([[0.9, 0.1]] * 12), ("a", "b"))[0]["duration"] == 3.0  # was 3.1
    assert frame_seconds([0, 0.25, 0.5, 0.5001])[-1] == 0.25  # two frames a moment apart: not the last one's share
    cat = [5.0 + 0.25 * step for step in range(11)]  # in view from 5.0 s to the end of a 7.56 s clip
    assert summarize(cat, np.array([[0.9, 0.1]] * 11), ("a", "b"), end=7.56)[0]["duration"] == 2.56  # was 2.75
    assert summarize(cat, np.array([[0.9, 0.1]] * 11), ("a", "b"), end=9.0)[0]["duration"] == 2.75  # seen to 7.75
    assert summarize(cat, np.array([[0.9, 0.1]] * 11), ("a", "b"), end=7.5)[0]["duration"] == 2.5  # a clip cut short


def test_a_joined_tracks_timeline_is_not_drawn_across_the_time_out_of_view():
    from web.charts import timeline_lines

    timeline = [{"t": t, "emotions": {"happy": 0.8, "sad": 0.2}} for t in (0, 0.25, 0.5, 5.0, 9.0, 9.25)]
    happy = timeline_lines(timeline, 10.0)[0]
    assert happy.label == "happy"  # a line, a lone point (a dash), a line
    assert happy.path == "M0.00,20.00 L2.50,20.00 L5.00,20.00 M50.00,20.00 h0.8 M90.00,20.00 L92.50,20.00"
    slow = [{"t": t, "emotions": {"happy": 0.8}} for t in (0, 2.5, 5.0)]
    assert timeline_lines(slow, 5.0)[0].path == "M0.00,20.00 L50.00,20.00 L100.00,20.00"  # one line, however slow


def test_smoothing_and_summary_on_a_known_sequence():
    classes = ("a", "b")
    raw = np.array([[0.9, 0.1], [0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.1, 0.9]])
    assert np.allclose(smooth(raw, 1.0), raw)
    smoothed = smooth(raw, 0.5)
    assert smoothed[2, 0] > 0.4  # the jump is softened
    summary, transitions = summarize([0, 1, 2, 3, 4], raw, classes)
    assert summary["dominant"] == "b" and summary["share"] == {"a": 0.4, "b": 0.6}
    assert transitions == [{"t": 2, "from": "a", "to": "b"}]


def test_two_faces_are_tracked_through_the_clip(two_face_video):
    result = VideoAnalyzer(get_pipeline(), fps=4.0).analyze(two_face_video)
    assert result.frames_analysed == 12 and result.duration == pytest.approx(3.0, abs=0.1)
    assert len(result.tracks) == 2
    for track in result.tracks:
        assert len(track.timeline) >= 10
        assert all(sum(p["emotions"].values()) == pytest.approx(1, abs=1e-3) for p in track.timeline)
        xs = [p["box"][0] for p in track.timeline]
        assert xs == sorted(xs)  # the faces drift right
        assert sum(track.summary["share"].values()) == pytest.approx(1, abs=1e-3)
        flags = [p["uncertain"] for p in track.timeline]  # each frame's face reading has its own flag
        assert all(isinstance(flag, bool) for flag in flags)
        assert track.uncertain == (sum(flags) > len(flags) / 2) and 0 <= track.uncertainty <= 1
        assert isinstance(track.unsure_signals, list) and bool(track.unsure_signals) == track.uncertain


def test_video_upload_is_queued_then_shows_timelines(app, client, alice, two_face_video):
    response = upload(client, two_face_video.read_bytes(), "clip.mp4")
    assert response.status_code == 302
    analysis_id = int(re.search(r"/analyses/(\d+)$", response.location).group(1))
    page = client.get(response.location).get_data(as_text=True)  # eager jobs: already done
    assert page.count('class="timeline-chart"') == 2 and "Share of time" in page
    assert "Probabilities are smoothed over time." in page
    assert len(re.findall(r'<span class="meta">· seen for [0-9.]+ s</span>', page)) == 2  # how long, in words
    assert 'id="scrub"' in page
    frame = client.get(f"/analyses/{analysis_id}/frame?t=1.5")
    assert frame.status_code == 200 and frame.mimetype == "image/jpeg"
    assert client.get(f"/analyses/{analysis_id}/thumb").status_code == 200
    document = client.get(f"/api/v1/analyses/{analysis_id}").json
    assert document["media"] == "video" and document["fps_sampled"] == 4.0
    assert document["duration"] == pytest.approx(3.0, abs=0.1)
    track = document["tracks"][0]
    assert set(track) == {"track_id", "position", "number", "kind", "kind_read", "top", "certainty", "summary",
                          "classifier", "timeline", "transitions", "subject", "suggestion", "unsure", "uncertain",
                          "uncertainty", "unsure_signals", "reading_frames"}
    assert set(track["timeline"][0]) >= {"t", "emotions", "uncertain"} and isinstance(track["uncertain"], bool)
    assert isinstance(track["unsure"], bool) and (track["unsure"] or not track["uncertain"])  # flagged: unsure


def test_a_track_in_one_frame_is_seen_in_one_frame_not_for_no_time(client, alice, astronaut, tmp_path):
    clip = write_video(tmp_path / "one.mp4", moving_faces_frames(astronaut, 1, faces=1))
    page = client.get(upload(client, clip.read_bytes(), "one.mp4").location).get_data(as_text=True)
    assert "seen in one frame" in page and "seen for 0.0 s" not in page


def test_api_video_upload_returns_202_and_progress(app, client, alice, two_face_video):
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)  # nothing runs until we say so
    token = csrf_token(client, "/analyze")
    response = client.post("/api/v1/analyses", headers={"X-CSRFToken": token},
                           data={"file": (io.BytesIO(two_face_video.read_bytes()), "clip.mp4")},
                           content_type="multipart/form-data")
    assert response.status_code == 202
    assert response.json["status"] == "queued" and response.json["progress"] == 0
    analysis_id = response.json["id"]
    assert "Waiting in the queue" in client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    seen = []
    with app.app_context():
        original = jobs.report_progress
        jobs.report_progress = lambda job, fraction: (seen.append(fraction), original(job, fraction))
        try:
            assert jobs.work_once(app) is True
        finally:
            jobs.report_progress = original
    assert seen and seen == sorted(seen) and seen[-1] < 1
    finished = client.get(f"/api/v1/analyses/{analysis_id}").json
    assert finished["status"] == "done" and finished["progress"] == 1  # a client polling progress sees it end


def test_the_progress_bar_and_its_words_start_at_one_figure(app, client, alice, two_face_video):
    """The page's first state, before progress.js polls: the bar's value, its spoken value (aria-valuetext) and the
    visible text give one figure (57.5% is 57 for the bar, and was "58% done" in words)."""
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)  # it stays running as set here
    token = csrf_token(client, "/analyze")
    analysis_id = client.post("/api/v1/analyses", headers={"X-CSRFToken": token}, content_type="multipart/form-data",
                              data={"file": (io.BytesIO(two_face_video.read_bytes()), "clip.mp4")}).json["id"]
    with app.app_context():
        analysis = db.session.get(Analysis, analysis_id)
        analysis.status, analysis.progress = "running", 0.575
        db.session.commit()
    page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
    bar = re.search(r"<progress [^>]*>", page).group(0)
    assert 'value="57"' in bar and 'aria-valuetext="57% done"' in bar
    assert '<p id="job-percent">57% done</p>' in page and "Analysing the video" in page


def test_faceless_video_says_no_faces(client, alice, faceless_video):
    response = upload(client, faceless_video.read_bytes(), "coffee.mp4")
    page = client.get(response.location).get_data(as_text=True)
    assert "Nothing found" in page and "smoothed over time" not in page  # nothing read, nothing smoothed


def test_bad_videos_get_clear_errors_and_leave_nothing(app, client, alice, two_face_video):
    data = two_face_video.read_bytes()
    app.config["MAX_VIDEO_SECONDS"] = 2
    too_long = upload(client, data, "long.mp4")
    assert too_long.status_code == 413 and "the limit is 2 s" in too_long.get_data(as_text=True)
    app.config["MAX_VIDEO_SECONDS"] = 120
    header_only = upload(client, data[:600], "cut.mp4")
    assert header_only.status_code == 400
    renamed = upload(client, b"this is a text file, not a video", "movie.mp4")
    assert renamed.status_code == 415
    assert upload(client, b"", "empty.mp4").status_code == 400
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0
    assert upload_files(app) == []


def test_a_job_whose_file_is_gone_fails_with_a_reason(app, client, alice, two_face_video):
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    upload(client, two_face_video.read_bytes(), "clip.mp4")
    for path in upload_files(app):
        path.unlink()
    jobs.work_once(app)
    with app.app_context():
        analysis = db.session.scalars(db.select(Analysis)).one()
        assert analysis.status == "failed" and "cannot be opened" in analysis.error
    page = client.get(f"/analyses/{analysis.id}").get_data(as_text=True)
    assert "The analysis failed" in page


def test_interrupted_jobs_are_recovered_or_given_up(app, client, alice, two_face_video, early_face_video):
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    for clip in (two_face_video, early_face_video):
        upload(client, clip.read_bytes(), "clip.mp4")
    with app.app_context():
        first, second = db.session.scalars(db.select(Analysis).order_by(Analysis.id)).all()
        long_ago = utcnow() - timedelta(minutes=10)
        # a worker died mid-job (stale heartbeat): once with attempts left, once with none
        first.status, first.heartbeat_at, first.attempts, first.progress = "running", long_ago, 1, 0.4
        second.status, second.heartbeat_at, second.attempts = "running", long_ago, 3
        db.session.commit()
        first_id, second_id = first.id, second.id
    while jobs.work_once(app):
        pass
    with app.app_context():
        assert db.session.get(Analysis, first_id).status == "done"
        given_up = db.session.get(Analysis, second_id)
        assert given_up.status == "failed" and "interrupted" in given_up.error
    assert len(upload_files(app)) == 3  # both uploads are kept, plus the finished one's poster frame


def wait_for_job(app, seconds: float = 120) -> str:
    deadline = time.time() + seconds
    with app.app_context():
        while time.time() < deadline:
            status = db.session.scalar(db.select(Analysis.status))
            db.session.rollback()
            if status in ("done", "failed"):
                return status
            time.sleep(0.3)
    return status


def test_embedded_thread_worker_processes_jobs(app, client, alice, two_face_video):
    queue = jobs.EmbeddedQueue(app)
    app.extensions["moodlens_jobs"] = queue
    upload(client, two_face_video.read_bytes(), "clip.mp4")
    try:
        assert wait_for_job(app) == "done"
    finally:
        queue.stop()


def test_video_cut_in_half_is_refused_or_analysed_never_stuck(app, client, alice, two_face_video):
    data = two_face_video.read_bytes()
    response = upload(client, data[: len(data) // 2], "half.mp4")
    if response.status_code == 302:  # the readable part was analysed
        with app.app_context():
            assert db.session.scalar(db.select(Analysis.status)) in ("done", "failed")
    else:
        assert response.status_code == 400
        assert upload_files(app) == []


def test_jobs_left_queued_are_picked_up_when_the_server_starts_again(app, tmp_path, client, alice, two_face_video):
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)  # the "old server" queues and stops
    upload(client, two_face_video.read_bytes(), "clip.mp4")
    restarted = create_app({**{key: app.config[key] for key in ("SQLALCHEMY_DATABASE_URI", "SECRET_KEY")},
                            "JOBS_MODE": "thread", "JOBS_POLL_SECONDS": 0.2}, instance_path=app.instance_path)
    queue = restarted.extensions["moodlens_jobs"]
    try:
        assert wait_for_job(restarted) == "done"  # no request was needed
    finally:
        queue.stop()


def test_jobs_work_command_drains_the_queue(app, client, alice, two_face_video):
    app.extensions["moodlens_jobs"] = jobs.ExternalQueue(app)
    upload(client, two_face_video.read_bytes(), "clip.mp4")
    result = app.test_cli_runner().invoke(args=["jobs", "work", "--once"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(db.select(Analysis.status)) == "done"


def test_videos_without_frames_too_large_or_with_a_broken_container_are_refused(app, client, alice, tmp_path):
    import cv2

    writer = cv2.VideoWriter(str(tmp_path / "zero.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (320, 240))
    writer.release()  # a container with no frame in it
    huge = write_video(tmp_path / "huge.mp4", [np.full((2000, 5000, 3), 90, np.uint8)], fps=1)
    rng = np.random.default_rng(0)
    broken = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + rng.integers(0, 256, 50_000, np.uint8).tobytes()
    cases = {"zero frames": ((tmp_path / "zero.mp4").read_bytes(), {400}),
             "5000x2000 pixels": (huge.read_bytes(), {413}),
             "mp4 header, then noise": (broken, {400})}
    for name, (content, statuses) in cases.items():
        response = upload(client, content, "clip.mp4")
        assert response.status_code in statuses, name
        assert 'class="field-error"' in response.get_data(as_text=True), name
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0
    assert upload_files(app) == []


def high_rate_clip(path, frames: int, fps: float = 1000.0):
    """A tiny clip whose header says `fps` frames per second: many frames that pass for a short video."""
    grey = np.full((32, 32, 3), 128, np.uint8)
    return write_video(path, [grey] * frames, fps=fps)


def test_a_1000_fps_header_does_not_pass_30000_frames_as_30_seconds(client, alice, tmp_path):
    response = upload(client, high_rate_clip(tmp_path / "fast.mp4", 30_000).read_bytes(), "fast.mp4")
    assert response.status_code == 413
    assert "more than 7,200 frames; the limit is 120 s at 60 frames per second" in response.get_data(as_text=True)
    assert upload_files(client.application) == []


def test_sampling_decodes_at_most_the_frame_budget(tmp_path):
    clip = high_rate_clip(tmp_path / "fast.mp4", 300)  # 0.3 s by its header and timestamps
    with pytest.raises(MediaTooLarge, match="more than 120 frames"):
        list(sample_frames(clip, fps=4.0, max_seconds=2))
    assert len(list(sample_frames(clip, fps=4.0, max_seconds=5))) == 2  # within the budget: t = 0 and 0.25 s


def jpeg_of_size(width: int, height: int) -> bytes:
    """A 16x16 JPEG whose frame header claims width x height: the header is all a decoder sizes its buffers by."""
    data = bytearray(jpeg_bytes(np.full((16, 16, 3), 90, np.uint8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


def picture_avi(frames: list[bytes], width: int = 64, height: int = 64, fps: int = 4, codec: bytes = b"MJPG") -> bytes:
    """An AVI of the given picture files as frames (MJPEG: JPEG files; MPNG: PNG files), its headers saying width x
    height."""
    def chunk(tag: bytes, body: bytes) -> bytes:
        return tag + struct.pack("<I", len(body)) + body + b"\0" * (len(body) % 2)

    def listed(kind: bytes, body: bytes) -> bytes:
        return b"LIST" + struct.pack("<I", len(body) + 4) + kind + body

    count = len(frames)
    avih = struct.pack("<10I4I", 1_000_000 // fps, 0, 0, 0x10, count, 0, 1, 0, width, height, 0, 0, 0, 0)
    strh = b"vids" + codec + struct.pack("<IHHIIIIIIIIHHHH", 0, 0, 0, 0, 1, fps, 0, count, 0, 0xFFFFFFFF, 0, 0, 0,
                                     width, height)
    strf = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, codec, width * height * 3, 0, 0, 0, 0)
    movi, index = b"", b""
    for frame in frames:
        index += b"00dc" + struct.pack("<III", 0x10, len(movi) + 4, len(frame))
        movi += chunk(b"00dc", frame)
    headers = listed(b"hdrl", chunk(b"avih", avih) + listed(b"strl", chunk(b"strh", strh) + chunk(b"strf", strf)))
    body = b"AVI " + headers + listed(b"movi", movi) + chunk(b"idx1", index)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def test_an_mjpeg_video_whose_later_frames_are_huge_is_refused_at_upload(app, client, alice, tmp_path):
    huge = jpeg_of_size(16000, 16000)
    response = upload(client, picture_avi([jpeg_of_size(64, 64), huge, huge]), "clip.avi")
    assert response.status_code == 413 and "16000x16000" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0
    assert upload_files(app) == []
    ordinary = upload(client, picture_avi([jpeg_of_size(64, 64)] * 3), "clip.avi")
    assert ordinary.status_code == 302  # frames of one size within the limit pass


def png_of_size(width: int, height: int) -> bytes:
    """A PNG of width x height, or for a large size a 16x16 one whose header chunk claims it (checksum matching)."""
    picture = io.BytesIO()
    Image.new("RGB", (width, height) if width * height <= 4096 else (16, 16), (90, 90, 90)).save(picture, "PNG")
    data = bytearray(picture.getvalue())
    data[16:24] = width.to_bytes(4, "big") + height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    return bytes(data)


def test_a_png_coded_video_whose_later_frames_are_huge_is_refused(tmp_path):
    """PNG frames in an AVI (codec MPNG) carry their own size like JPEG ones: 16000x16000 after a 64x64 first frame
    would decode to 768 MB a frame."""
    clip = tmp_path / "clip.avi"
    clip.write_bytes(picture_avi([png_of_size(64, 64), png_of_size(16000, 16000)], codec=b"MPNG"))
    with pytest.raises(MediaTooLarge, match="16000x16000"):
        probe_video(clip, 60)
    clip.write_bytes(picture_avi([png_of_size(64, 64)] * 3, codec=b"MPNG"))
    assert probe_video(clip, 60).width == 64


def test_a_vp8_key_frame_larger_than_the_limit_is_refused_before_decoding(tmp_path):
    clip = write_video(tmp_path / "clip.webm", [np.full((48, 64, 3), 90, np.uint8)] * 4, codec="VP80")
    assert probe_video(clip, 60).width == 64
    data = bytearray(clip.read_bytes())
    start = data.index(b"\x9d\x01\x2a")  # the first key frame's start code, then its width and height
    data[start + 3:start + 7] = struct.pack("<HH", 16000, 16000)
    (tmp_path / "huge.webm").write_bytes(data)
    with pytest.raises(MediaTooLarge, match="16000x16000"):
        scan_frame_sizes(tmp_path / "huge.webm", 60, 8_300_000)


@pytest.mark.parametrize(("name", "size"), [("h264-later-frame-16000px.mp4", "16000x16000"),
                                            ("h264-later-frame-16000px.avi", "16000x16000"),
                                            ("hevc-later-frame-4096px.mkv", "4096x4096"),
                                            ("vp9-later-frame-4096px.webm", "4096x4096"),
                                            ("av1-later-frame-4096px.mp4", "4096x4096"),
                                            ("mpeg4-later-frame-3000px.avi", "3000x3000"),
                                            ("h264-sps-only-in-avcc-8192px.mp4", "8192x8192")])
def test_videos_with_a_huge_later_frame_are_refused_before_a_frame_is_decoded(monkeypatch, name, size):
    """64x64 frames, then one whose sequence parameter set says 16000x16000 (a 50 KB MP4 that cost 600 MB to probe
    when the first frame was decoded before the packets were read)."""
    with pytest.raises(MediaTooLarge, match=size):
        probe_video(DATA / name, 60)
    opened = []  # the same check in this process: only the packet reader opened the file
    real_open = video_check.open_capture
    monkeypatch.setattr(video_check, "open_capture",
                        lambda path, packets=False: opened.append(packets) or real_open(path, packets))
    with pytest.raises(MediaTooLarge, match=size):
        video_check._probe_here(DATA / name, 60, video_check.DEFAULT_MAX_PIXELS)
    assert opened == [True]


def test_a_video_whose_other_tracks_take_too_much_memory_to_open_is_refused(tmp_path):
    """FFmpeg decodes a frame of every video track when it opens a file, before any check can read it: a 1080p
    track with two 8192x8192 ones after it took 310 MB at every opening (a 64x64 one with three 16000x16000 ones,
    1.7 GB). The check runs in a process of its own, which measures what the opening cost."""
    large = tmp_path / "large.mkv"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "color=c=gray:s=8192x8192:d=0.25:r=4",
                    "-frames:v", "1", "-c:v", "libx264", "-preset", "ultrafast", "-qp", "51", "-pix_fmt", "yuv420p",
                    str(large)], check=True)
    three = tmp_path / "three.mkv"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(DATA / "hevc-1080p.mkv"), "-i", str(large), "-i",
                    str(large), "-map", "0:v", "-map", "1:v", "-map", "2:v", "-c", "copy", str(three)], check=True)
    assert video_check._probe_here(three, 60, video_check.DEFAULT_MAX_PIXELS).width == 1920  # it opens, at a cost
    with pytest.raises(MediaTooLarge, match="more memory to open"):
        probe_video(three, 60)
    with pytest.raises(MediaTooLarge, match="more memory to open"):
        video_check.check_stored_video(three, 60)
    assert probe_video(DATA / "hevc-1080p.mkv", 60).width == 1920


def test_ffmpeg_allocates_at_most_the_cap_at_once_in_this_process():
    """A 12000x12000 16-bit RGBA PNG track takes 1.15 GB in one allocation: past the check's ceiling it failed
    quietly there (the track left out, the file passed) and succeeded in the app's processes at every opening."""
    with open("/proc/self/maps") as maps:
        library = next(line.split()[-1] for line in maps if "/libavutil" in line)
    avutil = ctypes.CDLL(library)
    avutil.av_malloc.restype, avutil.av_malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    avutil.av_free.argtypes = [ctypes.c_void_p]
    assert avutil.av_malloc(video_check.MAX_FFMPEG_ALLOCATION + 1) is None
    within = avutil.av_malloc(64 * 2**20)
    assert within is not None
    avutil.av_free(within)


def test_the_check_answers_whatever_the_folder_and_the_log_settings(tmp_path, monkeypatch):
    """Run from a folder holding another `inference` package, the check imported that one; with OpenCV's log at
    INFO, its lines on stdout spoiled the answer (a 500 for every video); a relative UPLOAD_FOLDER's paths named
    nothing in the project's folder, where the check runs."""
    (tmp_path / "inference").mkdir()
    (tmp_path / "inference" / "__init__.py").write_text("")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OPENCV_LOG_LEVEL", "INFO")
    assert probe_video(DATA / "h264-1080p.mp4", 60).width == 1920
    shutil.copy(DATA / "h264-1080p.mp4", tmp_path / "clip.mp4")
    assert probe_video(Path("clip.mp4"), 60).width == 1920  # a path relative to this process's folder
    with pytest.raises(MediaTooLarge, match="16000x16000"):
        video_check.check_stored_video(DATA / "h264-later-frame-16000px.mp4", 60)


@pytest.mark.parametrize("size, refused", [
    (FrameFormat(3840, 2160, frames=9), None),  # 4K with 8 references (phones record 4 or 5)
    (FrameFormat(3840, 2160, frames=10), "refer back to as many as 9 others"),
    (FrameFormat(1920, 1080, bit_depth=10, frames=17), None),  # 1080p 10-bit with 16: 172 MB to decode
    (FrameFormat(1920, 1080, frames=17), None),  # 1080p may keep 16
    (FrameFormat(3840, 2160, frames=17), "refer back to as many as 16 others"),
    (FrameFormat(3840, 2160, chroma_format=3, bit_depth=10), "richer colour \\(10-bit 4:4:4\\)"),
    (FrameFormat(1920, 1080, chroma_format=3, bit_depth=10, frames=5), None)])
def test_a_parameter_set_is_weighed_by_what_its_decoder_holds(size, refused):
    """A stream that switched to 3840x2160 10-bit 4:4:4 with 16 references after a 64x64 first frame passed the
    size check (the header's colour was 8-bit 4:2:0) and took 960 MB to decode; 4K with 16 references, 400 MB."""
    if refused is None:
        video_check._check_decoder_memory(size, video_check.DEFAULT_MAX_PIXELS)
    else:
        with pytest.raises(MediaTooLarge, match=refused):
            video_check._check_decoder_memory(size, video_check.DEFAULT_MAX_PIXELS)


def test_a_size_read_after_a_sequence_header_is_weighed_in_its_colour(monkeypatch):
    """A VP9 inter frame may give its own size, up to 16 times its references', in its last key frame's colour: a
    1024x1024 12-bit 4:4:4 key frame, then inter frames of 3840x2160, passed as 64x64 and took 400 MB to decode (a
    diff review's 33 KB WebM)."""
    sizes = [(64, 64), FrameFormat(1024, 1024, chroma_format=3, bit_depth=12), (3840, 2160)]
    monkeypatch.setattr(video_check, "_stream_sizes", lambda *args: iter(sizes))
    with pytest.raises(MediaTooLarge, match="3840x2160 with richer colour \\(12-bit 4:4:4\\)"):
        video_check.scan_frame_sizes(DATA / "h264-1080p.mp4", 60, video_check.DEFAULT_MAX_PIXELS)
    sizes[1] = FrameFormat(1024, 1024)  # in 8-bit 4:2:0, 4K passes
    video_check.scan_frame_sizes(DATA / "h264-1080p.mp4", 60, video_check.DEFAULT_MAX_PIXELS)


def test_a_stream_that_switches_to_richer_colour_after_its_first_frame_is_refused(tmp_path):
    """Three seconds of 64x64 8-bit 4:2:0 frames (what the header says), then a 3840x2160 10-bit 4:4:4 one with 16
    references: its size alone passed, and decoding it took 960 MB (a diff review)."""
    quiet = ["ffmpeg", "-loglevel", "error", "-y"]
    subprocess.run([*quiet, "-f", "lavfi", "-i", "color=c=gray:s=64x64:r=30", "-frames:v", "90", "-c:v", "libx264",
                    "-preset", "ultrafast", "-f", "h264", str(tmp_path / "small.h264")], check=True)
    subprocess.run([*quiet, "-f", "lavfi", "-i", "color=c=gray:s=3840x2160:r=30", "-frames:v", "1", "-c:v", "libx264",
                    "-preset", "ultrafast", "-qp", "51", "-profile:v", "high444", "-pix_fmt", "yuv444p10le",
                    "-x264-params", "ref=16", "-f", "h264", str(tmp_path / "rich.h264")], check=True)
    both = tmp_path / "both.h264"
    both.write_bytes((tmp_path / "small.h264").read_bytes() + (tmp_path / "rich.h264").read_bytes())
    subprocess.run([*quiet, "-r", "30", "-i", str(both), "-c", "copy", str(tmp_path / "switch.avi")], check=True)
    with pytest.raises(MediaTooLarge, match="richer colour \\(10-bit 4:4:4\\)"):
        probe_video(tmp_path / "switch.avi", 60)


def ebml(element: str, payload: bytes | int | str) -> bytes:
    """A Matroska element: its ID (hex), its size and its payload."""
    if isinstance(payload, int):
        payload = payload.to_bytes(max(1, (payload.bit_length() + 7) // 8), "big")
    payload = payload.encode() if isinstance(payload, str) else payload
    length = next(length for length in range(1, 9) if len(payload) < (1 << (7 * length)) - 1)
    return bytes.fromhex(element) + ((1 << (7 * length)) | len(payload)).to_bytes(length, "big") + payload


@pytest.mark.parametrize("compressed", [False, True])
def test_a_matroska_video_track_with_compressed_frames_is_refused(tmp_path, compressed):
    """FFmpeg restores frames compressed in a Matroska file (zlib, header stripping) as it reads them, so an avcC
    record sent as a packet is not in the file's bytes that the scan searches (a diff review): such a video track is
    refused (no phone or editor makes one)."""
    source = DATA / "h264-1080p.mp4"
    rows = subprocess.run(["ffprobe", "-v", "error", "-show_packets", "-select_streams", "v", "-show_entries",
                           "packet=pos,size,flags", "-of", "csv=p=0", str(source)], capture_output=True, text=True,
                          check=True).stdout.split()
    data = source.read_bytes()
    box = data.index(b"avcC")
    avcc = data[box + 4:box - 4 + int.from_bytes(data[box - 4:box], "big")]
    encodings = ebml("6D80", ebml("6240", ebml("5034", ebml("4254", 0)))) if compressed else b""
    track = ebml("AE", ebml("D7", 1) + ebml("73C5", 1) + ebml("83", 1) + ebml("86", "V_MPEG4/ISO/AVC")
                 + ebml("63A2", avcc) + ebml("E0", ebml("B0", 1920) + ebml("BA", 1080)) + encodings)
    blocks = b""
    for index, row in enumerate(rows):
        size, position, flags = row.split(",")  # ffprobe writes its fields in its own order
        frame = data[int(position):int(position) + int(size)]
        blocks += ebml("A3", b"\x81" + (index * 250).to_bytes(2, "big") + (b"\x80" if "K" in flags else b"\x00")
                       + (zlib.compress(frame) if compressed else frame))
    header = ebml("1A45DFA3", ebml("4286", 1) + ebml("42F7", 1) + ebml("42F2", 4) + ebml("42F3", 8)
                  + ebml("4282", "matroska") + ebml("4287", 4) + ebml("4285", 2))
    segment = ebml("18538067", ebml("1549A966", ebml("2AD7B1", 1_000_000)) + ebml("1654AE6B", track)
                   + ebml("1F43B675", ebml("E7", 0) + blocks))
    (tmp_path / "clip.mkv").write_bytes(header + segment)
    if not compressed:
        assert probe_video(tmp_path / "clip.mkv", 60).width == 1920
        return
    with pytest.raises(UnsupportedMediaType, match="compressed inside the file"):
        probe_video(tmp_path / "clip.mkv", 60)


@pytest.mark.parametrize("container", ["mp4", "mov", "mkv"])
def test_an_avcc_record_sent_as_a_packet_is_refused_in_any_container(tmp_path, container):
    """A packet that is an avcC record (its sequence parameter set 16000x16000) and the next keyframe's own set
    turned into filler: FFmpeg's decoder takes the record as new parameter sets (2.4 GB to decode the 64x64 file),
    while OpenCV's start-code filter refuses that packet and its reader stops there, so the packets' scan saw neither
    it nor the packets after it (two diff reviews: in MP4, MOV and Matroska alike)."""
    data = bytearray((DATA / "h264-later-frame-16000px.mp4").read_bytes())
    keyframe = bytes(data[849:849 + 47647])  # the 16000x16000 keyframe: its length-prefixed SPS, then its PPS
    sps, pps = keyframe[4:32], keyframe[36:42]
    record = bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]) + len(sps).to_bytes(2, "big") + sps + b"\x01" \
        + len(pps).to_bytes(2, "big") + pps
    data[849:849 + 47647] = record.ljust(47647, b"\0")
    data[48496 + 4] = 0x0C  # the next keyframe's 64x64 SPS: filler
    (tmp_path / "record.mp4").write_bytes(bytes(data))
    path = tmp_path / f"record.{container}"
    if container != "mp4":
        subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(tmp_path / "record.mp4"), "-c", "copy", str(path)],
                       check=True)
    with pytest.raises(MediaTooLarge, match="16000x16000"):
        probe_video(path, 60)


def test_an_mp4_cut_short_still_probes(tmp_path):
    """An upload cut short (its index whole, its media data not) is analysed as far as it goes: a check that refused
    a packet reader that stopped before the index's count took such files for damaged ones (a diff review)."""
    clip = write_video(tmp_path / "clip.mp4", moving_faces_frames(skdata.astronaut(), 40, faces=1))
    whole = tmp_path / "whole.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(clip), "-c", "copy", "-movflags", "+faststart",
                    str(whole)], check=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[:int(whole.stat().st_size * 0.4)])
    assert probe_video(cut, 60).frame_count == probe_video(whole, 60).frame_count  # the index's count, read whole


def test_a_movs_video_samples_count_against_the_video_budget(tmp_path):
    """A QuickTime track's data handler ("url ") comes after its media handler ("vide") and was taken for the
    track's kind: a MOV's frames were counted against the sound's budget."""
    clip = write_video(tmp_path / "clip.mp4", moving_faces_frames(skdata.astronaut(), 20, faces=1))
    subprocess.run(["ffmpeg", "-loglevel", "error", "-i", str(clip), "-c", "copy", str(tmp_path / "clip.mov")],
                   check=True)
    with pytest.raises(MediaTooLarge, match="frames"):
        movie_index.check_movie_index(tmp_path / "clip.mov", 10, 60, video_check.too_many_frames(1))
    movie_index.check_movie_index(tmp_path / "clip.mov", 20, 60, video_check.too_many_frames(1))


def test_an_h264_video_with_a_huge_later_frame_is_refused_at_upload(app, client, alice):
    response = upload(client, (DATA / "h264-later-frame-16000px.mp4").read_bytes(), "clip.mp4")
    assert response.status_code == 413 and "16000x16000" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count(Analysis.id))) == 0
    assert upload_files(app) == []


def test_a_packet_of_countless_frame_headers_is_refused_before_all_are_read(tmp_path):
    """Each header costs microseconds to read: at most four times the frame budget of them (here 4 x 60) are."""
    header = b"\xff\xc0\x00\x11\x08\x00\x40\x00\x40\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    clip = tmp_path / "clip.avi"
    clip.write_bytes(picture_avi([jpeg_of_size(64, 64) + header * 239]))
    scan_frame_sizes(clip, 1, 8_300_000)  # 240 frame headers
    clip.write_bytes(picture_avi([jpeg_of_size(64, 64) + header * 100_000]))
    with pytest.raises(MediaTooLarge, match="more than 60 frames"):
        scan_frame_sizes(clip, 1, 8_300_000)


def test_a_video_in_a_codec_whose_frame_sizes_are_not_read_is_refused(app, client, alice):
    response = upload(client, picture_avi([jpeg_of_size(64, 64)] * 3, codec=b"cvid"), "clip.avi")  # Cinepak
    assert response.status_code == 415
    assert "codec (CVID) is not supported; H.264, HEVC, VP8, VP9, AV1, MPEG-4 and other common codecs are" in \
        response.get_data(as_text=True)
    assert upload_files(app) == []


@pytest.mark.parametrize("name", ["h264-1080p.mp4", "hevc-1080p.mkv"])
def test_ordinary_h264_and_hevc_videos_pass(name):
    info = probe_video(DATA / name, 60)
    assert (info.width, info.height, info.frame_count) == (1920, 1080, 4)


def with_boxes_in_movie(mp4: bytes, boxes: bytes) -> bytes:
    """The MP4 with `boxes` added at the end of its movie box (which FFmpeg writes last)."""
    movie = mp4.index(b"moov") - 4
    assert int.from_bytes(mp4[movie:movie + 4], "big") == len(mp4) - movie
    return mp4[:movie] + (len(mp4) - movie + len(boxes)).to_bytes(4, "big") + mp4[movie + 4:] + boxes


def test_a_codec_description_that_no_packet_shows_is_read_and_a_huge_index_refused(tmp_path):
    """An MP4 track may hold several sample descriptions; FFmpeg gives the decoder a later one mid-stream."""
    ordinary = (DATA / "h264-1080p.mp4").read_bytes()
    configured = (DATA / "h264-sps-only-in-avcc-8192px.mp4").read_bytes()
    start = configured.index(b"avcC") - 4
    avcc = configured[start:start + int.from_bytes(configured[start:start + 4], "big")]
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(with_boxes_in_movie(ordinary, avcc))
    with pytest.raises(MediaTooLarge, match="8192x8192"):
        probe_video(clip, 60)
    padding = 17 * 2**20
    clip.write_bytes(with_boxes_in_movie(ordinary, (padding + 8).to_bytes(4, "big") + b"free" + bytes(padding)))
    with pytest.raises(MediaTooLarge, match="index is larger than 16 MB"):
        probe_video(clip, 60)


def test_a_stored_video_is_scanned_before_a_frame_of_it_is_decoded(app, client, alice, two_face_video):
    """A video stored before a size check existed (here: replaced on disk) is refused, not decoded, when a frame
    of it is asked for."""
    from services.storage import upload_path

    response = upload(client, two_face_video.read_bytes(), "clip.mp4")
    analysis_id = int(re.search(r"/analyses/(\d+)$", response.location).group(1))
    with app.app_context():
        stored = upload_path(db.session.get(Analysis, analysis_id).stored_name)
    stored.write_bytes((DATA / "h264-later-frame-16000px.mp4").read_bytes())
    frame = client.get(f"/analyses/{analysis_id}/frame?t=0.5")
    assert frame.status_code == 413 and "16000x16000" in frame.get_data(as_text=True)
    index_bomb = patched(patched((DATA / "h264-1080p.mp4").read_bytes(), b"stsz", 8, 1), b"stsz", 12, 40_000_000)
    stored.write_bytes(index_bomb)  # FFmpeg would build a 1.3 GB index on opening it
    frame = client.get(f"/analyses/{analysis_id}/frame?t=0.5")
    assert frame.status_code == 413 and "frames" in frame.get_data(as_text=True)
    stored.write_bytes(two_face_video.read_bytes())
    assert client.get(f"/analyses/{analysis_id}/frame?t=0.5").status_code == 200


def test_stored_frames_are_decoded_in_frame_slots_of_the_user_asking_never_an_uploads(app, client, alice,
                                                                                       two_face_video, coffee_jpeg):
    """A frame of a video with few key frames costs seconds: two accounts asking for many held every analysis slot
    and a photo upload waited a minute. Frames have slots of their own, taken by the user asking."""
    response = upload(client, two_face_video.read_bytes(), "clip.mp4")
    analysis_id = int(re.search(r"/analyses/(\d+)$", response.location).group(1))
    app.config["ANALYSIS_WAIT_SECONDS"] = 0.1
    with app.app_context(), ExitStack() as slots:
        for user_id in range(app.config["FRAME_CONCURRENCY"]):  # other users' frames fill them
            slots.enter_context(frame_slot(1000 + user_id))
        busy = client.get(f"/analyses/{analysis_id}/frame?t=1")
        assert busy.status_code == 429 and "busy showing other video frames" in busy.get_data(as_text=True)
        assert client.get(f"/analyses/{analysis_id}/detections/1/crop.jpg").status_code == 429
        assert upload(client, coffee_jpeg, "coffee.jpg").status_code == 302  # an upload is not kept waiting
    with app.app_context(), ExitStack() as slots:
        for _ in range(app.config["ANALYSIS_CONCURRENCY"]):
            slots.enter_context(analysis_slot())
        assert client.get(f"/analyses/{analysis_id}/frame?t=1").status_code == 200
    assert client.get(f"/analyses/{analysis_id}/frame?t=1").status_code == 200


def test_a_frame_asked_again_is_not_decoded_again_while_its_file_is_the_same(app, client, alice, two_face_video,
                                                                            monkeypatch):
    """Each frame is decoded in a process of its own (0.2-0.5 s): the scrubber and the frame strip ask for the same
    times again and again."""
    from services import storage

    response = upload(client, two_face_video.read_bytes(), "clip.mp4")
    analysis_id = int(re.search(r"/analyses/(\d+)$", response.location).group(1))
    decoded, real_stored_rgb = [], storage.stored_rgb
    monkeypatch.setattr(storage, "stored_rgb", lambda analysis, at: decoded.append(at) or real_stored_rgb(analysis, at))
    first, again = (client.get(f"/analyses/{analysis_id}/frame?t=0.5") for _ in range(2))
    assert first.status_code == again.status_code == 200 and first.data == again.data and decoded == [0.5]
    assert client.get(f"/analyses/{analysis_id}/frame?t=1").status_code == 200 and decoded == [0.5, 1.0]
    with app.app_context():
        stored = storage.upload_path(db.session.get(Analysis, analysis_id).stored_name)
    stored.write_bytes((DATA / "h264-later-frame-16000px.mp4").read_bytes())  # another file: read again, refused
    assert client.get(f"/analyses/{analysis_id}/frame?t=0.5").status_code == 413
    stored.unlink()
    assert client.get(f"/analyses/{analysis_id}/frame?t=1").status_code == 404


def iso_box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


FTYP = iso_box(b"ftyp", b"isom" + bytes(4))


def with_moov(movie: bytes, change) -> bytes:
    """An MP4 whose movie box (after its media data) is rebuilt by change(children: [(type, box bytes)])."""
    at = movie.index(b"moov") - 4
    payload, children, offset = movie[at + 8:], [], 0
    while offset < len(payload):
        size = struct.unpack(">I", payload[offset:offset + 4])[0]
        children.append((payload[offset + 4:offset + 8], payload[offset:offset + size]))
        offset += size
    return movie[:at] + iso_box(b"moov", b"".join(box for _, box in change(children)))


def copies_of_the_track(count: int):
    def change(children):
        track = next(box for kind, box in children if kind == b"trak")
        tkhd = track.index(b"tkhd") + 4 + 4 + 8  # version and flags, two times: the track id
        copies = [track[:tkhd] + struct.pack(">I", number + 1) + track[tkhd + 4:] for number in range(count)]
        return [(kind, box) for kind, box in children if kind != b"trak"] + [(b"trak", copy) for copy in copies]
    return change


def test_a_video_of_many_streams_is_refused_before_ffmpeg_opens_a_decoder_for_each(client, alice):
    """FFmpeg opened a decoder for each of 100 copies of one 4K track in an 88 KB MP4 while probing: 2 GB."""
    clip = (DATA / "h264-1080p.mp4").read_bytes()
    assert upload(client, with_moov(clip, copies_of_the_track(3)), "three.mp4").status_code == 302
    refused = upload(client, with_moov(clip, copies_of_the_track(17)), "many.mp4")
    assert refused.status_code == 400 and "more than 16 tracks (picture, sound" in refused.get_data(as_text=True)


def patched(movie: bytes, kind: bytes, offset: int, value: int) -> bytes:
    """The movie with the 32-bit field `offset` bytes after the first `kind` box's type set to `value`."""
    at = movie.index(kind, movie.index(b"moov")) + offset
    return movie[:at] + struct.pack(">I", value) + movie[at + 4:]


@pytest.mark.parametrize(("kind", "offset", "answer"), [
    (b"stsz", 12, "more than 7,200 frames"),  # a fixed sample size (set below) and 40 million samples: 1.3 GB
    (b"elst", 8, "edit list has 100,000 entries"),  # the clip repeated 100,000 times: 820 MB
])
def test_an_index_that_claims_millions_of_samples_is_refused_before_ffmpeg_builds_it(tmp_path, kind, offset, answer):
    clip = (DATA / "h264-1080p.mp4").read_bytes()
    count = 100_000 if kind == b"elst" else 40_000_000
    bomb = patched(patched(clip, b"stsz", 8, 1) if kind == b"stsz" else clip, kind, offset, count)
    (tmp_path / "bomb.mp4").write_bytes(bomb)
    with pytest.raises(MediaTooLarge, match=answer):
        probe_video(tmp_path / "bomb.mp4", 120)


def test_a_file_of_countless_boxes_is_refused_by_their_number(tmp_path):
    clip = (DATA / "h264-1080p.mp4").read_bytes()
    at = clip.index(b"moov") - 4
    (tmp_path / "boxes.mp4").write_bytes(clip[:at] + iso_box(b"free", b"") * 100_001 + clip[at:])
    with pytest.raises(MediaTooLarge, match="more than 100,000 pieces"):
        probe_video(tmp_path / "boxes.mp4", 120)


def test_movie_fragments_are_counted_too(tmp_path):
    """A 1.6 KB fragmented MP4 whose run claimed 30 million samples cost 950 MB; a sound track may have more
    samples than a video track, within a second's worth of 96 kHz sound per second."""
    track = iso_box(b"trak", iso_box(b"tkhd", bytes(12) + struct.pack(">I", 1) + bytes(68))
                    + iso_box(b"mdia", iso_box(b"hdlr", bytes(8) + b"vide" + bytes(12))))
    sound = iso_box(b"trak", iso_box(b"tkhd", bytes(12) + struct.pack(">I", 2) + bytes(68))
                    + iso_box(b"mdia", iso_box(b"hdlr", bytes(8) + b"soun" + bytes(12))))

    def fragment(track_id: int, samples: int) -> bytes:
        return iso_box(b"moof", iso_box(b"traf", iso_box(b"tfhd", struct.pack(">II", 0, track_id))
                                        + iso_box(b"trun", struct.pack(">II", 0, samples))))
    movie = FTYP + iso_box(b"moov", track + sound)
    refused = MediaTooLarge("too many frames")
    clip = tmp_path / "fragments.mp4"
    clip.write_bytes(movie + fragment(1, 7_000) + fragment(2, 2_000_000))
    movie_index.check_movie_index(clip, 14_400, 120, refused)  # within the limits
    clip.write_bytes(movie + fragment(1, 7_000) + fragment(1, 7_401))
    with pytest.raises(MediaTooLarge, match="too many frames"):
        movie_index.check_movie_index(clip, 14_400, 120, refused)
    clip.write_bytes(movie + fragment(2, 30_000_000))
    with pytest.raises(MediaTooLarge, match="30,000,000 samples in its sound and data tracks"):
        movie_index.check_movie_index(clip, 14_400, 120, refused)
    clip.write_bytes(movie + fragment(2, 2_000_000) + fragment(3, 2_000_000) + fragment(4, 2_000_000))
    with pytest.raises(MediaTooLarge, match="too many frames"):  # fragments of undescribed tracks count as video
        movie_index.check_movie_index(clip, 14_400, 120, refused)


def test_an_index_that_hides_its_tables_is_refused(tmp_path):
    """Tables nested deeper than a video's (FFmpeg still reads them), a box nested in itself 50,000 times, and a
    compressed movie box (FFmpeg inflates it to any size it claims) are refused, not skipped."""
    refused, clip = MediaTooLarge("too many frames"), tmp_path / "hidden.mp4"
    table = iso_box(b"stbl", iso_box(b"stsz", struct.pack(">III", 0, 1, 40_000_000)))
    for _ in range(5):
        table = iso_box(b"minf", table)
    clip.write_bytes(FTYP + iso_box(b"moov", iso_box(b"trak", iso_box(b"mdia", table))))
    with pytest.raises(MediaTooLarge, match="nested deeper"):
        movie_index.check_movie_index(clip, 14_400, 120, refused)
    nested = b"end"
    for _ in range(50_000):
        nested = iso_box(b"moov", nested)
    clip.write_bytes(FTYP + nested)
    with pytest.raises(MediaTooLarge, match="nested deeper"):
        movie_index.check_movie_index(clip, 14_400, 120, refused)
    clip.write_bytes(FTYP + iso_box(b"moov", iso_box(b"cmov", iso_box(b"dcom", b"zlib"))))
    with pytest.raises(UnsupportedMediaType, match="compressed"):
        movie_index.check_movie_index(clip, 14_400, 120, refused)


def test_a_4k_video_in_10_bit_colour_is_refused_and_a_smaller_one_would_fit(client, alice, tmp_path):
    """A phone's 4K HDR clip (10-bit 4:2:0 HEVC) cost +483 MB to analyse: twice the memory of 8-bit frames."""
    refused = upload(client, (DATA / "hevc-10bit-4k.mp4").read_bytes(), "hdr.mp4")
    page = refused.get_data(as_text=True)
    assert refused.status_code == 413
    assert "3840x2160 with richer colour (10-bit 4:2:0)" in page and "limited to 4.2 megapixels" in page
    scan_frame_sizes(DATA / "hevc-10bit-4k.mp4", 120, 20_000_000)  # within twice its pixels: passes


def test_a_truncated_video_lasts_as_long_as_its_frames():
    """A file cut at 95% kept its header's duration: the scrubber asked for frames past the cut, and each request
    sought backwards for 30 to 40 s before a 400."""
    assert video.decoded_duration(120.0, 119.75, 4.0) == 120.0  # the last sample falls short of the end by a step
    assert video.decoded_duration(120.0, 113.5, 4.0) == 113.5  # the frames stop well before: the file was cut
    assert video.decoded_duration(10.0, 10.4, 4.0) == 10.4  # a header that under-reports


def test_frames_larger_than_1080p_go_through_in_smaller_batches(two_face_video, monkeypatch):
    """Eight 4K frames at once cost about 340 MB; a batch holds at most `batch_pixels` pixels (one frame at least)."""
    sizes: list[int] = []
    process = VideoAnalyzer._process
    monkeypatch.setattr(VideoAnalyzer, "_process", lambda self, batch, *args: sizes.append(len(batch)) or
                        process(self, batch, *args))
    info = probe_video(two_face_video, 120.0)
    frame_pixels = info.width * info.height
    for budget, size in ((frame_pixels * 3, 3), (frame_pixels // 2, 1), (frame_pixels * 100, 8)):
        sizes.clear()
        VideoAnalyzer(get_pipeline(), batch_pixels=budget).analyze(two_face_video)
        assert max(sizes) == size and sum(sizes) == 12  # 3 s sampled at 4 frames a second


def test_a_video_cut_short_is_analysed_as_far_as_it_goes_and_says_so(app, client, alice, astronaut, tmp_path):
    """An AVI whose header gives 8 s but whose bytes stop after about 3 s (an upload or a copy cut short): the
    frames there are are analysed, and the page and the API say the file is cut short and where its frames end."""
    whole = write_video(tmp_path / "whole.avi", moving_faces_frames(astronaut, 80), codec="MJPG").read_bytes()
    response = upload(client, whole[: len(whole) * 2 // 5], "cut.avi")
    assert response.status_code == 302
    with app.app_context():
        analysis = db.session.scalar(db.select(Analysis))
        assert analysis.status == "done" and analysis.stated_duration == pytest.approx(8.0)
        assert 2.0 < analysis.duration < 4.0
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "This file is cut short: it says it lasts 8.0 s, but its frames end at" in page
    document = client.get(f"/api/v1/analyses/{analysis.id}", headers=bearer(client, "alice")).json
    assert document["stated_duration"] == pytest.approx(8.0) and document["duration"] == analysis.duration
    whole_video = upload(client, whole, "whole.avi")
    assert "cut short" not in client.get(whole_video.headers["Location"]).get_data(as_text=True)


def test_a_video_run_interrupted_and_started_again_says_so_on_its_progress_page(app, client, alice):
    """Its worker stopped: the job is queued again and starts from the beginning; the bar going back is explained."""
    store_analyses(app, alice, [StoredAnalysis("clip.mp4", media=Media.VIDEO)])
    said = "The analysis was interrupted on the server and started again from the beginning."
    for status, attempts, told in (("running", 1, False), ("queued", 1, True), ("running", 2, True),
                                   ("queued", 0, False)):
        with app.app_context():
            analysis = db.session.scalar(db.select(Analysis))
            analysis.status, analysis.attempts, analysis.progress = status, attempts, 0.1
            db.session.commit()
            analysis_id = analysis.id
        page = client.get(f"/analyses/{analysis_id}").get_data(as_text=True)
        shown = re.search(r'<p id="job-restarted" class="hint"( hidden)?>', page)
        assert shown and (shown.group(1) is None) is told, (status, attempts)
        assert said in page  # for the page's script to show when the bar goes back


def dog_track(shown_as_found: list[bool]) -> video.TrackResult:
    """A dog's track whose frames are shown by its head box, or (True) by the box it was found at."""
    track = video.TrackResult(1, DetectionKind.DOG)
    reading = Classified({"angry": 0.1, "happy": 0.6, "relaxed": 0.2, "sad": 0.1}, "happy")
    for index, as_found in enumerate(shown_as_found):
        found = (10.0 + index, 50.0, 210.0 + index, 300.0)
        head = found if as_found else (120.0 + index, 40.0, 200.0 + index, 110.0)
        track.add(index * 0.25, Detection(head, 0.9, DetectionKind.DOG, body=found, detected=found), reading)
    return track


def test_a_dog_shown_by_its_found_box_in_a_third_of_its_frames_is_shown_so_in_all():
    """A dog held to a person's chest: in the frames where the person's face was found, its head box (on her face)
    gave way to the box it was found at; in the others it stayed, and the player's box swelled and shrank."""
    mixed = dog_track([False, True, False, True, False, False]).finish(0.5)
    assert [point["box"] for point in mixed.timeline] == [[10 + i, 50, 210 + i, 300] for i in range(6)]
    rare = dog_track([False] * 5 + [True]).finish(0.5)  # a head box cut to nothing once: the track keeps its heads
    assert [point["box"][:2] for point in rare.timeline] == [[120 + i, 40] for i in range(5)] + [[15, 50]]


def pet_track(track_id: int, frames: list[tuple[DetectionKind, np.ndarray]]) -> video.TrackResult:
    """A pet's track, one frame a quarter of a second for each (species its vote gave, look)."""
    track = video.TrackResult(track_id, frames[0][0])
    readings = {DetectionKind.DOG: Classified({"angry": 0.1, "happy": 0.6, "relaxed": 0.2, "sad": 0.1}, "happy"),
                DetectionKind.CAT: Classified({}, None)}
    for index, (kind, look) in enumerate(frames):
        box = (10.0, 50.0, 210.0, 300.0)
        track.add(index * 0.25, Detection(box, 0.9, kind, body=box, appearance=look / np.linalg.norm(look)),
                  readings[kind])
    return track


def test_a_pet_track_whose_species_changes_for_good_to_a_pet_that_looks_other_is_two_pets():
    """The walk-through's clip: a dog, then (after a cut the colours did not show, letterboxed) a cat where it was;
    the tracker followed both as one pet, and keeping the majority's frames lost the dog."""
    dog_look, cat_look = np.eye(8)[0], np.eye(8)[1]
    dog, cat = DetectionKind.DOG, DetectionKind.CAT
    then_a_cat = {3: pet_track(3, [(dog, dog_look)] * 6 + [(cat, cat_look)] * 9 + [(dog, cat_look)]),
                  5: pet_track(5, [(dog, dog_look)] * 4)}
    tracks = video.final_tracks(then_a_cat, SAME_PET_LOOK, 2)
    assert [(track.track_id, track.kind, len(track.times)) for track in tracks] == [(3, dog, 6), (5, dog, 4),
                                                                                   (6, cat, 9)]
    assert tracks[2].times[0] == 1.5
    one_cat = pet_track(1, [(dog, cat_look)] * 5 + [(cat, cat_look)] * 10)  # the votes changed, the look did not
    flipping = pet_track(1, [(dog, dog_look), (cat, dog_look)] * 8)  # votes that flip are no change for good
    short = pet_track(1, [(dog, dog_look)] * 3 + [(cat, cat_look)] * 10)  # too few frames before
    for track in (one_cat, flipping, short):
        assert len(video.final_tracks({1: track}, SAME_PET_LOOK, 2)) == 1


def test_a_step_of_as_many_frames_as_a_track_waits_is_time_in_view(app):
    """Mutant 32 (longest_unseen_step at TRACK_WAIT - 0.5 steps): a track keeps its subject across TRACK_WAIT
    sampled frames (IoUTracker's max_gap), but a step of 8 frames inside one track was taken for time out of view:
    its chart broke there and its "seen for" lost the time."""
    times = [0.0, 0.25, 0.5, 0.75, 1.0, 3.0, 3.25]  # 4 frames a second; 1.0 s to 3.0 s: 8 steps, one track
    assert steps_away(times) == [False] * 6
    assert seen_for(times) == 3.5

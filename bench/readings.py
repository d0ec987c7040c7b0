"""What counting video tracks as their pages read them costs: a person seen in `--videos` 60 s clips (sampled at 4
frames a second, as uploads are, 1-3 tracks each, all assigned to the person) against the same number of photos.

    python -m bench.readings [--videos 300] [--trials 3]

Prints, for each: the subject's dashboard (cold: first view after a new analysis; warm: cached), the history's first
page and the account's CSV export, in ms (median of `--trials`), and the SQL statements each ran.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import numpy as np
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event

from bench.fixtures import StoredAnalysis, login, make_app, make_subject, make_user, store_analyses
from extensions import db
from inference.detectors import Detection as FoundFace
from inference.labels import HUMAN_EMOTIONS, DetectionKind
from inference.pipeline import Classified
from inference.video import TrackResult, VideoResult
from models import Analysis, Detection, Media, utcnow
from services.analyses import store_video_result

CLIP_SECONDS, SAMPLE_FPS, SMOOTHING = 60.0, 4.0, 0.5  # as VideoAnalyzer samples and smooths


def track(rng: np.random.Generator, track_id: int) -> TrackResult:
    """A face tracked through the clip: its mood drifts, changing every few seconds, read with noise."""
    frames = int(CLIP_SECONDS * SAMPLE_FPS)
    found = TrackResult(track_id, DetectionKind.HUMAN)
    mood = rng.integers(len(HUMAN_EMOTIONS))
    for frame in range(frames):
        if rng.random() < 0.02:
            mood = rng.integers(len(HUMAN_EMOTIONS))
        raw = rng.dirichlet(np.ones(len(HUMAN_EMOTIONS)))
        raw[mood] += 1.5
        chance = float(rng.beta(2, 5))
        emotions = dict(zip(HUMAN_EMOTIONS, raw / raw.sum()))
        found.add(frame / SAMPLE_FPS, FoundFace((10, 10, 60, 60), 0.9),
                  Classified(emotions, max(emotions, key=emotions.get), chance, chance >= 0.5, []))
    return found


def store_videos(app: Flask, user_id: int, subject_id: int, count: int) -> None:
    """`count` analysed clips, one an hour ending now, each of 1-3 tracks assigned to the subject."""
    rng = np.random.default_rng(7)
    with app.app_context():
        for number in range(count):
            tracks = [track(rng, track_id).finish(SMOOTHING) for track_id in range(1, rng.integers(1, 4) + 1)]
            result = VideoResult(width=640, height=360, duration=CLIP_SECONDS, fps_sampled=SAMPLE_FPS,
                                 frames_analysed=int(CLIP_SECONDS * SAMPLE_FPS), tracks=tracks,
                                 models={"detector": "bench", "classifier": "bench"},
                                 classifiers={DetectionKind.HUMAN: "bench"}, poster_time=0.0)
            analysis = Analysis(user_id=user_id, media=Media.VIDEO, original_name=f"clip{number}.mp4",
                                stored_name=uuid.uuid4().hex, format="mp4", width=640, height=360,
                                created_at=utcnow() - timedelta(hours=count - number))
            store_video_result(analysis, result)
            for detection in analysis.detections:
                detection.subject_id = subject_id
            db.session.add(analysis)
        db.session.commit()


def store_photos(app: Flask, user_id: int, subject_id: int, count: int) -> None:
    rng = np.random.default_rng(7)
    readings = [dict(zip(HUMAN_EMOTIONS, map(float, rng.dirichlet(np.ones(len(HUMAN_EMOTIONS)) * 0.3))))
                for _ in range(count)]
    store_analyses(app, user_id, [StoredAnalysis(f"photo{number}.jpg", max(emotions, key=emotions.get), subject_id,
                                                 emotions=emotions,
                                                 created_at=utcnow() - timedelta(hours=count - number))
                                  for number, emotions in enumerate(readings)])


def timed(app: Flask, client: FlaskClient, url: str, trials: int,
          before: Callable[[], object] | None = None) -> tuple[float, int]:
    """The median time of GET `url` in ms, and the statements the last one ran (`before` runs before each)."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def listener(connection, cursor, statement, *args) -> None:
        statements.append(statement)
    timings = []
    for _ in range(trials):
        if before:
            before()
        statements.clear()
        event.listen(engine, "before_cursor_execute", listener)
        began = time.perf_counter()
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        response.get_data()
        timings.append((time.perf_counter() - began) * 1000)
        event.remove(engine, "before_cursor_execute", listener)
    return float(np.median(timings)), len(statements)


def measure(label: str, count: int, trials: int, store: Callable[[Flask, int, int, int], None]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        app = make_app(Path(folder))
        user_id = make_user(app, "owner")
        subject_id = make_subject(app, user_id, "Ana")
        store(app, user_id, subject_id, count)
        with app.app_context():
            tracks = db.session.scalar(db.select(db.func.count(Detection.id)))
        client = app.test_client()
        login(client, "owner")

        def new_analysis() -> None:  # the dashboard's cache keeps until the subject's appearances change
            store_analyses(app, user_id, [StoredAnalysis("new.jpg", "happy", subject_id)])

        for name, url, before in (("dashboard cold", f"/dashboard?subject={subject_id}", new_analysis),
                                  ("dashboard warm", f"/dashboard?subject={subject_id}", None),
                                  ("history page 1", "/analyses", None),
                                  ("account CSV", "/account/export.csv", None)):
            ms, statements = timed(app, client, url, trials, before)
            print(f"{label} ({count} analyses, {tracks} detections): {name}: {ms:.0f} ms, {statements} SQL")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--videos", type=int, default=300)
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    measure("photos", args.videos, args.trials, store_photos)
    measure("videos", args.videos, args.trials, store_videos)


if __name__ == "__main__":
    main()

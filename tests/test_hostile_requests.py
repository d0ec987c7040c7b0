"""Hostile requests that are not uploads: scrubber times past the end or not numbers, a video whose file is
gone, ids and query numbers no database integer can hold, too many form parts, a subject named like maths."""

from __future__ import annotations

import shutil

import pytest

from extensions import db
from models import Analysis, JobStatus, Media, User
from services import storage


def stored_video(app, user_id: int, video_path, duration: float = 3.0) -> int:
    """A finished video analysis of `video_path` (copied to the upload folder), without running the models."""
    with app.app_context():
        name = storage.new_stored_name("mp4")
        shutil.copy(video_path, storage.upload_folder() / name)
        analysis = Analysis(user=db.session.get(User, user_id), media=Media.VIDEO, status=JobStatus.DONE,
                            original_name="clip.mp4", stored_name=name, format="mp4", width=640, height=360,
                            duration=duration, face_count=0)
        db.session.add(analysis)
        db.session.commit()
        return analysis.id


@pytest.mark.parametrize("t", ["3.0", "2.99", "3", "1e9", "inf", "-inf", "nan", "-1", "abc", ""])
def test_the_scrubber_answers_a_frame_for_any_time(app, client, alice, two_face_video, t):
    analysis_id = stored_video(app, alice, two_face_video)
    response = client.get(f"/analyses/{analysis_id}/frame?t={t}")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"


def test_the_scrubber_falls_back_to_the_last_frame_when_the_duration_is_too_long(app, client, alice,
                                                                                 two_face_video):
    analysis_id = stored_video(app, alice, two_face_video, duration=3.4)  # a duration past the last frame
    assert client.get(f"/analyses/{analysis_id}/frame?t=3.4").status_code == 200


def test_a_frame_of_a_video_whose_file_is_gone_is_404(app, client, alice, two_face_video):
    analysis_id = stored_video(app, alice, two_face_video)
    with app.app_context():
        storage.upload_path(db.session.get(Analysis, analysis_id).stored_name).unlink()
    assert client.get(f"/analyses/{analysis_id}/frame?t=1").status_code == 404

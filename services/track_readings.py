"""A video track read again as the species its owner set (services/species.py): a cat the models tracked that its
owner says is a dog has the dog model's reading of it, as a photo's pet has. Its frames must be decoded and read, so
it is a job of the durable queue (models.TrackReading, one per detection): the track's box in each of its frames goes
through that species' emotion model (`VideoAnalyzer.read_track_as`), and its reading is stored as the video's
analysis stores a track's. Setting the species back deletes the job (a run under way then writes nothing)."""

from __future__ import annotations

from flask import current_app

import jobs
from extensions import db
from inference.errors import MediaError
from inference.pipeline import get_pipeline
from inference.video import VideoAnalyzer
from messages import N_, Phrase
from models import EMOTION_CLASSES, Analysis, Detection, JobStatus, Media, OnDemandStatus, TrackReading
from services import analyses, storage
from services.errors import Conflict

NOT_WAITING = N_("This does not wait for a reading of its frames: only a video's track that its owner set to a dog "
                 "does, until it has one.")


def wanted(detection: Detection) -> bool:
    """Whether a video track its owner set to a species waits for that species' model's reading of its frames."""
    return (detection.analysis.media == Media.VIDEO and detection.kind_read is not None and detection.top is None
            and detection.kind in EMOTION_CLASSES)


def start(detection: Detection) -> None:
    """Queue the reading of the track's frames (committed; its row queued from the start again if it had one)."""
    job = detection.track_reading or TrackReading(detection=detection)
    job.status, job.progress, job.attempts, job.error = JobStatus.QUEUED, 0.0, 0, None
    db.session.add(job)
    db.session.commit()
    jobs.job_queue().submit(jobs.JobKind.TRACK_READING, job.id)


def ask(detection: Detection) -> None:
    """The owner asks for the reading ("Read it", "Try again"): queued unless it is under way. Refused (a Conflict)
    for a detection that waits for none (`wanted`)."""
    if not wanted(detection):
        raise Conflict(Phrase(NOT_WAITING))
    current = status(detection)
    if current is None or current["status"] == OnDemandStatus.FAILED:
        start(detection)


def start_wanted(analysis: Analysis) -> None:
    """Queue the reading of every track of the analysis that waits for one (`wanted`)."""
    for detection in analysis.detections:
        if wanted(detection):
            start(detection)


def status(detection: Detection) -> dict | None:
    """How the reading of the track's frames stands, {"status", "progress", and "error" when it failed}; None when
    none was asked for (or it is done)."""
    job = detection.track_reading
    if job is None or job.status == JobStatus.DONE:
        return None
    document = {"status": OnDemandStatus(job.status), "progress": job.progress}
    if job.status == JobStatus.FAILED:
        document["error"] = job.error
    return document


def run_track_reading_job(job: TrackReading, claim: jobs.ClaimedJob) -> None:
    """The job body: read the track's frames as its species, then (if this run still holds the job: its owner did
    not set the species back meanwhile) store the reading on its row."""
    detection = job.detection
    path = storage.upload_path(detection.analysis.stored_name)
    if not path.is_file():
        raise MediaError(Phrase(analyses.MISSING_UPLOAD))
    analyzer = VideoAnalyzer(get_pipeline(), fps=detection.analysis.fps_sampled or current_app.config["VIDEO_FPS"])
    track = analyzer.read_track_as(path, detection.timeline, detection.kind, current_app.config["MAX_VIDEO_SECONDS"],
                                   claim.progress)
    claim.secure()
    for column, value in analyses.track_reading(track).items():
        setattr(detection, column, value)
    detection.keep_reading()
    analyses.set_top_emotion(detection.analysis)
    job.status, job.progress, job.error = JobStatus.DONE, 1.0, None
    db.session.commit()

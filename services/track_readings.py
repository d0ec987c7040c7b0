"""A video track read again as the species its owner set (services/species.py): a cat the models tracked that its
owner says is a dog has the dog model's reading of it, as a photo's pet has. Its frames must be decoded and read, so
it is a job of the durable queue (models.TrackReading, one per detection): the track's box in each of its frames goes
through that species' emotion model (`VideoAnalyzer.read_track_as`), and its reading is stored as the video's
analysis stores a track's.

Whatever changes a track's reading otherwise (its owner setting the species back, "Analyse again", a deletion) first
deletes its job (services/access.changing): a run that is writing holds the job's row, so the delete
waits for it, and a run that is not yet writing finds its job gone and writes nothing (jobs.ClaimedJob.secure)."""

from __future__ import annotations

from flask import current_app

import jobs
from extensions import db
from inference.errors import MediaError
from inference.labels import DetectionKind
from inference.pipeline import get_pipeline
from inference.video import VideoAnalyzer
from messages import N_, Phrase
from models import EMOTION_CLASSES, Analysis, Detection, JobStatus, Media, OnDemandStatus, TrackReading
from services import analyses, storage
from services.access import locked_detection
from services.errors import Conflict, Refused

NOT_A_TRACK = N_("Only a video's track that its owner set to a dog is read in its frames.")
NOT_WAITING = N_("This track does not wait for a reading of its frames: its owner did not set it to a dog, or it has "
                 "its reading.")


def readable(detection: Detection) -> bool:
    """Whether the detection is one that is read in its frames: a video's pet of a species with an emotion model."""
    return (detection.kind != DetectionKind.HUMAN and detection.kind in EMOTION_CLASSES
            and detection.analysis.media == Media.VIDEO)


def waiting(detection: Detection) -> bool:
    """Whether a pet its owner set to a species waits for that species' model's reading (a photo's or a track)."""
    return detection.kind_read is not None and detection.top is None and detection.kind in EMOTION_CLASSES


def wanted(detection: Detection) -> bool:
    """Whether a video track its owner set to a species waits for that species' model's reading of its frames."""
    return waiting(detection) and readable(detection)


def start(detection: Detection) -> None:
    """Queue the reading of the track's frames (committed; its row, done or failed, queued from the start again).
    Two requests at once queue it once."""
    jobs.queue_row(jobs.JobKind.TRACK_READING, detection.track_reading or TrackReading(detection=detection))


def ask(detection: Detection) -> None:
    """The owner asks for the reading ("Read it as a dog", "Try again"): queued unless it is under way. Refused for
    what is never read so (a face, a photo's pet); a Conflict for a track that waits for no reading (a cat's, until
    its owner sets it to a dog)."""
    if detection.kind == DetectionKind.HUMAN or detection.analysis.media != Media.VIDEO:
        raise Refused(Phrase(NOT_A_TRACK))
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
    none is under way or failed (never asked for, or done)."""
    job = detection.track_reading if wanted(detection) else None
    return None if job is None or job.status == JobStatus.DONE else jobs.standing(job)


def run_track_reading_job(job: TrackReading, claim: jobs.ClaimedJob) -> None:
    """The job body: read the track's frames as its species, then (if this run still holds the job: nothing changed
    the track's reading meanwhile) store the reading on its row."""
    detection = job.detection
    path = storage.upload_path(detection.analysis.stored_name)
    if not path.is_file():
        raise MediaError(Phrase(analyses.MISSING_UPLOAD))
    analyzer = VideoAnalyzer(get_pipeline(), fps=detection.analysis.fps_sampled or current_app.config["VIDEO_FPS"])
    track = analyzer.read_track_as(path, detection.timeline, detection.kind, current_app.config["MAX_VIDEO_SECONDS"],
                                   claim.progress, detection.analysis.duration)
    claim.secure()
    if wanted(locked_detection(detection)):  # else set back (and again) in the moment before the job was queued
        for column, value in analyses.track_columns(track).items():
            setattr(detection, column, value)
        detection.keep_reading()
        analyses.set_top_emotion(detection.analysis)
    job.status, job.progress, job.error = JobStatus.DONE, 1.0, None
    db.session.commit()

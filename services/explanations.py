"""Explanations on demand ("Why?"): jobs of the durable queue, computed by whichever worker claims them
(the embedded thread, `flask jobs work`, or RQ workers), their progress in the database, so every web
process answers a poll the same way, and a web process never needs torch for them.

The PNG overlays are the cache: once both exist the explanation is done, whatever the row says; they live
in EXPLAIN_FOLDER under the upload's random name and are deleted with their analysis.
"""

from __future__ import annotations

import logging

from flask import url_for

import jobs
from extensions import db
from inference.errors import MediaError
from messages import N_, Phrase
from inference.explain import METHODS, ExplainMethod, get_explainer
from models import ACTIVE_STATUSES, Analysis, Detection, Explanation, JobStatus, Media, OnDemandStatus, User
from services import storage
from services.access import account_held, detection_at
from services.errors import NotFound, TooMany

log = logging.getLogger(__name__)
WAITING_EXPLANATIONS = 3  # queued or running for one user at once: the jobs take explanations first, and a user who
                          # asked for 182 faces' held up everyone's videos for nine minutes

METHOD_TITLES = {ExplainMethod.OCCLUSION: Phrase(N_("Occlusion: where hiding the picture lowers the score most")),
                 ExplainMethod.GRAD_CAM: Phrase(N_("Grad-CAM: where the network's last layer looked"))}
UNREADABLE = N_("The stored photo could not be read, so it cannot be explained.")
# What a failed explanation's status may say, besides numbers.
FAILURE_REASONS = (UNREADABLE, jobs.INTERNAL_ERROR, jobs.STORAGE_FULL)


def explainable(analysis: Analysis, detection: Detection) -> bool:
    """Photos' detections that have an emotion model (cats have none; video tracks are not explained yet)."""
    return analysis.media == Media.IMAGE and analysis.status == JobStatus.DONE and detection.top is not None


def explainable_detection(analysis: Analysis, position: int) -> Detection:
    """Detection `position` of the analysis if it can be explained; else NotFound."""
    detection = detection_at(analysis, position)
    if not explainable(analysis, detection):
        raise NotFound(f"Nothing to explain at position {position}: heat maps are made for a finished photo's "
                       "faces and dogs (not cats, not a video's tracks).")
    return detection


def _cached(analysis: Analysis, detection: Detection) -> bool:
    return all(path.is_file() for path in storage.explanation_paths(analysis.stored_name, detection.position).values())


def status(analysis: Analysis, detection: Detection) -> dict:
    """{"status": an OnDemandStatus, "progress", and "error" when it failed}."""
    if _cached(analysis, detection):
        return {"status": OnDemandStatus.DONE, "progress": 1.0}
    job = detection.explanation
    done_and_gone = job is not None and job.status == JobStatus.DONE  # its files were removed since: ask again
    return jobs.standing(None if done_and_gone else job)


def status_document(analysis: Analysis, detection: Detection) -> dict:
    """The status, with the overlays' URLs and captions once they exist (for the API and the page's script)."""
    document = status(analysis, detection)
    if document["status"] == OnDemandStatus.DONE:
        brightest = (detection.explanation and detection.explanation.brightest) or {}
        document["images"] = [{"method": method, "title": METHOD_TITLES[method], "brightest": brightest.get(method),
                               "url": url_for("analyze.explanation_image", analysis_id=analysis.id,
                                              position=detection.position, method=method)} for method in METHODS]
    return document


def start(analysis: Analysis, detection: Detection, requester: User) -> dict:
    """Queue the explanation unless it is cached, queued or running; returns its status. A failed one (or one
    whose files are gone) is queued again. Two requests at once queue it once (one row per detection). Raises
    TooMany when `requester` (the owner, or an administrator moderating) has WAITING_EXPLANATIONS under way: an
    administrator's requests do not use up the owner's."""
    current = status(analysis, detection)
    if current["status"] == OnDemandStatus.DONE or current["status"].active:
        return current
    with account_held(requester.id):  # from the count to the commit: requests at once counted the same ones under way
        if _under_way(requester.id) >= WAITING_EXPLANATIONS:
            raise TooMany(Phrase(N_("%(count)d explanations are being made for you: ask for another once one is "
                                    "done."), count=WAITING_EXPLANATIONS))
    explanation = detection.explanation or Explanation(detection=detection)
    explanation.requested_by_id = requester.id
    if jobs.queue_row(jobs.JobKind.EXPLANATION, explanation):
        db.session.refresh(detection)
    return status(analysis, detection)  # else the other request's row won the unique detection_id: it is queued


def _under_way(user_id: int) -> int:
    """How many explanations the user asked for are queued or running (rows from before the asker was kept count
    as their photos' owner's)."""
    asked_by_user = db.or_(Explanation.requested_by_id == user_id,
                           db.and_(Explanation.requested_by_id.is_(None), Analysis.user_id == user_id))
    return db.session.scalar(db.select(db.func.count(Explanation.id)).join(Explanation.detection)
                             .join(Detection.analysis).where(asked_by_user, Explanation.status.in_(ACTIVE_STATUSES)))


def run_explanation_job(explanation: Explanation, claim: jobs.ClaimedJob) -> None:
    """The job body: compute both maps of the detection's top emotion and, if this run still holds the job,
    write their overlays. If the analysis is deleted meanwhile (its upload is gone), nothing is kept."""
    detection = explanation.detection
    analysis = detection.analysis
    source = storage.upload_path(analysis.stored_name)
    try:
        rgb = storage.stored_rgb(analysis)
    except (OSError, MediaError) as error:
        claim.secure()  # the analysis deleted meanwhile took its upload: LostClaim, logged as a deletion
        log.warning("explanation of %s failed: %s", source.name, error)
        raise MediaError(UNREADABLE) from error
    claim.progress(0.02)  # the photo is read; the explainer reports its stages (loading, occlusion, Grad-CAM) by time
    result = get_explainer().explain(rgb, detection.box, detection.kind, detection.top, detection.landmarks,
                                     progress=lambda done: claim.progress(0.02 + 0.97 * done))
    claim.secure()
    storage.explain_folder()
    files = storage.explanation_paths(analysis.stored_name, detection.position)
    result.save_overlays(files)
    if not source.exists():
        storage.remove_files(list(files.values()))
    explanation.brightest = {str(method): [str(region) for region in regions]
                             for method, regions in result.brightest.items()}
    explanation.status, explanation.progress, explanation.error = JobStatus.DONE, 1.0, None
    db.session.commit()

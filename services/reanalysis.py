"""Analysing again: an analysis made by other models than the ones loaded now (new weights shipped with an update) is
out of date, and its owner may have its stored file analysed again, as a job of the durable queue (a Reanalysis row;
photos and videos alike). The job replaces the result in place: the same analysis, address and upload date; an old
detection whose box a new one of its kind overlaps (IoU >= MATCH_IOU, one to one, the closest pairs first) keeps its
row, so its id, its subject and a "No" to a suggestion stay, with the new reading; the other old ones go, the other
new ones are added; a pet whose species its owner set by hand (services/species.py) is matched by its species or the
one the models read, and stays the owner's species (a photo's read as it before the job holds the database, a video's
track by a job of its own once the new result is stored; the new models' reading stands when they read that species
too).
"Why?" overlays are made again on request; face signatures are made again. Until the job has
finished the old result stands, and a failed job leaves it as it was (the failure is the job's, never the
analysis's)."""

from __future__ import annotations


import jobs
from extensions import db
from inference.errors import MediaError
from inference.pipeline import Classified, models_in_use
from inference.tracking import iou
from inference.video import nearest_moment
from messages import N_, Phrase
from models import Analysis, Detection, JobStatus, Media, Reanalysis
from services import analyses, identity, species, storage
from services.access import changing
from services.errors import Conflict

MATCH_IOU = 0.5
UP_TO_DATE = N_("This result was already made by the models in use now, so there is nothing to analyse again.")
NO_RESULT_YET = N_("This upload has no result to analyse again yet: its first analysis is still under way.")
NO_RESULT = N_("This upload has no result to analyse again: its analysis failed (an administrator can retry it).")
# Detection columns a new reading gives an old row it replaces; the row keeps its id, analysis and subject.
KEPT_COLUMNS = {"id", "analysis_id", "subject_id"}


def current_models() -> dict[str, str]:
    """The detector and classifier lines and the classifiers' weights of the models in use now, as an analysis
    records them; asking loads no model (`models_in_use`)."""
    return analyses.model_names(models_in_use())


def out_of_date(analysis: Analysis) -> bool:
    """Whether a finished analysis was made by other models than the ones loaded now: other names, or other trained
    weights where it recorded theirs (one made before fingerprints were kept is judged by the names alone; a queued
    or failed one has no result to redo)."""
    if analysis.status != JobStatus.DONE:
        return False
    return any(getattr(analysis, column) != name for column, name in current_models().items()
               if not (column == "weights" and analysis.weights is None))


def job_of(analysis: Analysis) -> Reanalysis | None:
    """The analysis's re-analysis job (the last one asked for), if any."""
    return db.session.scalar(db.select(Reanalysis).filter_by(analysis_id=analysis.id))


def start(analysis: Analysis) -> Reanalysis:
    """Queue analysing the analysis again, unless it is under way already; returns its job. Raises Conflict when the
    analysis is not out of date (or has no result yet, or none at all). Two requests at once queue it once (one
    job row per analysis)."""
    if not out_of_date(analysis):
        raise Conflict(Phrase(_why_not_again(analysis)))
    job = job_of(analysis)
    if job is not None and job.status.active:
        return job
    job = job or Reanalysis(analysis=analysis)
    if not jobs.queue_row(jobs.JobKind.REANALYSIS, job):  # the other request's row won: it is queued
        return job_of(analysis)
    db.session.refresh(job)
    return job


def _why_not_again(analysis: Analysis) -> str:
    """Why an analysis that is not out of date cannot be analysed again: its result is the models' in use now, it
    has none yet, or its analysis failed."""
    if analysis.status == JobStatus.DONE:
        return UP_TO_DATE
    return NO_RESULT if analysis.status == JobStatus.FAILED else NO_RESULT_YET


def run_reanalysis_job(job: Reanalysis, claim: jobs.ClaimedJob) -> None:
    """The job body: analyse the stored file with the models loaded now, then (if this run still holds the job)
    replace the analysis's result in place; its "Why?" overlays go, its faces are signed again."""
    analysis = job.analysis
    path = storage.upload_path(analysis.stored_name)
    if not path.is_file():
        raise MediaError(Phrase(analyses.MISSING_UPLOAD))
    if analysis.media == Media.VIDEO:
        result = analyses.analyze_video(path, claim.progress)
        claim.secure()
        changing(analysis)  # its rows as they stand now: their owner may have set a pet's species meanwhile
        replace_detections(analysis, analyses.track_detections(result), result.poster_time)
        analyses.write_poster(analysis, result)
        analyses.video_summary(analysis, result)
    else:
        result, _ = analyses.analyze_photo(path.read_bytes(), analysis.user_id)
        fresh = analyses.photo_detections(result)
        readings = owners_readings(analysis, fresh)  # before the claim holds the database: the photo is read again
        claim.secure()
        changing(analysis)
        replace_detections(analysis, fresh, readings=readings)
        analyses.photo_summary(analysis, result)
    job.status, job.progress, job.error = JobStatus.DONE, 1.0, None
    db.session.commit()
    storage.remove_files(storage.derived_files(analysis.stored_name))  # made from the old detections
    identity.queue_signatures(analysis)
    species.read_waiting(analysis)  # pets set to a species while the job ran, a video's tracks set to one


def old_box(detection: Detection, seconds: float | None) -> list[int]:
    """Where an old detection was: a photo's box; a video track's box at `seconds` (the new poster frame's time,
    where the new tracks' boxes are), or its nearest."""
    if seconds is None or not detection.timeline:
        return detection.box
    return list(nearest_moment(detection.timeline, seconds)["box"])


def matches(old: list[Detection], new: list[Detection], seconds: float | None = None) -> dict[int, Detection]:
    """Which old detection each new one (by index) takes the place of: the same kind, or the kind the models read
    (an owner's cat that the models read as a dog pairs with a cat or a dog), IoU >= MATCH_IOU, one to one, the most
    overlapping pairs first."""
    boxes = [old_box(detection, seconds) for detection in old]
    pairs = sorted(((iou(boxes[o], fresh.box), o, n) for o, earlier in enumerate(old)
                    for n, fresh in enumerate(new) if fresh.kind in (earlier.kind, earlier.kind_read)), reverse=True)
    taken: dict[int, Detection] = {}
    used: set[int] = set()
    for overlap, o, n in pairs:
        if overlap >= MATCH_IOU and o not in used and n not in taken:
            taken[n] = old[o]
            used.add(o)
    return taken


def owners_readings(analysis: Analysis, new: list[Detection]) -> dict[int, tuple[str, Classified | None]]:
    """For each new detection of a photo that takes the place of a pet whose owner set another species than the new
    models read, by index: the owner's species and its reading as it (`species.owners_reading`)."""
    return {index: (row.kind, species.owners_reading(analysis, new[index].box, row.kind))
            for index, row in matches(list(analysis.detections), new).items()
            if row.kind_read and new[index].kind != row.kind}


def replace_detections(analysis: Analysis, new: list[Detection], seconds: float | None = None,
                       readings: dict[int, tuple[str, Classified | None]] | None = None) -> None:
    """Put the new detections in the place of the analysis's old ones: an old row a new one overlaps (`matches`)
    takes the new reading and keeps its id, subject and signature (its vector is made again), and the species its
    owner gave it (`keep_owners_species`, read as `readings` has it by index, when it was read as the species the
    owner gives it now); its "Why?" goes."""
    old = list(analysis.detections)
    kept = matches(old, new, seconds)
    rows = []
    for index, fresh in enumerate(new):
        row = kept.get(index)
        if row is None:
            rows.append(fresh)
            continue
        owners_species = row.kind if row.kind_read else None
        for column in Detection.__table__.columns.keys():
            if column not in KEPT_COLUMNS:
                setattr(row, column, getattr(fresh, column))
        row.explanation = None
        if owners_species is not None:
            read_as, reading = (readings or {}).get(index, (None, None))
            keep_owners_species(row, owners_species, reading if read_as == owners_species else None)
        rows.append(row)
    analysis.detections.clear()
    analysis.detections.extend(rows)


def keep_owners_species(row: Detection, owners_species: str, reading: Classified | None) -> None:
    """A new reading of a pet whose owner set its species: when the models now read that species too, the new reading
    stands and the correction is done with; else it stays the owner's species with `reading` (`species.overrule`),
    the new reading kept as the models'."""
    if row.kind != owners_species:
        species.overrule(row, owners_species, reading)

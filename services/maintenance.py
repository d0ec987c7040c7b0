"""`flask maintenance check [--repair]`: files no analysis refers to, analyses whose files are gone, and the repair;
`flask maintenance readings`: the readings of detections stored before they (or their told changes) were kept;
`flask maintenance metadata`: uploads stored with their metadata (before it was left out) stored again without it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from sqlalchemy import and_, or_
from sqlalchemy.orm import selectinload

from extensions import db
from inference.errors import MediaError
from inference.images import stored_orientation
from inference.labels import PROBABLY_BELOW, UNSURE_BELOW, Certainty
from inference.photo_metadata import without_private_metadata
from models import ACTIVE_STATUSES, Analysis, Detection, JobStatus, Media
from services import storage
from services.analyses import MISSING_UPLOAD, blank_video_metadata, keep_readings, stored_files

READINGS_BATCH = 50  # analyses whose readings are kept at a time: their video timelines are read, then let go
METADATA_BATCH = 200  # analyses whose uploads are looked at for metadata, their names read at a time


@dataclass
class StorageCheck:
    """What the check found: files no row refers to, and rows whose files are gone."""

    orphan_files: list[Path] = field(default_factory=list)
    missing_files: list[tuple[int, JobStatus, str]] = field(default_factory=list)  # (analysis id, status, file name)

    @property
    def problems(self) -> int:
        return len(self.orphan_files) + len(self.missing_files)


def check_storage(min_age_seconds: float) -> StorageCheck:
    """Compare the upload folder with the analyses; files younger than `min_age_seconds` may belong to
    an upload in progress (files are written before their row is committed) and are not orphans yet.
    Jobs already failed for a missing upload are settled, not reported again."""
    folder = storage.upload_folder()
    check, referenced = StorageCheck(), set()
    rows = db.session.execute(db.select(Analysis.id, Analysis.status, Analysis.stored_name, Analysis.thumb_name)
                              .where(Analysis.error.is_(None) | (Analysis.error != MISSING_UPLOAD)))
    for analysis_id, status, *names in rows:
        for name in filter(None, names):
            referenced.add(name)
            if not (folder / name).is_file():
                check.missing_files.append((analysis_id, status, name))
    cutoff = time.time() - min_age_seconds
    check.orphan_files = sorted(path for path in folder.iterdir()
                                if path.name not in referenced and path.is_file() and path.stat().st_mtime < cutoff)
    stems = {Path(name).stem for name in db.session.scalars(db.select(Analysis.stored_name))}
    explained = Path(current_app.config["EXPLAIN_FOLDER"])  # "<upload stem>-<position>-<method>.png"
    if explained.is_dir():
        check.orphan_files += sorted(path for path in explained.iterdir() if path.is_file()
                                     and path.name.split("-")[0] not in stems and path.stat().st_mtime < cutoff)
    return check


def repair_storage(check: StorageCheck) -> None:
    """Delete the orphan files; fail the queued or running jobs whose upload is gone; rebuild missing
    thumbnails (a photo's, a video's poster frame). Finished analyses whose upload is gone keep their results
    (reported only)."""
    storage.remove_files(check.orphan_files)
    for analysis_id, status, name in check.missing_files:
        analysis = db.session.get(Analysis, analysis_id)
        upload = storage.upload_path(analysis.stored_name)
        if name == analysis.stored_name and status in ACTIVE_STATUSES:  # a status no version knows: left
            analysis.status, analysis.error = JobStatus.FAILED, MISSING_UPLOAD
        elif name == analysis.thumb_name and upload.is_file():  # a video's from its poster frame (poster_time)
            _rebuild_thumbnail(analysis, storage.upload_path(name))
    db.session.commit()


def _rebuild_thumbnail(analysis: Analysis, path: Path) -> None:
    """Write the thumbnail again from the stored upload; one that cannot be decoded (a video cut short by a disk
    error) is logged and left missing, and the repair goes on."""
    try:
        storage.write_files({path: storage.thumbnail_bytes(storage.stored_rgb(analysis))})
    except (OSError, MediaError) as error:
        current_app.logger.warning("analysis %d: its thumbnail could not be made again (%s)", analysis.id, error)


@dataclass
class MetadataPass:
    """What `leave_out_stored_metadata` did: the uploads it looked at, those it stored again without their metadata,
    and those it could not read (gone, or not decodable), left as they were."""

    looked_at: int = 0
    changed: int = 0
    unreadable: list[Path] = field(default_factory=list)


def leave_out_stored_metadata() -> MetadataPass:
    """Store again, without their metadata, the uploads stored before it was left out (`metadata_left_out` NULL): a
    photo that holds any is replaced whole (its new bytes written beside it and renamed over it: `photo_metadata`), a
    video's metadata is blanked in place (`blank_video_metadata`; a deletion meanwhile removes the file); its files
    made private (0600, as the app writes them now); then it is marked, and never read again. METADATA_BATCH
    analyses' names read at a time. A photo whose analysis is deleted meanwhile does not come back
    (`_rewritten_photo`). One it cannot read stays unmarked, told again at the next run."""
    done, last_id = MetadataPass(), 0
    uploads = (db.select(Analysis.id, Analysis.stored_name, Analysis.thumb_name, Analysis.media, Analysis.format)
               .where(Analysis.metadata_left_out.is_(None)).order_by(Analysis.id))
    while rows := db.session.execute(uploads.where(Analysis.id > last_id).limit(METADATA_BATCH)).all():
        db.session.rollback()  # nothing is held while the files are read
        for analysis_id, stored_name, thumb_name, media, container in rows:
            path = storage.upload_path(stored_name)
            try:
                done.changed += (blank_video_metadata(path, container) > 0 if media == Media.VIDEO
                                 else _rewritten_photo(analysis_id, path))
                storage.make_private(stored_files(stored_name, thumb_name))
            except (OSError, MediaError):
                done.unreadable.append(path)
            else:
                db.session.execute(db.update(Analysis).where(Analysis.id == analysis_id)
                                   .values(metadata_left_out=True))
                db.session.commit()
            done.looked_at += 1
        last_id = rows[-1][0]
    return done


def _rewritten_photo(analysis_id: int, path: Path) -> bool:
    """Whether the stored photo at `path` held metadata and was stored again without it. Only a photo that holds
    some is read for its orientation (`stored_orientation`: whatever its size); one whose analysis was deleted while
    it was rewritten is removed again (the deletion may have removed the file before the rename put it back)."""
    data = path.read_bytes()
    if without_private_metadata(data, 1) is None:  # nothing to leave out, nor an orientation to write again
        return False
    kept = without_private_metadata(data, stored_orientation(data))
    if kept is None:
        return False
    storage.write_files({path: kept})
    if db.session.get(Analysis, analysis_id, populate_existing=True) is None:
        storage.remove_files([path])
    db.session.rollback()
    return True


def keep_missing_readings() -> int:
    """Keep the readings of the detections stored before readings (or their told changes, or their confidence) were
    kept (Detection.keep_reading: a video track's read from its timeline; every reading kept before the confidence
    was is kept again, so a pet's video track joined across its time out of view is told as its page now tells
    it), and set their analyses' `top_emotion` from them, as their badges say (an analysis stored before the badges
    read its faces' cards kept its mean's argmax: a group photo whose badge says "mixed" was still found under
    "neutral"). READINGS_BATCH analyses at a time, each batch committed and let go. Returns how many analyses it
    updated."""
    updated, last_id = 0, 0
    missing = db.select(Detection.analysis_id).where(Detection.top.is_not(None), or_(*(
        column.is_(None) for column in (Detection.reading_emotion, Detection.reading_changes,
                                        Detection.reading_confidence)), *_worded_before_rounding()))
    # in id order, each analysis once: one whose reading cannot be kept is not looked for again
    while ids := db.session.scalars(missing.where(Detection.analysis_id > last_id).distinct()
                                    .order_by(Detection.analysis_id).limit(READINGS_BATCH)).all():
        for analysis in db.session.scalars(db.select(Analysis).where(Analysis.id.in_(ids))
                                           .options(selectinload(Analysis.detections).undefer(Detection.timeline))):
            keep_readings(analysis)
        db.session.commit()
        db.session.expunge_all()
        updated, last_id = updated + len(ids), ids[-1]
    return updated


def _worded_before_rounding() -> list:
    """The kept readings whose word changed when it came to follow the percent printed beside it (labels.certainty):
    a confidence that shows as 50% (or 80%) but is below it was worded "unsure" (or "probably"). The flagged stay
    unsure (a video track unsure by its frames' mean chance of a wrong reading is kept again on each run: rare)."""
    return [and_(Detection.reading_certainty == worded, Detection.reading_confidence >= threshold - 0.005,
                 Detection.reading_confidence < threshold, Detection.uncertain.is_not(True))
            for worded, threshold in ((Certainty.UNSURE, UNSURE_BELOW), (Certainty.PROBABLY, PROBABLY_BELOW))]

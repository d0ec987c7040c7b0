"""Analyses: accept an upload (a photo is analysed at once, a video is stored and queued; bytes the user had
analysed already are answered with that analysis), run the video job, make the rows of a photo's or video's result
(services/reanalysis.py puts them in the place of older ones), analyse a file for the CLI without storing it, list a
user's history, delete with its files."""

from __future__ import annotations

import math
import os
import re
import threading
import unicodedata
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app
from flask_sqlalchemy.pagination import Pagination
from PIL import Image
from sqlalchemy import Select, event
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction, selectinload, undefer
from werkzeug.datastructures import FileStorage

import jobs
from extensions import db
from inference import detectors
from inference.errors import MediaError, MediaTooLarge
from inference.formats import ISO_MOVIES, KEPT_FORMAT, FileFormat
from inference.files import atomic_file
from inference.heif import decode_photo
from inference.labels import ALL_EMOTIONS, Certainty, DetectionKind
from inference.container_metadata import blank_container_metadata
from inference.movie_metadata import blank_metadata
from inference.photo_metadata import without_private_metadata
from inference.pipeline import Classified, ImageResult, get_pipeline
from inference.video import VideoAnalyzer, VideoResult, VideoTrack, nearest_moment
from inference.video_check import file_version, probe_video, sniff_video
from messages import N_, Phrase
from models import Analysis, Detection, JobStatus, Media, Subject, User
from services import copies, identity, storage
from services.access import hold_account, holding, owned, removing, row_id, searched
from services.clock import on_clock, stored_time, today_on, zone_of
from services.errors import (BUSY_ANALYSING, BUSY_WITH_FRAMES, Conflict, NotFound, Refused, ServerBusy,
                             StorageFailure)
from services.recent import Recent
from services.slots import AnalysisSlots
from services.subjects import readable

MISSING_UPLOAD = N_("The uploaded file is missing from the server's storage.")
MAX_PAGE = 10**9  # a larger page number would overflow the database's OFFSET; no history is that long


NOT_IN_NAMES = str.maketrans(dict.fromkeys('<>:"|?*', "_"))


KEPT_NAME_LENGTH = 120  # characters of an upload's name kept (a longer one: 100 of its stem, its suffix)


def clean_original_name(name: str | None) -> str:
    """A display-safe version of the client's file name (never used as a path): its last path part, in any
    script ("얼굴 사진.jpg" stays), without control, invisible or bidirectional-override characters, the
    characters Windows refuses in names, runs of spaces, or a leading dot, space, joiner, accent or spreadsheet
    formula sign (the name goes into CSV exports); "upload" when nothing visible is left, before the suffix where
    only that is left ("\uffff.jpg": "upload.jpg", not "jpg"); at most 120 characters, keeping the suffix."""
    last_part = re.split(r"[/\\]", unicodedata.normalize("NFC", name or ""))[-1]
    cleaned = searched("".join(char for char in last_part.translate(NOT_IN_NAMES)
                               if unicodedata.category(char) not in ("Cs", "Co", "Cn")))  # as a search reads it
    with_lead = cleaned
    while cleaned and (cleaned[0] in " .=+-@" or unicodedata.category(cleaned[0])[0] in "CM"):  # a joiner, an accent
        cleaned = cleaned[1:]
    cleaned = cleaned if readable(cleaned) else "upload"
    if "." not in cleaned and with_lead.endswith("." + cleaned):  # only the suffix is left
        cleaned = "upload." + cleaned
    stem, dot, suffix = cleaned.rpartition(".")
    if len(cleaned) > KEPT_NAME_LENGTH:
        cleaned = (stem[:100] + dot + suffix[:10]) if dot else cleaned[:KEPT_NAME_LENGTH]
    return cleaned


# A part's quoted file name as sent, escapes and all; a backslash before anything but a quote or a backslash
# escapes nothing: it separates the folders of a Windows path.
SENT_FILE_NAME = re.compile(r';\s*filename\s*=\s*"((?:[^"\\]|\\.)*)"', re.IGNORECASE)
UNESCAPED_BACKSLASH = re.compile(r'\\[^"\\]')


def sent_file_name(upload: FileStorage) -> str | None:
    """The upload's file name, a Windows path's folders kept apart: some old browsers send the whole path, its
    backslashes as they are (C:\\Users\\x\\me.jpg), which Werkzeug reads as escapes (C:Usersxme.jpg); from
    that raw text `clean_original_name` keeps the last part, me.jpg."""
    sent = SENT_FILE_NAME.search(upload.headers.get("Content-Disposition", ""))
    return sent[1] if sent and UNESCAPED_BACKSLASH.search(sent[1]) else upload.filename


def keep_readings(analysis: Analysis) -> None:
    """Keep each of its detections' readings (Detection.keep_reading), and its `top_emotion` from them."""
    for detection in analysis.detections:
        detection.keep_reading()
    set_top_emotion(analysis)


def set_top_emotion(analysis: Analysis) -> None:
    """Its `top_emotion` (what the history's filter finds it by): what its detections show together, as its badge
    says (Analysis.overall); None when they disagree ("mixed") or nothing found has an emotion model."""
    overall = analysis.overall
    analysis.top_emotion = None if overall is None else overall.emotion


def model_names(models: dict[str, str]) -> dict[str, str]:
    """The detector and classifier names and the classifiers' weights' fingerprints, cut to their columns' length;
    None for one not given (names describe; they must never fail an analysis)."""
    return {name: models[name][:getattr(Analysis, name).type.length] if name in models else None
            for name in ("detector", "classifier", "weights")}


def photo_analysis(user: User | None, result: ImageResult, original_name: str | None, stored_name: str,
                   digest: str | None = None) -> Analysis:
    """The rows of a finished photo analysis (not added to the session); `digest`: the upload's content hash."""
    analysis = Analysis(
        user=user, media=Media.IMAGE, status=JobStatus.DONE, original_name=clean_original_name(original_name),
        content_hash=digest,
        stored_name=stored_name, thumb_name=storage.thumb_name_for(stored_name), format=result.format,
        width=result.width, height=result.height, shown_count=len(result.detections), found_count=result.found,
        **model_names(result.models), classifiers=result.classifiers,
    )
    analysis.detections.extend(photo_detections(result))
    keep_readings(analysis)
    return analysis


def photo_detections(result: ImageResult) -> list[Detection]:
    """The rows of what the pipeline found in a photo, numbered from 1 (not attached to an analysis)."""
    return [Detection(position=position, kind=face.kind, x1=face.box[0], y1=face.box[1], x2=face.box[2],
                      y2=face.box[3], score=face.score, emotions=face.emotions, top=face.top,
                      uncertainty=face.uncertainty, uncertain=face.uncertain, unsure_signals=face.unsure_signals,
                      landmarks=face.landmarks)
            for position, face in enumerate(result.detections, start=1)]


def photo_summary(analysis: Analysis, result: ImageResult) -> None:
    """The summary columns of a photo's analysis from a new result of the same photo (its detections in place)."""
    analysis.shown_count, analysis.found_count = len(result.detections), result.found
    keep_readings(analysis)
    record_models(analysis, result.models, result.classifiers)


def record_models(analysis: Analysis, models: dict[str, str], classifiers: dict[str, str]) -> None:
    """Which models made the analysis: the detector and classifier lines, and each kind's emotion model."""
    for column, name in model_names(models).items():
        setattr(analysis, column, name)
    analysis.classifiers = classifiers


@contextmanager
def analysis_slot(user_id: int | None = None) -> Iterator[None]:
    """Hold one of the process's ANALYSIS_CONCURRENCY slots for decoding and analysing a photo (or probing a
    video), waiting up to ANALYSIS_WAIT_SECONDS for one: with the frame slots (`frame_slot`), this bounds the memory
    that requests decoding at once can take. One user (`user_id`: the uploader, or the owner of what is decoded)
    holds at most all slots but one, so slow requests of one account never leave the others waiting. Raises
    ServerBusy when no slot frees up in time."""
    with _slot(_process_slots("moodlens_analysis_slots", "ANALYSIS_CONCURRENCY"), user_id, BUSY_ANALYSING):
        yield


@contextmanager
def frame_slot(user_id: int) -> Iterator[None]:
    """Hold one of the process's FRAME_CONCURRENCY slots for decoding a stored video's frame (the scrubber's, a
    track's crop) for `user_id`, the user asking (an administrator moderating, or the owner): slots of their own,
    since a frame of a video with few key frames decodes every frame from the last one (seconds each), and such
    requests, from two accounts, held the slots every upload waits for (a photo took a minute). Raises ServerBusy
    when no slot frees up in ANALYSIS_WAIT_SECONDS."""
    with _slot(_process_slots("moodlens_frame_slots", "FRAME_CONCURRENCY"), user_id, BUSY_WITH_FRAMES):
        yield


@contextmanager
def _slot(slots: AnalysisSlots, user_id: int | None, busy: str) -> Iterator[None]:
    """A slot of `slots`, waited for with no database connection held (`_connection_given_back`)."""
    _connection_given_back()
    if not slots.acquire(user_id, current_app.config["ANALYSIS_WAIT_SECONDS"]):
        raise ServerBusy(busy)
    try:
        yield
    finally:
        slots.release(user_id)


HOLDS = "moodlens_holds"  # in a session's info while its transaction holds writes or row locks, not yet committed


@event.listens_for(Session, "after_flush")
def _note_flushed(session: Session, _flush: object) -> None:
    session.info[HOLDS] = True


@event.listens_for(Session, "do_orm_execute")
def _note_executed(state: ORMExecuteState) -> None:
    """A statement sent past the unit of work holds something too: an UPDATE, DELETE or INSERT, a SELECT ... FOR
    UPDATE (`access.hold_account`), or text the session cannot read."""
    if not state.is_select or state.statement._for_update_arg is not None:
        state.session.info[HOLDS] = True


@event.listens_for(Session, "after_transaction_end")
def _note_ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(HOLDS, None)


def _connection_given_back() -> None:
    """End the session's transaction, when it has nothing to write, without expiring what it read, so that a request
    waiting for a slot holds no pooled connection: the frames of a few video pages opened in a row (seven each)
    waited in the two frame slots holding one each, the pool ran dry, and every other page, the rate limits' counters
    and the job queue waited 30 s for a connection (503s). A transaction that holds writes or row locks (`HOLDS`) is
    left as it is: every caller now reads, and decodes, before it holds the account or the analysis
    (services/access.py), but one that did not would have them committed unasked."""
    session = db.session()
    if session.new or session.dirty or session.deleted or session.info.get(HOLDS) or not session.in_transaction():
        return
    expiring, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expiring


_slots_lock = threading.Lock()


def _process_slots(key: str, setting: str) -> AnalysisSlots:
    """This app's slots of one kind (made on first use): `setting` of them, one user holding all but one."""
    with _slots_lock:
        concurrency = current_app.config[setting]
        return current_app.extensions.setdefault(key, AnalysisSlots(concurrency, per_user=max(1, concurrency - 1)))


@contextmanager
def storage_writes() -> Iterator[None]:
    """A failed write (disk full, folder not writable) becomes StorageFailure; only writes go through here,
    never decoding (Pillow reports a corrupt file with OSError too)."""
    try:
        yield
    except OSError as error:
        current_app.logger.error("storing an upload failed: %s", error)
        raise StorageFailure() from error


@dataclass(frozen=True)
class PhotoRenditions:
    """The JPEGs cut from a photo's pixels while they are decoded for its analysis: the thumbnail and each
    detection's crop (in the result's order), so that showing them never decodes the photo again; and the JPEG
    stored in place of a HEIC or AVIF upload (`DecodedImage.kept_as`, `kept_format` "jpeg"), None for any other
    photo (stored without its metadata: `save_photo_analysis`)."""

    thumbnail: bytes
    crops: list[bytes]
    orientation: int = 1  # how the photo was turned upright (EXIF's 1-8), written again in the stored copy
    kept_as: bytes | None = None
    kept_format: FileFormat | None = None  # the format of `kept_as` where it is not the upload's

    def files(self, stored_name: str, result: ImageResult) -> dict[Path, bytes]:
        """Where each is stored for the upload `stored_name`, with its content."""
        crops = {storage.crop_path(stored_name, position, detection.box): crop
                 for position, (detection, crop) in enumerate(zip(result.detections, self.crops), start=1)}
        return {storage.upload_path(storage.thumb_name_for(stored_name)): self.thumbnail, **crops}


def analyze_photo(data: bytes, user_id: int | None = None) -> tuple[ImageResult, PhotoRenditions]:
    """Run the pipeline on a photo's bytes under the pixel limit, in an analysis slot; the result and the JPEGs made
    from the same decoded pixels. Raises MediaError. The size in bytes is the caller's to check: an upload's is,
    before it is read; a stored photo's was (the JPEG kept of a HEIC may be larger than the HEIC was)."""
    with analysis_slot(user_id):
        image = decode_photo(data, current_app.config["MAX_IMAGE_PIXELS"], current_app.config["MAX_UPLOAD_MB"] * 2**20)
        result = get_pipeline().analyze_image(image)
        crops = [storage.crop_bytes(image.rgb, detection.box) for detection in result.detections]
        renditions = PhotoRenditions(storage.thumbnail_bytes(image.rgb), crops, image.orientation)
        if image.kept_as is not None:
            return result, replace(renditions, kept_as=image.kept_as, kept_format=KEPT_FORMAT)
        return result, renditions


def check_photo_size(size: int) -> None:
    """Raises MediaTooLarge for a photo of `size` bytes over MAX_UPLOAD_MB."""
    if size > current_app.config["MAX_UPLOAD_MB"] * 1024 * 1024:
        raise MediaTooLarge(Phrase(N_("Photos are limited to %(mb)s MB."), mb=current_app.config["MAX_UPLOAD_MB"]))


def read_photo_as(analysis: Analysis, box: list[int], kind: DetectionKind) -> Classified:
    """A box of a stored photo read by the emotion model of `kind` (a pet's species set by its owner), in an
    analysis slot. Raises OSError or MediaError when its file is gone or unreadable."""
    with analysis_slot(analysis.user_id):
        pet = detectors.Detection.set_by_owner(box, kind)
        return get_pipeline().read_as([storage.stored_rgb(analysis)], [pet])[0]


@dataclass(frozen=True)
class Accepted:
    """What an upload came to: a new analysis, or (`duplicate`) the user's earlier analysis of the same bytes, which
    were not analysed again."""

    analysis: Analysis
    duplicate: bool = False


def save_photo_analysis(user: User, data: bytes, original_name: str | None, result: ImageResult,
                        renditions: PhotoRenditions, digest: str) -> Accepted:
    """Store the upload, its thumbnail and crops, and the analysis rows; nothing is left half-saved. When the same
    bytes were stored while these were analysed (a form sent twice at once, even at the same moment: the last look
    and the insert hold the user's uploads, `access.hold_account`), that analysis, and nothing stored. A HEIC or AVIF
    photo is stored as the JPEG made of it, and its analysis says "jpeg"; any other without its metadata
    (`photo_metadata`: the bytes are hashed as sent, so the same file sent again is found)."""
    data = renditions.kept_as or without_private_metadata(data, renditions.orientation) or data
    if renditions.kept_format is not None:
        result = replace(result, format=renditions.kept_format)
    stored_name = storage.new_stored_name(result.format)
    with storage_writes():
        files = {storage.upload_folder() / stored_name: data, **renditions.files(stored_name, result)}
        storage.write_files(files)
    try:
        hold_account(user.id)
        earlier = copies.earlier_upload(user.id, digest)
        if earlier is None:
            analysis = photo_analysis(user, result, original_name, stored_name, digest)
            db.session.add(analysis)
        db.session.commit()
    except Exception:
        db.session.rollback()
        storage.remove_files(list(files))
        raise
    if earlier is not None:
        storage.remove_files(list(files))
        return Accepted(earlier, duplicate=True)
    identity.queue_signatures(analysis)
    return Accepted(analysis)


def accept_upload(user: User, upload: FileStorage) -> Accepted:
    """Analyse a photo now, or store a video and queue its analysis (type decided by content); bytes the user already
    had analysed (copies.earlier_upload: not failed) are not analysed again, their analysis answers.

    Raises MediaError (StorageFailure when the disk refuses a write) and leaves nothing behind.
    """
    digest = copies.content_hash(upload.stream)
    if earlier := copies.earlier_upload(user.id, digest):
        return Accepted(earlier, duplicate=True)
    head = upload.stream.read(16)
    upload.stream.seek(0)
    if container := sniff_video(head):
        return queue_video_analysis(user, upload, container, digest)
    check_photo_size(upload.stream.seek(0, os.SEEK_END))  # before its bytes are read: a video's limit is larger
    upload.stream.seek(0)
    data = upload.read()
    return save_photo_analysis(user, data, sent_file_name(upload), *analyze_photo(data, user.id), digest)


def _checked_video(path: Path, container: FileFormat, user_id: int | None = None) -> Analysis:
    """A queued analysis of the stored video at `path` once it is within the limits (raises MediaError)."""
    if path.stat().st_size > current_app.config["MAX_VIDEO_MB"] * 1024 * 1024:
        raise MediaTooLarge(Phrase(N_("Videos are limited to %(mb)s MB."), mb=current_app.config["MAX_VIDEO_MB"]))
    with analysis_slot(user_id):
        info = probe_video(path, current_app.config["MAX_VIDEO_SECONDS"])
    return Analysis(media=Media.VIDEO, status=JobStatus.QUEUED, stored_name=path.name, format=container,
                    width=info.width, height=info.height, duration=info.duration)


def blank_video_metadata(path: Path, container: FileFormat) -> int:
    """Blank the stored video's metadata in place: an MP4's or MOV's (`movie_metadata`), a Matroska file's or an
    AVI's (`container_metadata`, walked within today's duration limit). Returns how many places were blanked."""
    if container in ISO_MOVIES:
        return blank_metadata(path)
    return blank_container_metadata(path, current_app.config["MAX_VIDEO_SECONDS"])


def queue_video_analysis(user: User, upload: FileStorage, container: FileFormat, digest: str) -> Accepted:
    """Store the video, check it is readable and within the limits, blank its metadata (`blank_video_metadata`: the
    checks bound its index), and queue its analysis; when the same bytes were stored
    meanwhile (a form sent twice at once, even at the same moment: `access.hold_account`), that analysis, and
    nothing stored."""
    with storage_writes():
        path = storage.upload_folder() / storage.new_stored_name(container)
        with atomic_file(path) as file:  # a failed save (full disk) leaves nothing behind
            upload.save(file)
    try:
        analysis = _checked_video(path, container, user.id)
        with storage_writes():
            blank_video_metadata(path, container)
        hold_account(user.id)
        earlier = copies.earlier_upload(user.id, digest)
        if earlier is None:
            analysis.user, analysis.original_name = user, clean_original_name(sent_file_name(upload))
            analysis.content_hash = digest
            db.session.add(analysis)
        db.session.commit()  # the hold ends
    except Exception:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    if earlier is not None:
        path.unlink(missing_ok=True)
        return Accepted(earlier, duplicate=True)
    jobs.job_queue().submit(jobs.JobKind.ANALYSIS, analysis.id)
    return Accepted(analysis)


_models_asked = threading.Event()


def load_models_soon() -> None:
    """Start loading the pipeline in a thread of its own, once, where this process has not loaded it: the upload form
    asks, so the models (a few seconds to load) are ready when the photo comes, and the first upload after a start
    no longer waits for them (3 s in a walk-through). Not where LOAD_MODELS_EARLY is off."""
    if current_app.config["LOAD_MODELS_EARLY"] and get_pipeline.if_loaded() is None and not _models_asked.is_set():
        _models_asked.set()
        threading.Thread(target=get_pipeline, name="load-models", daemon=True).start()


def analyze_video(path: Path, progress: Callable[[float], None] | None = None) -> VideoResult:
    """Analyse a stored video with the app's settings (frames per second, longest length)."""
    analyzer = VideoAnalyzer(get_pipeline(), fps=current_app.config["VIDEO_FPS"])
    return analyzer.analyze(path, current_app.config["MAX_VIDEO_SECONDS"], progress)


def run_video_job(analysis: Analysis, claim: jobs.ClaimedJob) -> None:
    """The job body of a video analysis: analyse the stored video, then (if this run still holds the job)
    write the poster frame and store the tracks."""
    result = analyze_video(storage.upload_path(analysis.stored_name), claim.progress)
    claim.secure()
    write_poster(analysis, result)
    store_video_result(analysis, result)
    db.session.commit()
    identity.queue_signatures(analysis)


def write_poster(analysis: Analysis, result: VideoResult) -> None:
    """Write the video's poster frame (when the result has one) as its thumbnail, as small as a photo's: the pages
    show it as a thumbnail only (the player reads the video's frames)."""
    if result.poster_rgb is not None:
        thumb_name = storage.thumb_name_for(analysis.stored_name)
        storage.write_files({storage.upload_path(thumb_name): storage.thumbnail_bytes(result.poster_rgb)})
        analysis.thumb_name = thumb_name


def store_video_result(analysis: Analysis, result: VideoResult) -> None:
    """One detection per track (its box on the poster frame), the summary columns, status done."""
    analysis.detections.clear()
    analysis.detections.extend(track_detections(result))
    video_summary(analysis, result)


def track_detections(result: VideoResult) -> list[Detection]:
    """One row per track of a video's result, its box on the poster frame (not attached to an analysis)."""
    rows = []
    for track in result.tracks:
        x1, y1, x2, y2 = nearest_moment(track.timeline, result.poster_time)["box"]
        rows.append(Detection(position=track.track_id, kind=track.kind, x1=x1, y1=y1, x2=x2, y2=y2, score=track.score,
                              track_id=track.track_id, **track_columns(track)))
    return rows


def track_columns(track: VideoTrack) -> dict[str, object]:
    """A track's reading as its detection row holds it: mean probabilities, dominant emotion, timeline, summary,
    changes and (faces) how unsure it is."""
    return {"emotions": track.summary["mean"], "top": track.summary["dominant"], "timeline": track.timeline,
            "summary": track.summary, "transitions": track.transitions, "uncertainty": track.uncertainty,
            "uncertain": track.uncertain, "unsure_signals": track.unsure_signals}


def video_summary(analysis: Analysis, result: VideoResult) -> None:
    """The summary columns of a video's analysis from its result (its detections already in place), status done."""
    analysis.status, analysis.progress, analysis.error = JobStatus.DONE, 1.0, None
    analysis.width, analysis.height, analysis.duration = result.width, result.height, result.duration
    analysis.stated_duration = result.stated_duration
    analysis.fps_sampled, analysis.poster_time = result.fps_sampled, result.poster_time
    analysis.shown_count = len(result.tracks)
    keep_readings(analysis)
    record_models(analysis, result.models, result.classifiers)


def analyze_file(path: Path) -> Analysis:
    """`flask analyze`: a photo or a video analysed under the same limits as an upload, as an analysis that is
    not stored (no user, no id). Raises MediaError or OSError."""
    with path.open("rb") as file:
        container = sniff_video(file.read(16))
    if container:
        analysis = _checked_video(path, container)
        analysis.original_name, analysis.detections = clean_original_name(path.name), []
        store_video_result(analysis, analyze_video(path))
        return analysis
    check_photo_size(path.stat().st_size)
    result, _ = analyze_photo(path.read_bytes())
    return photo_analysis(None, result, path.name, path.name)


def within_video(analysis: Analysis, seconds: float) -> float:
    """A time asked for, clamped to the video (not a number: its start)."""
    return 0.0 if math.isnan(seconds) else min(max(seconds, 0.0), analysis.duration or 0.0)


FAILED_VIDEO_FRAMES = N_("This video's analysis failed, so its frames are not shown: its page says why.")
FRAMES_KEPT = 64  # video frames' JPEGs a process keeps (at most 640 px, 30-280 KB each: at most about 18 MB)
_frames = Recent(FRAMES_KEPT)


def video_frame_jpeg(analysis: Analysis, seconds: float, requester: User) -> bytes:
    """A JPEG (at most 640 px) of the stored video's frame at `seconds`, clamped to the video (not a number:
    the first frame), decoded in a frame slot of the user asking; kept for the next request of that time, for the
    FRAMES_KEPT frames asked most recently (decoding one takes a process of its own: 0.2-0.5 s). Raises NotFound
    when the video's file is gone (before or while it is read: deleted meanwhile), ServerBusy when no slot frees
    up, Conflict when its analysis failed (its file may be one that takes too much to decode: each frame asked for
    cost a second of CPU before it was refused)."""
    if analysis.status == JobStatus.FAILED:
        raise Conflict(Phrase(FAILED_VIDEO_FRAMES))
    try:
        version = (*file_version(storage.upload_path(analysis.stored_name)), analysis.duration)
    except OSError as error:
        raise NotFound(MISSING_UPLOAD) from error
    at = within_video(analysis, seconds)
    name = (analysis.stored_name, round(at, 3))
    if (kept := _frames.get(name, version)) is not None:
        return kept
    with frame_slot(requester.id):
        try:
            rgb = storage.stored_rgb(analysis, at)
        except MediaError as error:  # the file deleted while it was opened (an administrator, another tab)?
            if not storage.upload_path(analysis.stored_name).exists():
                raise NotFound(MISSING_UPLOAD) from error
            raise
    jpeg = storage.jpeg_bytes(Image.fromarray(rgb), storage.FRAME_SIZE, quality=80)
    _frames.put(name, version, jpeg)
    return jpeg


def detection_crop_jpeg(analysis: Analysis, detection: Detection, requester: User) -> bytes:
    """A JPEG of the detection's box (storage.crop_bytes): the one cut when the photo was analysed, else cut once
    from the stored photo (in an analysis slot, like an upload), or from the video frame where the track's box was
    taken (in a frame slot of the user asking), and kept. Raises NotFound when the upload is gone or unreadable,
    ServerBusy when no slot frees up."""
    cached = storage.crop_path(analysis.stored_name, detection.position, detection.box)
    try:
        return cached.read_bytes()
    except FileNotFoundError:
        pass
    decoding = frame_slot(requester.id) if analysis.media == Media.VIDEO else analysis_slot(analysis.user_id)
    with decoding:
        try:
            rgb = storage.stored_rgb(analysis, storage.box_time(analysis, detection))
        except (OSError, MediaError) as error:
            raise NotFound(MISSING_UPLOAD) from error
    jpeg = storage.crop_bytes(rgb, detection.box)
    try:
        storage.write_files({cached: jpeg})
    except OSError as error:  # a cache: a full disk costs the next request a decode, nothing more
        current_app.logger.warning("caching a crop failed: %s", error)
    return jpeg


NAME_SEARCH_LENGTH = KEPT_NAME_LENGTH  # characters of a file name search: the longest name kept


@dataclass(frozen=True)
class Month:
    """A month on a user's clock: its `first` day, and its `start` and `end` (the next month's start) as times are
    stored."""

    first: date
    start: datetime
    end: datetime

    @classmethod
    def on_clock(cls, first: date, zone: ZoneInfo) -> Month:
        """The month from `first` on the clock of `zone`."""
        return cls(first, stored_time(first, zone), stored_time(_next_month(first), zone))

    @property
    def name(self) -> str:
        """As a link or a form names it: "2026-09"."""
        return self.first.strftime("%Y-%m")


@dataclass(frozen=True)
class HistoryFilter:
    """Which of a user's analyses a history lists: those with a detection assigned to `subject`, of one `media`,
    with a detection (the subject's, with one) read as `emotion`, whose file name holds `name` (in any case),
    uploaded in `month` (on the user's clock); None lets every value through."""

    subject: Subject | None = None
    media: Media | None = None
    emotion: str | None = None
    name: str | None = None
    month: Month | None = None

    @classmethod
    def from_args(cls, args: Mapping[str, str], user: User, strict: bool = False) -> HistoryFilter:
        """The filter a request's `subject`, `media`, `emotion` and `name` parameters ask for (`name`: words of the
        file name, cut to NAME_SEARCH_LENGTH, as the page's form shows it); an empty or missing one filters
        nothing (the History form's "Everyone", "All types", "Any emotion"), and so does one that names nothing (not
        a number, an unknown media or emotion: the page's form then shows what it lists), unless `strict` (the API,
        whose caller sees no form: a script's typo must not list everything as if it matched): then a `subject` that
        is no id raises NotFound, and an unknown media or emotion, or a name longer than any kept, is Refused (cut,
        it matched names it is not part of). A subject id that is not one of the
        user's subjects raises NotFound, as the dashboard's does."""
        subject, media, emotion, month = (args.get(name, "") for name in ("subject", "media", "emotion", "month"))
        if strict:
            _refuse_unknown(media, emotion, args.get("name", "").strip(), month)
        subject_id = row_id(subject)
        if strict and subject and subject_id is None:
            raise NotFound(f"No subject {subject[:40]}.")
        first = month_start(month)
        return cls(subject=owned(Subject, subject_id, user) if subject_id else None,
                   media=Media(media) if media in tuple(Media) else None,
                   emotion=emotion if emotion in ALL_EMOTIONS else None,
                   name=args.get("name", "").strip()[:NAME_SEARCH_LENGTH] or None,
                   month=Month.on_clock(first, zone_of(user)) if first else None)

    @property
    def active(self) -> bool:
        return any((self.subject, self.media, self.emotion, self.name, self.month))

    def params(self) -> dict[str, str | int]:
        """The filter as query parameters (for links to other pages of the same list)."""
        values = {"subject": self.subject.id if self.subject else None, "media": self.media, "emotion": self.emotion,
                  "name": self.name, "month": self.month and self.month.name}
        return {name: value for name, value in values.items() if value}

    def narrow(self, query: Select) -> Select:
        """`query` over Analysis, narrowed to what the filter lets through: the analyses where the subject appears,
        and with `emotion`, where a face or animal (the subject, with one) is read as it as its card reads it,
        unless unsure (as dashboards count readings): a dog sad beside a happy person is "sad" and "happy", and only
        "sad" for the dog's subject. The subject's detections listed once (an IN), else an EXISTS on each analysis's."""
        if self.media:
            query = query.where(Analysis.media == self.media)
        if self.name:  # each word somewhere in it: "people with" finds people-with-a-cat.jpg
            query = query.where(*(holding(Analysis.original_name, word) for word in dict.fromkeys(self.name.split())))
        if self.month:
            query = query.where(Analysis.created_at >= self.month.start, Analysis.created_at < self.month.end)
        if not (self.subject or self.emotion):
            return query
        found = []
        if self.subject:
            found.append(Detection.subject_id == self.subject.id)
        if self.emotion:
            found += [Detection.reading_emotion == self.emotion, Detection.reading_certainty != Certainty.UNSURE]
        if self.subject:  # the subject's detections, read once (SQLite, without statistics, read them all per analysis)
            return query.where(Analysis.id.in_(db.select(Detection.analysis_id).where(*found)))
        return query.where(db.select(Detection.id).where(Detection.analysis_id == Analysis.id, *found).exists())


MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")  # "2026-09", in ASCII digits ("٢٠٢٦-01" is no month)


def month_start(text: str | None) -> date | None:
    """The first day of the month `text` names ("2026-09"; years 1970 to 9998), else None."""
    match = MONTH.fullmatch(text or "")
    return date(int(match[1]), int(match[2]), 1) if match and 1970 <= int(match[1]) <= 9998 else None


def _next_month(first: date) -> date:
    """The first day of the month after the one `first` begins."""
    return date(first.year + first.month // 12, first.month % 12 + 1, 1)


def history_months(user: User) -> list[date]:
    """The months a history can be narrowed to: from the user's first upload's (on their clock) to this one, newest
    first."""
    zone = zone_of(user)
    first = db.session.scalar(db.select(db.func.min(Analysis.created_at)).filter_by(user_id=user.id))
    if first is None:
        return []
    month, last = on_clock(first, zone).date().replace(day=1), today_on(zone).replace(day=1)
    months = []
    while month <= last:
        months.append(month)
        month = _next_month(month)
    return months[::-1]


def _refuse_unknown(media: str, emotion: str, name: str, month: str = "") -> None:
    """Refused for a media, emotion or month filter (when given) that names none, or a name no kept file name can
    hold."""
    if month and month_start(month) is None:
        raise Refused(Phrase(N_("A month is written as YYYY-MM, from 1970-01 to 9998-12, for example 2026-09.")))
    if len(name) > NAME_SEARCH_LENGTH:
        raise Refused(Phrase(N_("A file name search has at most %(count)d characters, as file names are kept."),
                             count=NAME_SEARCH_LENGTH))
    if media and media not in tuple(Media):
        raise Refused(Phrase(N_("Unknown media %(media)s: ask for image or video."), media=media[:40]))
    if emotion and emotion not in ALL_EMOTIONS:
        raise Refused(Phrase(N_("Unknown emotion %(emotion)s: ask for one of %(emotions)s."), emotion=emotion[:40],
                             emotions=", ".join(ALL_EMOTIONS)))


# What a result page and the API's documents read of each detection besides its row, loaded in one query each
DETECTION_PARTS = (selectinload(Detection.signature), selectinload(Detection.explanation),
                   selectinload(Detection.track_reading), selectinload(Detection.subject))


def load_detection_parts(analysis: Analysis) -> None:
    """Load the analysis's detections with their DETECTION_PARTS (one query each, not one per detection). The
    collection is loaded first, so the query below fills in the very objects it holds (populate_existing: the parts of
    rows already loaded are loaded only so)."""
    if analysis.detections:
        db.session.scalars(db.select(Detection).filter_by(analysis_id=analysis.id).options(*DETECTION_PARTS)
                           .execution_options(populate_existing=True)).all()


def history_page(user: User, page: int, per_page: int, max_per_page: int,
                 filters: HistoryFilter = HistoryFilter(), whole: bool = False) -> Pagination:
    """One page of the user's analyses that pass `filters`, newest first (a page past the end is empty, not an
    error), with their detections: each card's badge reads their kept readings; `whole` (the API's documents) with
    everything else of them too (tracks' timelines, DETECTION_PARTS), in one query each."""
    detections = selectinload(Analysis.detections)
    if whole:
        detections = detections.options(undefer(Detection.timeline), *DETECTION_PARTS)
    query = newest_first(user.id, filters).options(detections)
    return db.paginate(query, page=min(page, MAX_PAGE), per_page=per_page, max_per_page=max_per_page, error_out=False)


def newest_first(user_id: int, filters: HistoryFilter = HistoryFilter()) -> Select:
    """The user's analyses that pass `filters`, newest first (read by the index of user and upload time)."""
    return filters.narrow(db.select(Analysis).filter_by(user_id=user_id)) \
        .order_by(Analysis.created_at.desc(), Analysis.id.desc())


def stored_files(stored_name: str, thumb_name: str | None = None) -> list[Path]:
    """An upload's files: the upload, its thumbnail or video poster (`thumb_name`, or the name a job gives it) and
    the files derived from it (explanations, crops): what goes when the analysis goes."""
    thumbs = sorted({storage.thumb_name_for(stored_name), thumb_name} - {None})
    return [storage.upload_path(name) for name in (stored_name, *thumbs)] + storage.derived_files(stored_name)


def delete_analysis(analysis: Analysis) -> None:
    """Delete the rows, then the files (a file left by a crash is an orphan, never a dangling row). The files are
    listed once the rows are gone: a job that held them (its video's poster, a "Why?" overlay) wrote its files
    before it let them go. One deleted meanwhile (another tab, an administrator) leaves only its files to delete."""
    storage.check_deletable()
    names = analysis.stored_name, analysis.thumb_name
    _delete_rows([analysis])
    storage.remove_files(stored_files(*names))


def delete_analyses(analysis_ids: list[int]) -> None:
    """`delete_analysis` of each, their rows in one transaction (an account's deletion: a commit a page, not one an
    analysis: 4,380 analyses took 21 s); when one was deleted meanwhile, each is deleted alone."""
    analyses = db.session.scalars(db.select(Analysis).where(Analysis.id.in_(analysis_ids)).order_by(Analysis.id)).all()
    names = [(analysis.stored_name, analysis.thumb_name) for analysis in analyses]
    if not _delete_rows(analyses):
        for analysis_id in analysis_ids:
            if (analysis := db.session.get(Analysis, analysis_id)) is not None:
                delete_analysis(analysis)
        return
    for stored_name, thumb_name in names:
        storage.remove_files(stored_files(stored_name, thumb_name))


def _delete_rows(analyses: Sequence[Analysis]) -> bool:
    """Delete the analyses' rows (and their jobs', in the writers' order: services/access.py) and commit; False, with
    nothing deleted, when one of them was deleted meanwhile."""
    if not analyses:
        return True
    try:
        removing(*analyses)
    except NotFound:
        db.session.rollback()
        return False
    for analysis in analyses:
        db.session.delete(analysis)
    db.session.commit()
    return True

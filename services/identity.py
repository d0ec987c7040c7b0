"""Face recognition within one user's own history ("Is this Ana?"), only for users who turned it on.

Each finished analysis of such a user gets a signature job on the durable queue (never the upload's critical
path): its faces are signed by inference/identity.py and kept as FaceSignature rows. A new face is compared
with the faces the same user already assigned to their people (never anyone else's), and unassigned faces are
grouped. Turning recognition off deletes every signature and signature job of the user.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

import jobs
from extensions import db
from inference.errors import MediaError
from inference.identity import (MIN_GROUP_SIZE, SAME_PERSON_DISTANCE, from_bytes, get_signature_model, group_indices,
                                nearest_label, to_bytes)
from inference.labels import DetectionKind
from models import (Analysis, Detection, FaceSignature, JobStatus, Media, OnDemandStatus, SignatureJob, Subject,
                    SubjectKind, User)
from services import copies, storage, subjects
from services.recent import Recent

log = logging.getLogger(__name__)
UNREADABLE = "The stored upload could not be read, so its faces were not signed."


@dataclass(frozen=True)
class Suggestion:
    """"Looks like Ana": the user's person nearest to a face, and how far their closest named face is."""

    subject: Subject
    distance: float

    def document(self) -> dict:
        return {"subject": self.subject.id, "name": self.subject.name, "distance": round(self.distance, 4)}


def set_recognition(user: User, enabled: bool) -> None:
    """Turn face recognition on (sign every finished analysis in the background) or off (delete every
    signature and signature job of the user at once)."""
    user.recognize_faces = enabled
    if not enabled:
        forget_signatures(user)
        db.session.commit()
        return
    db.session.commit()
    with_faces = db.select(Analysis.id).where(
        Analysis.user_id == user.id, Analysis.status == JobStatus.DONE,
        db.select(Detection.id).where(Detection.analysis_id == Analysis.id, Detection.kind == DetectionKind.HUMAN)
        .exists())
    signed = {job.analysis_id: job for job in db.session.scalars(
        db.select(SignatureJob).where(SignatureJob.analysis_id.in_(with_faces)))}
    over = [job for job in signed.values() if not job.status.active]  # each requeued only if still over
    fresh = [SignatureJob(analysis_id=analysis_id) for analysis_id in db.session.scalars(with_faces)
             if analysis_id not in signed]
    for job in over:
        jobs.queue_row(jobs.JobKind.SIGNATURES, job)
    if not jobs.queue_rows(jobs.JobKind.SIGNATURES, fresh):
        for analysis in db.session.scalars(db.select(Analysis).where(Analysis.id.in_(with_faces))):
            queue_signatures(analysis)  # one by one: an upload's own job was queued meanwhile


def forget_signatures(user: User) -> None:
    """Delete the user's signatures and signature jobs (not committed)."""
    db.session.execute(db.delete(FaceSignature).where(FaceSignature.user_id == user.id))
    analyses = db.select(Analysis.id).where(Analysis.user_id == user.id)
    db.session.execute(db.delete(SignatureJob).where(SignatureJob.analysis_id.in_(analyses)))


def _faces(analysis: Analysis) -> list[Detection]:
    return [detection for detection in analysis.detections if detection.kind == DetectionKind.HUMAN]


def queue_signatures(analysis: Analysis) -> None:
    """Queue signing the faces of a finished analysis when its owner turned recognition on (else nothing)."""
    if not (analysis.user and analysis.user.recognize_faces and _faces(analysis)):
        return
    job = db.session.scalar(db.select(SignatureJob).filter_by(analysis_id=analysis.id))
    if job is None or not job.status.active:
        jobs.queue_row(jobs.JobKind.SIGNATURES, job or SignatureJob(analysis=analysis))


def signature_status(analysis: Analysis) -> OnDemandStatus:
    """How the signing of the analysis's faces stands: the job's status, or NONE when there is no job or its owner
    has recognition off."""
    job = db.session.scalar(db.select(SignatureJob).filter_by(analysis_id=analysis.id))
    return OnDemandStatus(job.status) if job and analysis.user.recognize_faces else OnDemandStatus.NONE


def suggestions_pending(analysis: Analysis) -> bool:
    """Whether "Looks like Ana?" suggestions may still come: the analysis has an unassigned face, its owner has a
    person it could be, and its faces are being signed (queued or running)."""
    return (signature_status(analysis).active
            and any(face.subject_id is None for face in _faces(analysis))
            and any(subject.kind == SubjectKind.PERSON for subject in analysis.user.subjects))


def _stored_rgb(analysis: Analysis, seconds: float | None) -> np.ndarray:
    """The photo, or the video's frame at `seconds`, as RGB."""
    try:
        return storage.stored_rgb(analysis, seconds)
    except (OSError, MediaError) as error:
        log.warning("signing the faces of %s failed: %s", analysis.stored_name, error)
        raise MediaError(UNREADABLE) from error


FRAMES_SIGNED_AT_ONCE = 8  # decoded video frames held for one batch of the descriptor (a 1080p frame: 6 MB)


def _signature_vectors(analysis: Analysis, faces: list[Detection]) -> list[np.ndarray]:
    """Each face's signature, from the photo or from the video frame where its track's box was seen (one
    decoded frame per distinct time, their faces signed a few frames at a time)."""
    times = [storage.box_time(analysis, face) for face in faces]
    distinct = list(dict.fromkeys(times))
    vectors: dict[int, np.ndarray] = {}
    for start in range(0, len(distinct), FRAMES_SIGNED_AT_ONCE):
        chunk = distinct[start:start + FRAMES_SIGNED_AT_ONCE]
        faces_at = [[index for index, time in enumerate(times) if time == seconds] for seconds in chunk]
        frames = [(_stored_rgb(analysis, seconds), [faces[index].box for index in indices])
                  for seconds, indices in zip(chunk, faces_at)]
        for indices, embedded in zip(faces_at, get_signature_model().embed_frames(frames)):
            vectors |= dict(zip(indices, embedded))
    return [vectors[index] for index in range(len(faces))]


def _recognizes(user_id: int) -> bool:
    """The user's setting as the database has it now (they may turn it off while a job runs)."""
    return bool(db.session.scalar(db.select(User.recognize_faces).where(User.id == user_id)))


def run_signature_job(job: SignatureJob, claim: jobs.ClaimedJob) -> None:
    """The job body: sign every face of the analysis (replacing older signatures) if this run still holds the
    job; nothing is stored if the owner turned recognition off meanwhile."""
    analysis = job.analysis
    faces = _faces(analysis)
    vectors = _signature_vectors(analysis, faces) if faces and _recognizes(analysis.user_id) else []
    claim.secure()
    if _recognizes(analysis.user_id):  # not turned off while the faces were being signed
        for face, vector in zip(faces, vectors):
            if face.signature is None:
                face.signature = FaceSignature(user_id=analysis.user_id, vector=to_bytes(vector))
            else:
                face.signature.vector = to_bytes(vector)
    job.status, job.progress, job.error = JobStatus.DONE, 1.0, None
    db.session.commit()


def _named_faces(user: User) -> tuple[list[int], np.ndarray]:
    """(subject ids, signatures) of every face the user assigned to one of their people."""
    rows = db.session.execute(
        db.select(Detection.subject_id, FaceSignature.vector).join(FaceSignature.detection)
        .join(Subject, Subject.id == Detection.subject_id)
        .where(FaceSignature.user_id == user.id, Subject.user_id == user.id, Subject.kind == SubjectKind.PERSON)
    ).all()
    vectors = np.stack([from_bytes(vector) for _, vector in rows]) if rows else np.zeros((0, 0), np.float32)
    return [subject_id for subject_id, _ in rows], vectors


def suggestions(analysis: Analysis, suggest: Suggester | None = None) -> dict[int, Suggestion | None]:
    """Per detection id: the owner's person an unassigned face looks like, or None; `suggest`: the owner's
    `suggester`, made once for many analyses (a list of them), else here when a face needs it. In a photo a person
    is one face at most (`Suggester.one_face_each`); a video's tracks are each offered their nearest person (one
    person may leave the picture and come back as another track)."""
    found: dict[int, Suggestion | None] = {detection.id: None for detection in analysis.detections}
    if not analysis.user.recognize_faces:  # their signatures are not even read
        return found
    unassigned = [face for face in _faces(analysis) if face.subject_id is None and face.signature is not None]
    if not unassigned:
        return found
    suggest = suggest or suggester(analysis.user)
    if analysis.media == Media.IMAGE:
        named = {face.subject_id for face in _faces(analysis) if face.subject_id is not None}
        return found | suggest.one_face_each(unassigned, named)
    for face in unassigned:
        found[face.id] = suggest(from_bytes(face.signature.vector), _said_not(face))
    return found


def _said_not(face: Detection) -> set[int]:
    """The person the owner said the face is not (a "No" to a suggestion), if any."""
    return {face.signature.dismissed_subject_id} - {None}


def dismiss(detection: Detection, subject: Subject) -> None:
    """"No, this is not Ana": that person is not suggested for this face again (until `take_back_dismissal`)."""
    dismiss_faces([detection], subject)


def dismiss_faces(faces: list[Detection], subject: Subject) -> int:
    """"No, these are not Ana" for each face (a group's faces the user unticked when naming it Ana); how many
    faces (with a signature) it was said of."""
    signed = [face.signature for face in faces if face.signature is not None]
    for signature in signed:
        signature.dismissed_subject_id = subject.id
    db.session.commit()
    return len(signed)


def take_back_dismissal(detection: Detection, subject: Subject) -> bool:
    """Undo "No, this is not Ana": Ana may be suggested for this face again. False when the face's "No" is not to
    that person (taken back already, in another tab, or said to someone else since)."""
    signature = detection.signature
    if signature is None or signature.dismissed_subject_id != subject.id:
        return False
    signature.dismissed_subject_id = None
    db.session.commit()
    return True


def dismissals(analysis: Analysis) -> dict[int, Subject]:
    """Per unassigned face of the analysis whose owner said "No" to a suggestion for it: the person they said it is
    not (whom undoing that "No" lets the page suggest again)."""
    people = {subject.id: subject for subject in analysis.user.subjects}
    return {face.id: people[face.signature.dismissed_subject_id] for face in _faces(analysis)
            if face.subject_id is None and face.signature is not None
            and face.signature.dismissed_subject_id in people}


@dataclass(frozen=True)
class UnnamedGroup:
    """Unassigned faces that look like one person, and the user's person their average is closest to (if any)."""

    faces: list[Detection]
    suggestion: Suggestion | None


@dataclass(frozen=True)
class UnnamedFaces:
    """The user's unassigned faces: the groups that look like one person, and the faces in no group (`lone`: those
    the user said "No" to first, as they began to name them, then the newest)."""

    groups: list[UnnamedGroup]
    lone: list[Detection]
    lone_suggestions: dict[int, Suggestion]  # by detection id: the person a lone face looks like, as its page says


GROUPED_USERS = 64  # the users whose groups a process keeps (services.recent.Recent)
GROUPED_FACES = 2000  # the newest unassigned faces a page groups: grouping costs the square of their number (8,000
                      # faces took 6 s and 0.5 GB a page view); older ones come up as these are named
_groupings = Recent(GROUPED_USERS)


def unnamed_faces(user: User, lone_suggested: int) -> UnnamedFaces:
    """The user's GROUPED_FACES newest unassigned faces, grouped where they look like one person, largest group
    first; the faces of a later upload of a file are the first upload's, so they are left out (copies.later_copy):
    one photo sent twice is no group. A face the user said is not Ana is never in a group offered as Ana
    (`_without_dismissed`). The first `lone_suggested` faces in no group (those a page shows) are each offered as
    the person they look like."""
    if not user.recognize_faces:
        return UnnamedFaces([], [], {})
    faces = db.session.scalars(
        db.select(Detection).join(Detection.signature).join(Detection.analysis)
        .where(FaceSignature.user_id == user.id, Detection.subject_id.is_(None), ~copies.later_copy())
        .order_by(Detection.id.desc()).limit(GROUPED_FACES)
    ).all()[::-1]
    if not faces:
        return UnnamedFaces([], [], {})
    vectors = np.stack([from_bytes(face.signature.vector) for face in faces])
    suggest = suggester(user)
    groups = [group for indices in _grouped(user.id, vectors)
              for group in _without_dismissed([faces[index] for index in indices], vectors[indices], suggest)]
    grouped = {face.id for group in groups for face in group.faces}
    lone = sorted((index for index, face in enumerate(faces) if face.id not in grouped),
                  key=lambda index: (faces[index].signature.dismissed_subject_id is None, -faces[index].id))
    looks_like = _looks_like([faces[index] for index in lone[:lone_suggested]], suggest)
    return UnnamedFaces(sorted(groups, key=lambda group: len(group.faces), reverse=True),
                        [faces[index] for index in lone],
                        {face_id: suggestion for face_id, suggestion in looks_like.items() if suggestion})


def _looks_like(faces: list[Detection], suggest: Suggester) -> dict[int, Suggestion | None]:
    """Per face (unassigned, signed): the person it is offered as, as its analysis's page offers it (`suggestions`:
    in a photo, a person for one face at most)."""
    analyses = {face.analysis_id: face.analysis for face in faces}
    offered = {face_id: offer for analysis in analyses.values()
               for face_id, offer in suggestions(analysis, suggest).items()}
    return {face.id: offered[face.id] for face in faces}


def _grouped(user_id: int, vectors: np.ndarray) -> list[list[int]]:
    """group_indices of the user's unassigned faces' signatures, kept until they change (a view of the page grouped
    2,000 faces again each time: about 0.9 s of CPU)."""
    key = (vectors.shape, hashlib.blake2b(vectors.tobytes(), digest_size=16).digest())
    if (kept := _groupings.get(user_id, key)) is not None:
        return kept
    groups = group_indices(vectors)
    _groupings.put(user_id, key, groups)
    return groups


class Suggester:
    """Who a face looks like among the user's people: the person whose named faces' signatures (`_named_faces`)
    hold the nearest one, if nearer than SAME_PERSON_DISTANCE."""

    def __init__(self, user: User) -> None:
        self.labels, self.references = _named_faces(user)
        self.people = {subject.id: subject for subject in user.subjects}

    def __call__(self, average: np.ndarray, left_out: Collection[int]) -> Suggestion | None:
        """The person nearest to a face's signature or a group's average, but those `left_out`."""
        allowed = [index for index, label in enumerate(self.labels) if label not in left_out]
        match = nearest_label(average, self.references[allowed], [self.labels[index] for index in allowed])
        return Suggestion(self.people[match.label], match.distance) if match else None

    def one_face_each(self, faces: list[Detection], named: set[int]) -> dict[int, Suggestion | None]:
        """Per face of one photo (unassigned, signed): the person it is offered as, each person offered for one face
        at most: the pairs of a face and a person near enough taken nearest first, never a person a face of the
        photo is assigned to (`named`) or one the owner said the face is not."""
        people = sorted(set(self.labels) - named)
        found: dict[int, Suggestion | None] = {face.id: None for face in faces}
        if not people:
            return found
        distances = self._distances(np.stack([from_bytes(face.signature.vector) for face in faces]), people)
        taken: set[int] = set()
        for row, column in zip(*np.unravel_index(np.argsort(distances, axis=None), distances.shape)):
            face, person, distance = faces[row], people[column], float(distances[row, column])
            if distance >= SAME_PERSON_DISTANCE:
                break
            if found[face.id] is None and person not in taken and person not in _said_not(face):
                found[face.id], taken = Suggestion(self.people[person], distance), taken | {person}
        return found

    def _distances(self, signatures: np.ndarray, people: list[int]) -> np.ndarray:
        """faces x `people`: each signature's distance to each person's nearest named face."""
        squared = ((signatures ** 2).sum(axis=1)[:, None] + (self.references ** 2).sum(axis=1)[None, :]
                   - 2 * signatures @ self.references.T)
        to_named = np.sqrt(np.maximum(squared, 0))  # faces x named faces, without a faces x named x 128 array
        labels = np.asarray(self.labels)
        return np.stack([to_named[:, labels == person].min(axis=1) for person in people], axis=1)


def suggester(user: User) -> Suggester:
    """The user's Suggester: made once, asked for many faces."""
    return Suggester(user)


def _without_dismissed(faces: list[Detection], vectors: np.ndarray,
                       suggest: Suggester) -> list[UnnamedGroup]:
    """The group of look-alike faces, offered as the person they look like; the faces the user said are not that
    person make a group of their own, offered as someone else (or nobody), when there are enough of them."""
    suggestion = suggest(vectors.mean(axis=0), ())
    if suggestion is None:
        return [UnnamedGroup(faces, None)]
    dismissed = [face.signature.dismissed_subject_id == suggestion.subject.id for face in faces]
    kept = [index for index, said_no in enumerate(dismissed) if not said_no]
    apart = [index for index, said_no in enumerate(dismissed) if said_no]
    groups = [UnnamedGroup([faces[index] for index in kept], suggestion)] if len(kept) >= MIN_GROUP_SIZE else []
    if len(apart) >= MIN_GROUP_SIZE:
        groups.append(UnnamedGroup([faces[index] for index in apart],
                                   suggest(vectors[apart].mean(axis=0), {suggestion.subject.id})))
    return groups


def unassigned_faces(user: User, detection_ids: list[int]) -> list[Detection]:
    """The user's own unassigned faces among detection_ids (anything else is ignored)."""
    return list(db.session.scalars(
        db.select(Detection).join(Detection.analysis)
        .where(Detection.id.in_(detection_ids), Analysis.user_id == user.id, Detection.subject_id.is_(None),
               Detection.kind == DetectionKind.HUMAN)
    ))


def name_faces(faces: list[Detection], subject: Subject) -> list[Detection]:
    """Assign faces (from unassigned_faces) to the user's person `subject` in one step, through the one
    assignment rule (services/subjects.py; raises Refused), but for those the user said are not that person: the
    faces named."""
    named = [face for face in faces if not (face.signature and face.signature.dismissed_subject_id == subject.id)]
    for face in named:
        subjects.assign(face, subject.id)
    return named


def person_named(user: User, name: str) -> Subject:
    """The user's person with this name (in any case), created if there is none. Raises Refused for a bad name,
    Conflict for the name of one of their pets."""
    existing = subjects.subject_named(user, name.strip())
    if existing is not None and existing.kind == SubjectKind.PERSON:
        return existing
    return subjects.create_subject(user, name, SubjectKind.PERSON)

"""The owner's word on a pet's species: a cat the models took for a dog (a black kitten read as a puppy, say), or the
other way round, is set right by hand, in a photo or as a whole video track. The detection becomes the other species
everywhere (its title and box label, its history, dashboards, exports and the API) and leaves a subject of the
species it no longer is. The reading the other species' model made goes, since it read the wrong animal; a photo's
pet is read again by its new species' model (a dog's body is its box; a cat has no model yet, so no emotions), a
video track's frames by a job (services/track_readings.py). The models' species and reading are kept
(`Detection.kind_read`, `models_reading`): setting it back gives their reading back, and analysing the file again
keeps the owner's word (services/reanalysis.py)."""

from __future__ import annotations

from extensions import db
from inference.errors import MediaError
from inference.labels import DetectionKind
from messages import N_, Phrase
from inference.pipeline import Classified
from models import EMOTION_CLASSES, Analysis, Detection, Media, Subject
from services import analyses, storage, track_readings
from services.access import changing
from services.errors import NotFound, Refused, ServerBusy
from services.subjects import fits

PET_KINDS = (DetectionKind.DOG, DetectionKind.CAT)
# What a reading is made of on a detection row: kept from the models when the owner sets the species, given back.
MODELS_READING_COLUMNS = ("emotions", "top", "uncertainty", "uncertain", "unsure_signals", "timeline", "summary",
                          "transitions")


def other_species(detection: Detection) -> DetectionKind | None:
    """The species its owner may set a pet to (a dog's: cat); None for a person's face."""
    if detection.kind not in PET_KINDS:
        return None
    return next(kind for kind in PET_KINDS if kind != detection.kind)


def species_to_set(detection: Detection) -> DetectionKind:
    """`other_species`; Refused for a person's face."""
    other = other_species(detection)
    if other is None:
        raise Refused(Phrase(N_("Only a dog or a cat can be set to the other species.")))
    return other


def set_species(detection: Detection, kind: object) -> Subject | None:
    """Make the pet the species `kind` (as a client sent it) by its owner's word: read as that species (or, back to
    the species the models read, their reading again), and out of a subject of the species it no longer is; returns
    that subject (None when it kept its own, or had none). The species it is already changes nothing. Raises Refused
    for a person's face, or a kind that is not a pet's; ServerBusy (nothing changed) when no analysis slot freed."""
    other = species_to_set(detection)
    if kind == detection.kind:
        return None
    if kind != other:
        raise Refused(Phrase(N_("The species is one of %(kinds)s."), kinds=", ".join(PET_KINDS)))
    reading = owners_reading(detection.analysis, detection.box, other) if detection.kind_read is None else None
    changing(detection.analysis, detection)  # after the reading, which may have waited: what others changed meanwhile
    if detection.kind == kind:  # another request made it so: its reading job stands
        db.session.rollback()
        return None
    if detection.kind_read is None:
        overrule(detection, other, reading)
    else:
        give_back(detection)
    left = detection.subject if detection.subject is not None and not fits(detection.subject, detection) else None
    if left is not None:
        detection.subject = None
    analyses.set_top_emotion(detection.analysis)
    db.session.commit()
    storage.remove_files(list(storage.explanation_paths(detection.analysis.stored_name, detection.position).values()))
    if track_readings.wanted(detection):
        track_readings.start(detection)
    return left


def owners_reading(analysis: Analysis, box: list[int], kind: DetectionKind) -> Classified | None:
    """A photo's pet's reading as the species its owner gave it, by that species' model; None for a species without
    one, a video's track (its frames are read by a job: services/track_readings.py), or a photo whose file is gone or
    unreadable. Raises ServerBusy when every analysis slot stayed busy."""
    if analysis.media != Media.IMAGE or kind not in EMOTION_CLASSES:
        return None
    try:
        return analyses.read_photo_as(analysis, box, kind)
    except ServerBusy:
        raise
    except (OSError, MediaError):
        return None


def overrule(detection: Detection, kind: DetectionKind, reading: Classified | None) -> None:
    """Keep the models' species and reading, and make the detection `kind` with `reading` (`owners_reading`; None: no
    emotions)."""
    detection.models_reading = {column: getattr(detection, column) for column in MODELS_READING_COLUMNS}
    detection.kind_read, detection.kind = detection.kind, kind
    unread(detection)
    if reading is not None:
        take_reading(detection, reading)


def take_reading(detection: Detection, reading: Classified) -> None:
    """Store `reading` (a photo's pet read as the species its owner gave it) as the detection's."""
    detection.emotions, detection.top, detection.uncertainty = reading.emotions, reading.top, reading.uncertainty
    detection.uncertain, detection.unsure_signals = reading.uncertain, reading.unsure_signals
    detection.keep_reading()


def read_waiting(analysis: Analysis) -> None:
    """Read the pets of a new result ("Analyse again") that wait for their owner's species' reading (`waiting`): a
    video's tracks by their jobs; a photo's now, as `set_species` reads one (its owner set it while the job ran,
    after the photo was read for the species it had; `track_readings.waiting`). One the server is too busy to read
    stays without emotions."""
    if analysis.media == Media.VIDEO:
        track_readings.start_wanted(analysis)
        return
    for detection in [found for found in analysis.detections if track_readings.waiting(found)]:
        kind = detection.kind
        try:
            reading = owners_reading(analysis, detection.box, kind)
            changing(analysis, detection)
        except (ServerBusy, NotFound):  # too busy; or deleted meanwhile
            db.session.rollback()
            continue
        if reading is not None and track_readings.waiting(detection) and detection.kind == kind:
            take_reading(detection, reading)
            analyses.set_top_emotion(analysis)
        db.session.commit()


def give_back(detection: Detection) -> None:
    """The species and reading the models gave it, as they were before its owner said otherwise."""
    for column, value in (detection.models_reading or {}).items():
        setattr(detection, column, value)
    detection.kind, detection.kind_read, detection.models_reading = detection.kind_read, None, None
    detection.explanation = None
    detection.keep_reading()


def unread(detection: Detection) -> None:
    """Take its reading away, as an animal without an emotion model is stored: no probabilities, no top emotion, no
    story or changes (a video track keeps its boxes and time seen), no kept reading, no "Why?"."""
    detection.emotions, detection.top = {}, None
    detection.uncertainty = detection.uncertain = detection.unsure_signals = None
    if detection.summary is not None:
        detection.timeline = [{**point, "emotions": {}, "uncertain": None} for point in detection.timeline or []]
        detection.summary = {**detection.summary, "dominant": None, "share": {}, "mean": {}}
        detection.transitions = []
    detection.keep_reading()
    detection.explanation = None

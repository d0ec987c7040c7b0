"""The owner's word on a pet's species: a cat the models took for a dog (a black kitten read as a puppy, say), or the
other way round, is set right by hand, in a photo or as a whole video track. The detection becomes the other species
everywhere (its title and box label, its history, dashboards, exports and the API); the reading the other species'
model made goes, since that model read the wrong animal, and none is made in its place (cats have no emotion model; a
dog set by hand stays without a reading rather than being read again); it leaves its subject when that is one of the
other species. The species the models read stays in `Detection.kind_read`, so that analysing the file again keeps
the owner's word (services/reanalysis.py)."""

from __future__ import annotations

from extensions import db
from inference.labels import DetectionKind
from messages import N_, Phrase
from models import Detection, Subject
from services import analyses
from services.errors import Refused
from services.subjects import fits

PET_KINDS = (DetectionKind.DOG, DetectionKind.CAT)


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
    """Make the pet the other species (`kind`, as a client sent it) by its owner's word: its reading goes, and it
    leaves a subject of the species it no longer is; returns that subject (None when it kept its own, or had none).
    The species it is already changes nothing. Raises Refused for a person's face, or a kind that is not a pet's."""
    other = species_to_set(detection)
    if kind == detection.kind:
        return None
    if kind != other:
        raise Refused(Phrase(N_("The species is one of %(kinds)s."), kinds=", ".join(PET_KINDS)))
    detection.kind_read = detection.kind_read or detection.kind
    detection.kind = other
    unread(detection)
    left = detection.subject if detection.subject is not None and not fits(detection.subject, detection) else None
    if left is not None:
        detection.subject = None
    analyses.set_top_emotion(detection.analysis)
    db.session.commit()
    return left


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

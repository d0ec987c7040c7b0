"""How the pages read one appearance, and what a photo or a video shows overall.

A photo's face (or animal) is read by its probabilities, a video track by its story (insights/clip.py): its
emotion is, of those the story tells, the one most of its frames had, worded "unsure" or "probably" as the story
is. Dashboards, insights, alerts, weekly reports, exports and the history's badges all read appearances here, so
none of them names another emotion, or is surer, than the result page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from inference.labels import Certainty, DetectionKind, Reading, reading_certainty
from insights.clip import track_story

SURENESS = (Certainty.UNSURE, Certainty.PROBABLY, Certainty.SURE)  # least sure first


def reading_of(top: str | None, emotions: dict[str, float], uncertain: bool | None,
               uncertainty: float | None = None, timeline: list[dict] | None = None,
               summary: dict | None = None) -> Reading | None:
    """A stored detection's reading (None without an emotion model): a video track's (the one with a `summary`)
    by its story, told from its `timeline`; a photo's by its top probability and the uncertainty rule's flag."""
    if top is None:
        return None
    story = None if summary is None else track_story(timeline, summary["share"], uncertain, uncertainty)
    if story is not None:
        return story.reading
    # a photo's detection, or a track without frames (its mean)
    return Reading(top, reading_certainty(emotions[top], uncertain), emotions, emotions[top])


def kept_reading(emotion: str | None, certainty: str | None, mix: dict[str, float] | None,
                 confidence: float | None = None) -> Reading | None:
    """A reading as it was kept when its analysis was stored (None where none was kept)."""
    return None if emotion is None else Reading(emotion, Certainty(certainty), mix, confidence)


@dataclass(frozen=True)
class Overall:
    """What a photo or video shows overall: the emotion most of its faces show, as sure as the least sure of
    them; `emotion` None when they disagree ("mixed")."""

    emotion: str | None
    certainty: Certainty | None

    @property
    def mixed(self) -> bool:
        return self.emotion is None


def overall_reading(readings: list[tuple[str, Reading | None]]) -> Overall | None:
    """What the (kind, reading) of a photo's or video's detections show together (None when none has a reading):
    the people's (`overall_by_kind`) where there are any, else those of the first kind read."""
    by_kind = overall_by_kind(readings)
    return by_kind.get(DetectionKind.HUMAN) or next(iter(by_kind.values()), None)


def overall_by_kind(readings: list[tuple[str, Reading | None]]) -> dict[str, Overall]:
    """What the readings of each kind show together (`together`), for the kinds read, in the order first read: a
    person happy beside a sad dog is both."""
    by_kind: dict[str, list[Reading]] = {}
    for kind, reading in readings:
        if reading is not None:
            by_kind.setdefault(kind, []).append(reading)
    return {kind: together(of_kind) for kind, of_kind in by_kind.items()}


def together(of_kind: list[Reading]) -> Overall:
    """What some readings show together: of them, the ones the cards do not call unsure when there are any; the
    emotion more than half of those show, worded as the least sure of them; "mixed" when no emotion has more than
    half (a face read "probably happy" beside one read "probably neutral" is neither)."""
    counted = [reading for reading in of_kind if not reading.unsure] or of_kind
    emotion, count = Counter(reading.emotion for reading in counted).most_common(1)[0]
    if 2 * count <= len(counted):
        return Overall(None, None)
    return Overall(emotion, min((reading.certainty for reading in counted if reading.emotion == emotion),
                                key=SURENESS.index))

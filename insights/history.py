"""A subject's emotion history: one probability vector per appearance, oldest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import numpy as np

from messages import N_, Phrase


ADJECTIVES = {"angry": "angry", "disgust": "disgusted", "fear": "fearful", "happy": "happy", "sad": "sad",
              "surprise": "surprised", "neutral": "neutral", "relaxed": "relaxed",
              "other": "in another mood"}  # in English, as the API words them (the pages: web/i18n.py)


class Mood(str):
    """An emotion as a mix's description words it ("mostly surprised, some sad"): its text the English adjective,
    `emotion` its id (pages say it in the reader's words: web/i18n.py MOOD_NAMES)."""

    emotion: str

    def __new__(cls, emotion: str) -> Mood:
        mood = super().__new__(cls, ADJECTIVES.get(emotion, emotion))
        mood.emotion = emotion
        return mood


def instant(moment: datetime) -> datetime:
    """A time to order and compare by: an aware one as naive UTC (two times in one zone compare by their wall
    clocks in Python, so the hour a fall-back repeats would be out of order), a naive one as it is."""
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def days_before(moment: datetime, days: int) -> datetime:
    """`days` times 24 hours before `moment`, on its clock."""
    if moment.tzinfo is None:
        return moment - timedelta(days=days)
    return (moment.astimezone(UTC) - timedelta(days=days)).astimezone(moment.tzinfo)


class Direction(StrEnum):
    """Which way a subject differs, or changed, in an emotion: more of it, or less."""

    MORE = "more"
    LESS = "less"

    @classmethod
    def of(cls, difference: float) -> Direction:
        return cls.MORE if difference > 0 else cls.LESS


@dataclass(frozen=True)
class History:
    classes: tuple[str, ...]
    times: list[datetime]  # on the owner's clock (aware), or naive
    vectors: np.ndarray  # (n, classes), rows sum to 1
    analysis_ids: list[int]
    unsure: list[bool] = field(default_factory=list)  # per appearance: the pages call it unsure (empty: none)

    @classmethod
    def from_rows(cls, classes: tuple[str, ...], rows: list[tuple]) -> History:
        """Build from (time, {emotion: probability}, analysis id[, unsure]) rows in any order; missing
        emotions count 0, a missing or null flag as not unsure (analyses made before the rule)."""
        rows = sorted(rows, key=lambda row: instant(row[0]))
        vectors = np.array([[row[1].get(label, 0.0) for label in classes] for row in rows],
                           dtype=np.float64).reshape(len(rows), len(classes))
        totals = vectors.sum(1, keepdims=True)
        vectors = np.divide(vectors, totals, out=np.zeros_like(vectors), where=totals > 0)
        return cls(classes, [row[0] for row in rows], vectors, [row[2] for row in rows],
                   [bool(row[3]) if len(row) > 3 else False for row in rows])

    def __len__(self) -> int:
        return len(self.times)

    @property
    def tops(self) -> np.ndarray:
        return self.vectors.argmax(1)

    @property
    def flagged(self) -> list[bool]:
        """Per appearance, whether its reading is unsure (flagged by the rule, or weak: as its page words it)."""
        return self.unsure or [False] * len(self.times)

    def sure(self) -> History:
        """The appearances whose reading is sure: what sentences about the subject are built on."""
        keep = [index for index, unsure in enumerate(self.flagged) if not unsure]
        return History(self.classes, [self.times[i] for i in keep], self.vectors[keep],
                       [self.analysis_ids[i] for i in keep], [False] * len(keep))

    @property
    def unsure_count(self) -> int:
        return sum(self.flagged)


def describe_mix(classes: tuple[str, ...], mix: np.ndarray) -> Phrase:
    """Plain words for an emotion mix: "mostly relaxed, some happy", "a mix of sad, angry and happy"."""
    order = np.argsort(-mix)
    first, second = Mood(classes[order[0]]), Mood(classes[order[1]])
    if mix[order[0]] >= 0.6:
        if mix[order[1]] >= 0.15:
            return Phrase(N_("mostly %(first)s, some %(second)s"), first=first, second=second)
        return Phrase(N_("mostly %(first)s"), first=first)
    if mix[order[0]] >= 0.4:
        return Phrase(N_("often %(first)s, also %(second)s"), first=first, second=second)
    return Phrase(N_("a mix of %(first)s, %(second)s and %(third)s"), first=first, second=second,
                  third=Mood(classes[order[2]]))

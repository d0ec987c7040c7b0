"""What a detection is (DetectionKind), the emotion label sets shared by training and inference, and the
wording thresholds.

The order of each tuple is the order of that classifier's output units.
"""

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class DetectionKind(StrEnum):
    """What a detector found: a human face, a dog or a cat (stored as these strings)."""

    HUMAN = "human"
    DOG = "dog"
    CAT = "cat"


HUMAN_EMOTIONS: tuple[str, ...] = (
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
)

# The dog photos we train on (sumit-158/Dog-emotion-images) carry these four labels.
DOG_EMOTIONS: tuple[str, ...] = ("angry", "happy", "relaxed", "sad")

# The cat photos we train on (the Kaggle "Pet's Facial Expression" images, cats only) carry these four;
# "other" is the set's own name for photos that show none of the three.
CAT_EMOTIONS: tuple[str, ...] = ("angry", "happy", "sad", "other")

# Every label a detection can carry, for dashboards and exports.
ALL_EMOTIONS: tuple[str, ...] = tuple(dict.fromkeys(HUMAN_EMOTIONS + DOG_EMOTIONS + CAT_EMOTIONS))

# How pages word a prediction, by its calibrated top probability (the only place these live):
# below UNSURE_BELOW "unsure, perhaps happy"; below PROBABLY_BELOW "probably happy"; else "happy".
UNSURE_BELOW = 0.5
PROBABLY_BELOW = 0.8
UNSURE_FROM_CHANCE = 0.5  # from this estimated chance of a wrong reading, pages call it unsure (as About says)


class Certainty(StrEnum):
    """How pages word a reading's top emotion: "unsure, perhaps happy", "probably happy" or "happy"."""

    UNSURE = "unsure"
    PROBABLY = "probably"
    SURE = "sure"


@dataclass(frozen=True)
class Reading:
    """One appearance's reading as its card words it: its emotion, how sure, the mix of emotions behind it (a
    photo's probabilities; a video track's share of the clip as its story tells it), summing to 1, and the
    probability its certainty words (`confidence`: a photo's top probability; a video track's, the mean probability
    of the emotions its story tells, weighted by time; None for a reading kept before it was)."""

    emotion: str
    certainty: Certainty
    mix: dict[str, float]
    confidence: float | None = None

    @property
    def unsure(self) -> bool:
        return self.certainty == Certainty.UNSURE


def shown_percent(probability: float) -> int:
    """The whole percent pages show for a probability: rounded half to even from its decimal text, as Babel's
    format_percent rounds it (0.7993 shows as 80%)."""
    return round(Decimal(str(float(probability))) * 100)


def certainty(top_probability: float) -> Certainty:
    """The wording for a calibrated top probability, by the percent shown beside it: 0.7993 reads "happy (80%)" as
    0.8 does, never "probably happy (80%)" beside another "happy (80%)"; 0.4969 reads "probably (50%)"."""
    shown = shown_percent(top_probability)
    if shown < shown_percent(UNSURE_BELOW):
        return Certainty.UNSURE
    return Certainty.PROBABLY if shown < shown_percent(PROBABLY_BELOW) else Certainty.SURE


def reading_certainty(top_probability: float, flagged: bool | None) -> Certainty:
    """How a stored reading is worded: unsure when the uncertainty rule flagged it, else by its top probability."""
    return Certainty.UNSURE if flagged else certainty(top_probability)

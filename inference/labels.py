"""Emotion label sets shared by training and inference, and the wording threshold.

The order of each tuple is the order of that classifier's output units.
"""

HUMAN_EMOTIONS: tuple[str, ...] = (
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
)

# The dog photos we train on (sumit-158/Dog-emotion-images) carry these four labels.
DOG_EMOTIONS: tuple[str, ...] = ("angry", "happy", "relaxed", "sad")

# Every label a detection can carry, for dashboards and exports (cats have no emotion model yet).
ALL_EMOTIONS: tuple[str, ...] = HUMAN_EMOTIONS + tuple(e for e in DOG_EMOTIONS if e not in HUMAN_EMOTIONS)

# Below this top probability the pages say "unsure" instead of naming the emotion outright.
UNSURE_BELOW = 0.5

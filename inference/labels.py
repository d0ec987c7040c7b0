"""Emotion label sets shared by training and inference.

The order of each tuple is the order of the classifier's output units.
"""

HUMAN_EMOTIONS: tuple[str, ...] = (
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
)

# The dog photos we train on (sumit-158/Dog-emotion-images) carry these four labels.
DOG_EMOTIONS: tuple[str, ...] = ("angry", "happy", "relaxed", "sad")

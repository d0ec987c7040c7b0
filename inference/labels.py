"""Emotion label sets shared by training and inference.

The order of each tuple is the order of the classifier's output units.
"""

HUMAN_EMOTIONS: tuple[str, ...] = (
    "angry", "disgust", "fear", "happy", "sad", "surprise", "neutral",
)

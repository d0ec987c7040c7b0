"""Cat emotion: the dog model's network and pre-processing (inference/dog_emotion.py: a frozen ImageNet
EfficientNet-Lite0 and a linear head on the square crop of the detector's box) with a head trained on
cats by `python -m training.cats`.

The head ships only when its cross-validated test macro-F1 reaches 0.5 (inference/weights/README.md);
without the file cats are boxed with no emotions and no top label.
"""

from __future__ import annotations

from inference.backends import DEFAULT_BACKEND
from inference.dog_emotion import DogEmotionClassifier
from inference.specs import CAT_HEAD_WEIGHTS


def cat_emotion_classifier(device: str, backend: str = DEFAULT_BACKEND) -> DogEmotionClassifier | None:
    """The cat classifier, or None when no cat head ships."""
    return DogEmotionClassifier(CAT_HEAD_WEIGHTS, device, backend) if CAT_HEAD_WEIGHTS.is_file() else None

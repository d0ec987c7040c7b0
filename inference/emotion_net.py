"""A compact VGG-style CNN for 48x48 grayscale face crops.

Small enough to train on a CPU and to run in a few milliseconds per face,
wide enough to reach FER2013-level accuracy with long training.
"""

from __future__ import annotations

import torch
from torch import nn

from inference.classifiers import FACE_INPUT_SIZE as INPUT_SIZE
from inference.classifiers import PIXEL_MEAN, PIXEL_STD


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


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Scale a float batch in [0, 1] to the range the network was trained on."""
    return (images - PIXEL_MEAN) / PIXEL_STD


def save_weights(model: EmotionNet, path: str, classes: tuple[str, ...], metadata: dict) -> None:
    """Write the inference weights (float16 to halve the file) with what is needed to rebuild the network."""
    state = {name: tensor.half() if tensor.is_floating_point() else tensor
             for name, tensor in model.state_dict().items()}
    torch.save(
        {
            "state_dict": state,
            "widths": list(model.widths),
            "classes": list(classes),
            "input_size": INPUT_SIZE,
            "metadata": metadata,
        },
        path,
    )


def load_weights(path: str, device: str | torch.device = "cpu") -> tuple[EmotionNet, tuple[str, ...], dict]:
    """Rebuild an EmotionNet from a file written by save_weights, in eval mode."""
    stored = torch.load(path, map_location=device, weights_only=True)
    classes = tuple(stored["classes"])
    model = EmotionNet(num_classes=len(classes), widths=tuple(stored["widths"]))
    model.load_state_dict(stored["state_dict"])  # copies float16 values into the float32 parameters
    return model.to(device).eval(), classes, stored.get("metadata", {})


@torch.inference_mode()
def predict_probabilities(model: nn.Module, images: torch.Tensor, flip_tta: bool = True) -> torch.Tensor:
    """Softmax probabilities for a float batch (N, 1, 48, 48) in [0, 1].

    With flip_tta the logits of the image and its mirror are averaged
    (test-time augmentation; faces are left-right symmetric in meaning).
    """
    inputs = normalize(images)
    if flip_tta:
        inputs = torch.cat([inputs, inputs.flip(-1)])
    logits = model(inputs).float()
    if flip_tta:
        logits = logits.view(2, images.shape[0], -1).mean(0)
    return logits.softmax(1)

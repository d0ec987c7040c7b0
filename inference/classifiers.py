"""The emotion classifier: batched probabilities for grayscale face crops."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from inference.emotion_net import INPUT_SIZE, load_weights, predict_probabilities

WEIGHTS_DIR = Path(__file__).parent / "weights"
HUMAN_WEIGHTS = WEIGHTS_DIR / "emotion_fer2013.pt"


class EmotionClassifier:
    """Wraps a trained EmotionNet; one forward pass (with flip TTA) per batch of crops."""

    def __init__(self, weights: Path, device: torch.device, flip_tta: bool = True):
        self.model, self.classes, metadata = load_weights(str(weights), device)
        self.device = device
        self.flip_tta = flip_tta
        self.input_size = INPUT_SIZE
        self.name = f"emotionnet-vgg-{weights.stem} (epoch {metadata.get('epoch', '?')})"

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) for uint8 crops (N, 48, 48); rows sum to 1."""
        if len(crops) == 0:
            return np.zeros((0, len(self.classes)), dtype=np.float32)
        batch = torch.from_numpy(crops).to(self.device).unsqueeze(1).float().div_(255)
        probabilities = predict_probabilities(self.model, batch, self.flip_tta)
        return probabilities.cpu().numpy().astype(np.float64)

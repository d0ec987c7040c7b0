"""Where each model's weights live and what input each network expects: a leaf module (it imports
nothing of the project), shared by the networks, their runners, training, export and the benches."""

from __future__ import annotations

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
ONNX_DIR = WEIGHTS_DIR / "onnx"  # ONNX Runtime copies of the torch networks (training.export writes them)
HUMAN_WEIGHTS = WEIGHTS_DIR / "emotion_fer2013.pt"
DOG_HEAD_WEIGHTS = WEIGHTS_DIR / "dog_emotion_head.pt"
CAT_HEAD_WEIGHTS = WEIGHTS_DIR / "cat_emotion_head.pt"  # shipped only when good enough (weights/README.md)
PET_HEAD_WEIGHTS = WEIGHTS_DIR / "pet_head_box.pt"  # the pets' head-box regressor (training/pet_heads.py)
PET_SPECIES_WEIGHTS = WEIGHTS_DIR / "pet_species.json"  # the dog-or-cat probe (training/pet_species.py)
PET_WEIGHTS = WEIGHTS_DIR / "ssd_mobilenet_v2_coco"  # unpacked by scripts/fetch_weights.py

# Face networks: (N, 1, 48, 48) gray crops, (pixel / 255 - PIXEL_MEAN) / PIXEL_STD.
FACE_INPUT_SIZE = 48
PIXEL_MEAN = 0.5
PIXEL_STD = 0.25

# ImageNet backbones (EfficientNet-Lite0): RGB crops, ImageNet statistics, 1280 pooled features.
PET_INPUT_SIZE = 224
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
BACKBONE_FEATURES = 1280

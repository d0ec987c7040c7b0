"""The COCO SSD-MobileNet-v2 cut down to the classes Moodlens asks for: background, cat and dog.

Half of the SSD's time goes into its class predictors, six 3x3 convolutions that score 91 COCO
classes for every anchor box. The scores are independent sigmoids, so keeping only the rows of
the classes we read changes none of their values. The frozen TensorFlow graph is edited as
bytes (no TensorFlow needed): pruned copies of the predictors' weights are appended to the
GraphDef as new constants (appending to a repeated protobuf field is concatenation), and the
text graph that OpenCV reads points the predictors at them, with num_classes 3.
"""

from __future__ import annotations

import re

import cv2
import numpy as np

from inference.labels import DetectionKind

COCO_CLASSES = 91
KEPT_CLASSES = {17: DetectionKind.CAT, 18: DetectionKind.DOG}  # COCO ids
PET_LABELS = {1: DetectionKind.CAT, 2: DetectionKind.DOG}  # the pruned net's labels (0 is background)
PREDICTORS = 6
DT_FLOAT = 1  # TensorFlow's DataType enum


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes | int) -> bytes:
    """A protobuf field: an int as a varint (wire type 0), bytes as length-delimited (wire type 2)."""
    if isinstance(payload, int):
        return _varint(number << 3) + _varint(payload)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def const_node(name: str, values: np.ndarray) -> bytes:
    """A GraphDef `node` entry holding a float32 Const, as serialised protobuf bytes."""
    shape = b"".join(_field(2, _field(1, size)) for size in values.shape)  # TensorShapeProto.dim.size
    tensor = _field(1, DT_FLOAT) + _field(2, shape) + _field(4, np.ascontiguousarray(values, "<f4").tobytes())
    attributes = (_field(5, _field(1, b"dtype") + _field(2, _field(6, DT_FLOAT)))  # AttrValue.type
                  + _field(5, _field(1, b"value") + _field(2, _field(8, tensor))))  # AttrValue.tensor
    return _field(1, _field(1, name.encode()) + _field(2, b"Const") + attributes)


def kept_channels(anchors: int) -> list[int]:
    """Output channels of a class predictor that score background, cat and dog, anchor by anchor."""
    return [anchor * COCO_CLASSES + label for anchor in range(anchors) for label in (0, *KEPT_CLASSES)]


def pets_only_net(graph: bytes, config: str) -> cv2.dnn.Net:
    """The SSD with its class predictors pruned to background, cat and dog."""
    full = _read(graph, config)
    extra = b""
    for index in range(PREDICTORS):
        prefix = f"BoxPredictor_{index}/ClassPredictor"
        weights, biases = full.getLayer(full.getLayerId(f"{prefix}/Conv2D")).blobs  # OIHW, bias fused
        kept = kept_channels(weights.shape[0] // COCO_CLASSES)
        extra += const_node(f"{prefix}/pets_weights", weights[kept].transpose(2, 3, 1, 0))  # TensorFlow's HWIO
        extra += const_node(f"{prefix}/pets_biases", biases.reshape(-1)[kept])
        config = config.replace(f'input: "{prefix}/weights"', f'input: "{prefix}/pets_weights"')
        config = config.replace(f'input: "{prefix}/biases"', f'input: "{prefix}/pets_biases"')
    config, replaced = re.subn(r'(key: "num_classes"\s*value \{\s*i: )91', rf"\g<1>{1 + len(KEPT_CLASSES)}", config)
    if replaced != 1:
        raise ValueError("unexpected SSD text graph: no num_classes 91")
    return _read(graph + extra, config)


def _read(graph: bytes, config: str) -> cv2.dnn.Net:
    return cv2.dnn.readNetFromTensorflow(np.frombuffer(graph, np.uint8), np.frombuffer(config.encode(), np.uint8))

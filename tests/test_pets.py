"""Pets: the dog/cat detector on real photos, and the dog-emotion data cleaning and model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata

from inference.crops import rgb_crops
from inference.detectors import SSDPetDetector
from inference.dog_emotion import DOG_HEAD_WEIGHTS, INPUT_SIZE, DogEmotionClassifier
from training.dogs import clean, difference_hashes, near_duplicate_groups, split_indices


@pytest.fixture(scope="module")
def pet_detector() -> SSDPetDetector:
    return SSDPetDetector()


def test_finds_the_cat_in_chelsea_and_no_pet_in_people_or_coffee(pet_detector):
    cat = skdata.chelsea()
    found = pet_detector.detect(cat)
    assert [d.kind for d in found] == ["cat"]
    x1, y1, x2, y2 = found[0].box
    assert x1 < 120 and x2 > 300 and y1 < 60 and y2 > 250  # the cat's head and body, at x 100-300, y 50-250
    assert pet_detector.detect(skdata.astronaut()) == [] and pet_detector.detect(skdata.coffee()) == []


def test_batch_keeps_frames_apart(pet_detector):
    cat, coffee = skdata.chelsea(), np.asarray(Image.fromarray(skdata.coffee()).resize((451, 300)))
    batched = pet_detector.detect_batch([coffee, cat, coffee])
    assert [len(found) for found in batched] == [0, 1, 0]
    assert batched[1][0].box == pytest.approx(pet_detector.detect(cat)[0].box, abs=0.5)


def test_two_cats_side_by_side_are_two_detections(pet_detector):
    cat = skdata.chelsea()
    found = pet_detector.detect(np.concatenate([cat, cat[:, ::-1]], axis=1))
    assert [d.kind for d in found] == ["cat", "cat"] and found[0].box[2] <= found[1].box[0] + 40


def test_near_duplicate_groups_match_within_three_bits_and_mirror_images():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 2**63, size=6, dtype=np.uint64)
    near = base[0] ^ np.uint64((1 << 3) | (1 << 30) | (1 << 62))
    far = base[1] ^ np.uint64((1 << 3) | (1 << 20) | (1 << 30) | (1 << 50) | (1 << 62))
    hashes = np.array([[b, ~b] for b in base] + [[near, ~near], [far, ~far], [~base[2], base[2]]], dtype=np.uint64)
    groups = near_duplicate_groups(hashes, 3)
    assert groups[6] == groups[0] and groups[7] != groups[1] and groups[8] == groups[2]
    assert len(set(groups.tolist())) == 7


def test_cleaning_drops_conflicts_keeps_one_of_each_duplicate_and_skips_unreadable(tmp_path):
    rng = np.random.default_rng(1)
    pictures = [rng.integers(0, 255, (64, 64, 3), dtype=np.uint8) for _ in range(4)]
    files = {"a.jpg": pictures[0], "a-copy.jpg": pictures[0], "b.jpg": pictures[1], "b-mirror.jpg": pictures[1][:, ::-1],
             "c.jpg": pictures[2], "d.jpg": pictures[3]}
    paths = []
    for name, rgb in files.items():
        Image.fromarray(rgb).save(tmp_path / name, quality=95)
        paths.append(tmp_path / name)
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    paths.append(tmp_path / "broken.jpg")
    labels = np.array([0, 0, 1, 2, 1, 0, 1])  # b and its mirror image disagree
    kept, removed = clean(paths, labels, [difference_hashes(p) for p in paths], 3)
    assert [paths[i].name for i in kept] == ["a-copy.jpg", "c.jpg", "d.jpg"]
    assert removed == {"unreadable": 1, "label conflicts (photos)": 2, "near-duplicates": 1}
    splits = split_indices(labels, kept, per_class=0, seed=0)
    assert sorted(np.concatenate(list(splits.values())).tolist()) == kept


@pytest.mark.skipif(not DOG_HEAD_WEIGHTS.exists(), reason="the dog-emotion head is not trained yet")
def test_dog_emotion_probabilities_are_valid_and_depend_on_the_picture():
    classifier = DogEmotionClassifier(DOG_HEAD_WEIGHTS, torch.device("cpu"))
    cat = skdata.chelsea()
    crops = np.concatenate([rgb_crops(cat, [(100, 20, 330, 280)], INPUT_SIZE),
                            rgb_crops(skdata.coffee(), [(100, 50, 400, 350)], INPUT_SIZE)])
    probabilities = classifier.predict(crops)
    assert probabilities.shape == (2, len(classifier.classes))
    np.testing.assert_allclose(probabilities.sum(1), 1, atol=1e-6)
    assert np.abs(probabilities[0] - probabilities[1]).max() > 1e-3
    np.testing.assert_allclose(classifier.predict(crops[:1]), probabilities[:1], atol=1e-5)

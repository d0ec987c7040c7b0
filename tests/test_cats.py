"""Cats: the pipeline's cat reading (from the shipped cat head, or none without one) and the cleaning and
splitting steps of training.cats."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from skimage import data as skdata

from inference.crops import rgb_crops
from inference.images import decode_image
from inference.labels import ALL_EMOTIONS, CAT_EMOTIONS
from inference.pipeline import get_pipeline
from inference.specs import CAT_HEAD_WEIGHTS, PET_INPUT_SIZE
from tests.conftest import jpeg_bytes
from training.cats import Found, cats_in, near_duplicate_links, same_source, stratified_folds
from training.near_copies import one_per_group

CAT_MODEL_SHIPS = CAT_HEAD_WEIGHTS.is_file()


def test_cat_emotions_are_dashboard_labels():
    assert set(CAT_EMOTIONS) <= set(ALL_EMOTIONS) and len(set(ALL_EMOTIONS)) == len(ALL_EMOTIONS)


def test_chelsea_gets_the_cat_models_reading_or_none_without_one():
    pipeline = get_pipeline()
    photo = jpeg_bytes(skdata.chelsea())
    cats = [d for d in pipeline.analyze_bytes(photo).detections if d.kind == "cat"]
    assert len(cats) == 1
    cat = cats[0]
    if not CAT_MODEL_SHIPS:
        assert cat.emotions == {} and cat.top is None and pipeline.cat_classifier is None
        return
    assert list(cat.emotions) == list(CAT_EMOTIONS) and cat.top == max(cat.emotions, key=cat.emotions.get)
    assert sum(cat.emotions.values()) == pytest.approx(1.0, abs=1e-5)
    rgb = decode_image(photo).rgb
    box = pipeline.pet_detector.detect(rgb)[0].box
    crops = np.concatenate([rgb_crops(rgb, [box], PET_INPUT_SIZE), rgb_crops(skdata.coffee(), [box], PET_INPUT_SIZE)])
    direct = pipeline.cat_classifier.predict(crops)
    np.testing.assert_allclose(list(cat.emotions.values()), direct[0], atol=2e-6)  # the model's own output
    assert np.abs(direct[0] - direct[1]).max() > 1e-3  # and it depends on the picture
    assert "cat_emotion_head" in pipeline.models["classifier"]


def test_augmented_copies_are_linked_to_their_source_in_the_same_folder_only():
    paths = [Path("train/Happy/012.jpg"), Path("train/Happy/aug-3-012.jpg"), Path("test/Happy/012.jpg"),
             Path("train/Sad/aug-7-012.jpg")]
    groups = same_source(paths, r"aug-\d+-(?P<source>.+)")
    assert groups[0] == groups[1] and len(set(groups[[0, 2, 3]])) == 3


def test_links_join_sources_hashes_and_similar_features_and_conflicts_are_dropped():
    paths = [Path(f"train/{label}/{name}.jpg") for label, name in
             [("Angry", "001"), ("Angry", "aug-1-001"), ("Angry", "002"), ("Sad", "003"), ("Sad", "004"),
              ("Angry", "005")]]
    labels = np.array([0, 0, 0, 2, 2, 0])
    hashes = np.repeat(np.random.default_rng(0).integers(0, 2**63, 6, dtype=np.uint64)[:, None], 2, 1)  # far apart
    hashes[4] = hashes[3] ^ np.uint64(0b11)  # 2 bits from photo 3: a near-duplicate
    features = np.eye(6, 8)
    features[5] = features[2] + 0.1 * np.eye(1, 8, 7)[0]  # photo 5 looks like photo 2 ...
    features[2, 3] = 0.2  # ... and photo 2 a little like photo 3, not enough to link them
    args = argparse.Namespace(hamming=3, similarity=0.9, source_pattern=r"aug-\d+-(?P<source>.+)")
    groups = near_duplicate_links(paths, hashes, features, args)
    assert groups[0] == groups[1] and groups[3] == groups[4] and groups[2] == groups[5]
    assert len(set(groups)) == 3
    labels[4] = 1  # photos 3 and 4 now disagree: their group goes
    kept, removed = one_per_group(paths, labels, groups)
    assert kept.tolist() == [0, 2]
    assert removed == {"near-duplicates": 2, "label conflicts (photos)": 2}


def test_folds_are_stratified_and_cover_every_photo():
    labels = np.repeat([0, 1, 2, 3], [40, 12, 25, 7])
    fold = stratified_folds(labels, 5, seed=3)
    assert set(fold) == set(range(5))
    for label, count in zip(range(4), [40, 12, 25, 7]):
        sizes = np.bincount(fold[labels == label], minlength=5)
        assert sizes.max() - sizes.min() <= 1 and sizes.sum() == count


def test_only_domestic_cat_crops_are_used_and_the_rest_is_accounted_for():
    table = np.zeros((6, 4), dtype=np.float32)
    table[:, 0] = [Found.CAT, Found.CAT, Found.NO_PET, Found.NO_PET, Found.DOG, Found.UNREADABLE]
    table[:, 1] = [0.9, 0.2, 0.7, 0.1, 0.0, 0.0]
    used, tally = cats_in(table, 0.5)
    assert used.tolist() == [0, 2]
    assert tally["dog"] == 1 and tally["unreadable"] == 1 and tally["cat box: not a domestic cat (ImageNet)"] == 1
    assert sum(tally.values()) == len(table)

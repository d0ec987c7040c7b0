"""The colour member's measurement (training/face_colour.py): identity folds, the linear head, a tiny real run."""

from __future__ import annotations

import numpy as np
from PIL import Image

from tests.test_training import fake_split
from training import face_colour


def test_identity_folds_keep_each_person_in_one_fold_and_alternate_people():
    people = np.array(["Bo", "Al", "Bo", "Cy", "Al", "Di"])
    folds = face_colour.identity_folds(people)
    assert folds.tolist() == [1, 0, 1, 0, 0, 1]  # sorted: Al 0, Bo 1, Cy 0, Di 1


def test_the_head_learns_separable_features_and_reads_a_crop_with_its_mirror():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(7), 20)
    centres = rng.normal(0, 3, (7, 16))
    features = (centres[labels][:, None] + rng.normal(0, 0.5, (len(labels), 2, 16))).astype(np.float16)
    head = face_colour.train_head([(features, labels)], weight_decay=1e-3)
    log_probabilities = head.log_probabilities(features)
    np.testing.assert_allclose(np.exp(log_probabilities).sum(1), 1, atol=1e-6)
    assert (log_probabilities.argmax(1) == labels).mean() > 0.95
    swapped = features[:, ::-1]  # the mirror image's features first: the same reading
    np.testing.assert_allclose(head.log_probabilities(swapped), log_probabilities, atol=1e-4)


def write_face_set(root, astronaut) -> None:
    """Four people, two photos each, in two emotions: the astronaut photo, mirrored or darkened."""
    variants = {"Ann": (astronaut, astronaut[:, ::-1]), "Bea": (astronaut // 2 + 60, astronaut[:, ::-1] // 2),
                "Cat": (astronaut[40:, 60:], astronaut[:-40, :-60]), "Dee": (255 - (255 - astronaut) // 2, astronaut)}
    for index, (person, photos) in enumerate(variants.items()):
        folder = root / "calib" / ("happy", "neutral")[index % 2]
        folder.mkdir(parents=True, exist_ok=True)
        for number, rgb in enumerate(photos):
            Image.fromarray(np.ascontiguousarray(rgb)).save(folder / f"{person}_{number}.jpg")


def test_the_measurement_runs_on_a_tiny_set_through_the_app_and_caches_its_crops(tmp_path, astronaut, capsys):
    fake_split(tmp_path / "fer" / "train", 3, seed=1)
    fake_split(tmp_path / "fer" / "val", 2, seed=2)
    write_face_set(tmp_path / "faces", astronaut)
    arguments = ["--fer", str(tmp_path / "fer"), "--set", f"{tmp_path / 'faces'}:calib", "--size", "64",
                 "--blend", "0.5", "--cache", str(tmp_path / "cache")]
    face_colour.main(arguments)
    printed = capsys.readouterr().out
    assert "blend weight 0.5:" in printed
    assert "FER2013 val: macro-F1" in printed and f"{tmp_path / 'faces'}:calib: macro-F1" in printed
    assert "(8 faces)" in printed  # the astronaut's face found in every photo
    assert printed.count("temperature on all sets") == 2
    crops = [np.load(path) for path in (tmp_path / "cache").glob("crops-*.npz")]
    assert len(crops) == 1 and crops[0]["colour"].shape == (8, 64, 64, 3)
    assert sorted(set(crops[0]["people"])) == ["Ann", "Bea", "Cat", "Dee"]

"""bench.faces_paired: two weights files' readings of the same photos compared pair by pair."""

from __future__ import annotations

import numpy as np
import pytest

from bench import faces_paired


def readings(path, photos, labels, predictions, found) -> None:
    probabilities = np.full((len(labels), 7), 0.01)
    probabilities[np.arange(len(labels)), predictions] = 0.94
    np.savez_compressed(path, photos=np.array(photos), labels=np.array(labels), probabilities=probabilities,
                        face_found=np.array(found))


def test_the_change_is_measured_on_the_photos_both_read_with_a_bootstrap_interval(tmp_path, capsys):
    labels = [0, 1, 2, 3] * 10
    photos = [f"p{i}.jpg" for i in range(len(labels))]
    found = [True] * len(labels)
    found[0] = False  # the first model found no face in the first photo: left out of both
    readings(tmp_path / "before.npz", photos, labels, [3, 1, 2, 0] * 10, [True] * len(labels))
    readings(tmp_path / "after.npz", photos, labels, labels, found)
    faces_paired.main([str(tmp_path / "before.npz"), str(tmp_path / "after.npz")])
    printed = capsys.readouterr().out
    assert "39 photos with a face in both" in printed
    accuracy = next(line for line in printed.splitlines() if line.startswith("accuracy"))
    assert accuracy.startswith("accuracy: 0.5128 -> 1.0000 (change +0.4872, 95% +")  # 20 of 39 right before


def test_readings_of_different_photos_are_refused(tmp_path):
    readings(tmp_path / "a.npz", ["a.jpg"], [0], [0], [True])
    readings(tmp_path / "b.npz", ["b.jpg"], [0], [0], [True])
    with pytest.raises(SystemExit, match="different photos"):
        faces_paired.main([str(tmp_path / "a.npz"), str(tmp_path / "b.npz")])

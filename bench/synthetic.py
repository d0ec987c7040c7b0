"""Synthetic histories with known structure, for the tests and `python -m bench.insights`.

Each appearance's probability vector is drawn from a Dirichlet distribution around a mood's mix
(concentration `sharpness`), one appearance every `spacing_hours`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from insights.history import History
from inference.labels import DOG_EMOTIONS

START = datetime(2026, 1, 5, 9, 0)


def mood(classes: tuple[str, ...], weights: dict[str, float]) -> np.ndarray:
    mix = np.array([weights.get(label, 0.0) for label in classes]) + 0.02
    return mix / mix.sum()


def draw(rng: np.random.Generator, mixes: list[np.ndarray], sharpness: float = 30.0) -> np.ndarray:
    return np.stack([rng.dirichlet(mix * sharpness) for mix in mixes])


def history_from(vectors: np.ndarray, classes: tuple[str, ...], spacing_hours: float = 7.0) -> History:
    times = [START + timedelta(hours=spacing_hours * i) for i in range(len(vectors))]
    return History(classes, times, vectors, list(range(1, len(vectors) + 1)))


def clustered(rng: np.random.Generator, count: int, classes: tuple[str, ...] = DOG_EMOTIONS
              ) -> tuple[History, np.ndarray]:
    """Three planted moods, appearances in random order; returns the history and the true mood of each."""
    moods = [mood(classes, {"relaxed": 0.8, "happy": 0.2}), mood(classes, {"happy": 0.85}),
             mood(classes, {"angry": 0.6, "sad": 0.3})]
    truth = rng.integers(0, len(moods), count)
    return history_from(draw(rng, [moods[i] for i in truth]), classes), truth


def shifted(rng: np.random.Generator, count: int, shift: float, classes: tuple[str, ...] = DOG_EMOTIONS,
            at: float = 0.5) -> History:
    """A noisy stationary mood whose `sad` share grows by `shift` from fraction `at` of the history on
    (shift 0: no change at all)."""
    calm = mood(classes, {"relaxed": 0.45, "happy": 0.35, "sad": 0.1, "angry": 0.1})
    later = mood(classes, {"relaxed": 0.45 - shift / 2, "happy": 0.35 - shift / 2, "sad": 0.1 + shift, "angry": 0.1})
    change = int(count * at)
    return history_from(draw(rng, [calm] * change + [later] * (count - change), sharpness=8.0), classes)

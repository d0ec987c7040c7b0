"""Changes: has the subject's emotion mix shifted at some point in time? Reported only when significant.

The statistic scans every split point (each side at least MIN_SEGMENT of the history) and every
emotion for the largest standardised difference of means (a two-sample t statistic), so one test
covers all emotions and all split points. Its p-value comes from a permutation test: the time
order is shuffled PERMUTATIONS times (the whole probability vector moves together), which keeps
the family-wise false-alarm rate at ALPHA for a history with no change. Long histories are
averaged into at most MAX_BLOCKS consecutive blocks first, which keeps the test fast.
"""

from __future__ import annotations

import numpy as np

from insights.history import ADJECTIVES, Direction, History
from messages import N_, Phrase

MIN_FOR_CHANGES = 20
ALPHA = 0.01
PERMUTATIONS = 499
MAX_BLOCKS = 400
TEST_NAME = Phrase(N_("largest two-sample t statistic over all split points and emotions; permutation test "
                      "(%(shuffles)d shuffles of the time order)"), shuffles=PERMUTATIONS)


def blocks(vectors: np.ndarray, limit: int = MAX_BLOCKS) -> tuple[np.ndarray, np.ndarray]:
    """(block means, index of each block's first row): consecutive rows averaged into at most `limit` blocks."""
    starts = np.unique(np.linspace(0, len(vectors), min(limit, len(vectors)), endpoint=False).astype(int))
    return np.add.reduceat(vectors, starts) / np.diff(np.append(starts, len(vectors)))[:, None], starts


def scan(series: np.ndarray, min_segment: int) -> np.ndarray:
    """|t| for every split point (rows) and emotion (columns) of each series in a batch (P, n, k)."""
    n = series.shape[1]
    splits = np.arange(min_segment, n - min_segment + 1)
    totals = np.cumsum(series, axis=1)
    before = totals[:, splits - 1] / splits[None, :, None]
    after = (totals[:, -1:] - totals[:, splits - 1]) / (n - splits)[None, :, None]
    spread = series.std(1, keepdims=True) + 1e-9
    return np.abs(before - after) / (spread * np.sqrt(1 / splits + 1 / (n - splits))[None, :, None])


def change_point(history: History, seed: int = 0) -> dict:
    """The most significant shift in the emotion mix, with its evidence; `detected` only when p < ALPHA."""
    count = len(history)
    if count < MIN_FOR_CHANGES:
        return {"enough": False, "count": count, "needed": MIN_FOR_CHANGES}
    series, starts = blocks(history.vectors)
    min_segment = max(3, len(series) // 10)
    observed = scan(series[None], min_segment)[0]
    split, emotion = np.unravel_index(np.argmax(observed), observed.shape)
    rng = np.random.default_rng(seed)
    exceed = 0
    for chunk in np.array_split(np.arange(PERMUTATIONS), max(1, PERMUTATIONS * len(series) // 200_000)):
        shuffled = np.stack([series[rng.permutation(len(series))] for _ in chunk])
        exceed += int((scan(shuffled, min_segment).max((1, 2)) >= observed[split, emotion]).sum())
    p_value = (exceed + 1) / (PERMUTATIONS + 1)
    row = int(starts[split + min_segment])  # the first row after the split
    label = history.classes[emotion]
    before, after = history.vectors[:row, emotion], history.vectors[row:, emotion]
    return {"enough": True, "count": count, "detected": bool(p_value < ALPHA), "p_value": round(p_value, 4),
            "alpha": ALPHA, "test": TEST_NAME, "emotion": label, "adjective": ADJECTIVES.get(label, label),
            "direction": Direction.of(after.mean() - before.mean()),
            "since": history.times[row].replace(microsecond=0).isoformat(),  # on the owner's clock, with its offset
            "before": {"count": int(len(before)), "mean": round(float(before.mean()), 4)},
            "after": {"count": int(len(after)), "mean": round(float(after.mean()), 4)}}

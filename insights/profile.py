"""A subject's typical emotion mix, how sure we are of it, and how it compares with the owner's other subjects."""

from __future__ import annotations

import numpy as np

from insights.history import Direction, History, describe_mix
from messages import name_order

MIN_FOR_PROFILE = 3
NOTABLE_DIFFERENCE = 0.10  # a difference in mean probability worth a sentence


def profile(history: History, others: dict[str, History] | None = None) -> dict:
    """Mean probability per emotion with a 95% confidence interval (normal approximation), in words,
    and the emotion in which the subject differs most from the mean of the owner's other subjects (by name).
    Built from sure readings only (each History's `sure()`): "unsure" says how many were left out."""
    unsure = history.unsure_count
    history = history.sure()
    count = len(history)
    if count < MIN_FOR_PROFILE:
        return {"enough": False, "count": count, "needed": MIN_FOR_PROFILE, "unsure": unsure}
    mean = history.vectors.mean(0)
    half_width = 1.96 * history.vectors.std(0, ddof=1) / np.sqrt(count)
    low, high = np.clip(mean - half_width, 0, 1), np.clip(mean + half_width, 0, 1)
    mix = [{"emotion": label, "mean": round(float(mean[i]), 4), "low": round(float(low[i]), 4),
            "high": round(float(high[i]), 4)}
           for i, label in sorted(enumerate(history.classes), key=lambda item: -mean[item[0]])]
    sure_others = {name: other.sure() for name, other in (others or {}).items()}
    return {"enough": True, "count": count, "description": describe_mix(history.classes, mean), "mix": mix,
            "unsure": unsure, "comparison": compare(history.classes, mean, sure_others)}


def compare(classes: tuple[str, ...], mean: np.ndarray, others: dict[str, History]) -> dict | None:
    """The largest difference from the average mix of the other subjects with at least MIN_FOR_PROFILE
    appearances ("notable" when it is worth a sentence); each compared subject comes with its count, and those
    with fewer, but at least one, are listed as left out (one with no sure reading yet has nothing to compare).
    None when there is no other subject."""
    if not others:
        return None
    compared = {name: other for name, other in others.items() if len(other) >= MIN_FOR_PROFILE}
    found = {"others": sorted(compared, key=name_order),
             "counts": {name: len(other) for name, other in compared.items()},
             "left_out": [{"name": name, "count": len(others[name])} for name in sorted(others, key=name_order)
                          if name not in compared and len(others[name])], "needed": MIN_FOR_PROFILE}
    if not compared:
        return {"notable": False, **found}
    baseline = np.mean([other.vectors.mean(0) for other in compared.values()], axis=0)
    index = int(np.argmax(np.abs(mean - baseline)))
    difference = float(mean[index] - baseline[index])
    if abs(difference) < NOTABLE_DIFFERENCE:
        return {"notable": False, **found}
    return {"notable": True, "emotion": classes[index], "direction": Direction.of(difference),
            "subject": round(float(mean[index]), 4), "others_mean": round(float(baseline[index]), 4), **found}
